"""A scheduler's time limit: SIGTERM or SIGKILL to ``sample-frames --workers 2``.

No process of the run (parent, pool workers, multiprocessing's resource tracker) may be left
5 s later, and the rerun must resume and leave output byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from frame_videos import write_video

from zstvg.files.records import Sample
from zstvg.files.samples import write_samples

ZSTVG = Path(sys.executable).parent / "zstvg"
N_VIDEOS = 8
N_FRAMES = 250
# Every native frame stored (grid at the video's own 25 fps): ~250 JPEG writes per video, so
# the run lasts long enough to be interrupted in the middle.
SETTINGS = ["--set", "frames.grid_fps=25", "--set", "frames.max_grid_frames=250"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kill")
    rows = []
    for i in range(N_VIDEOS):
        video = write_video(root / f"v{i}.mp4", N_FRAMES, width=160, height=120, gop=25)
        rows.append(
            Sample(
                f"s{i}",
                f"v{i}",
                str(video),
                "a person",
                "declarative",
                25.0,
                N_FRAMES,
                160,
                120,
                (0, N_FRAMES),
                (0, N_FRAMES),
            )  # fmt: skip
        )
    path = root / "samples.jsonl"
    write_samples(path, rows)
    return path


def _cmd(samples: Path, out: Path) -> list[str]:
    return [str(ZSTVG), "sample-frames", "--samples", str(samples), "--out", str(out),
            "--workers", "2", *SETTINGS]  # fmt: skip


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _outputs(root: Path) -> dict[str, bytes]:
    """Every output file but the provenance sidecars (they hold times and the git revision)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith("provenance.json")
    }


@pytest.fixture(scope="module")
def uninterrupted(samples, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("whole") / "frames" / "manifest.json"
    subprocess.run(_cmd(samples, out), check=True, capture_output=True, timeout=300)
    return _outputs(out.parent)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_run_leaves_no_process_and_resumes_identically(
    samples, uninterrupted, tmp_path, sig
):
    out = tmp_path / "frames" / "manifest.json"
    # A session of its own: the run's processes share one process group, so "none is left"
    # is checkable whatever they were reparented to.
    proc = subprocess.Popen(
        _cmd(samples, out), start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.parent.glob("*/index.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    time.sleep(5)
    alive = _group_alive(proc.pid)
    if alive:  # clean up before failing, so a failure does not leak processes into CI
        os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, f"processes of the run are still alive 5 s after {sig.name}"
    assert not out.exists(), "the manifest is written only at the end"

    rerun = subprocess.run(_cmd(samples, out), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "already done" in rerun.stdout
    assert _outputs(out.parent) == uninterrupted
