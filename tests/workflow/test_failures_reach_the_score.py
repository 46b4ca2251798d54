"""Broken videos reach the score through the real workflow, and a restored one scores again.

Five synthetic videos; after a clean run of the reference predictors (oracle, largest, random),
one is truncated, one zero-byte and one replaced by a valid video of 30 frames (its annotation
says 100), and the demo runs. Each of the three must score 0 in every table row with its decode
reason in the per-sample CSV and SUMMARY.md, ``n_failed`` must be 3, and the two untouched
samples must score exactly as before. Restoring one video and rerunning the oracle's score
redoes that video alone, and it scores again.

The workdir runs one model and one variant (`run`): the tests read only the reference
predictors' scores and SUMMARY.md, which need no more (the demo's sheets need one MLLM).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import av
import pytest
from wf_helpers import copy_outputs, make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow

VARIANTS = ("oracle", "largest", "random")
PROTOCOLS = ("tubedetr",)  # what the demo scores
SCORES = [
    f"results/metrics/synthetic/reference/{v}/{p}.per_sample.csv"
    for v in VARIANTS
    for p in PROTOCOLS
]


def _scores(work: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """(variant, protocol, sample_id) -> per-sample CSV row."""
    out = {}
    for variant in VARIANTS:
        for protocol in PROTOCOLS:
            path = work / f"results/metrics/synthetic/reference/{variant}/{protocol}.per_sample.csv"
            with path.open() as fh:
                for row in csv.DictReader(fh):
                    out[variant, protocol, row["sample_id"]] = row
    return out


def _metrics(work: Path, variant: str, protocol: str) -> dict:
    path = work / f"results/metrics/synthetic/reference/{variant}/{protocol}.json"
    return json.loads(path.read_text())


def _write_30_frames(src: Path, dst: Path) -> None:
    """A valid mp4 holding the first 30 frames of ``src`` (same size and rate)."""
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        frames = [
            f.to_ndarray(format="rgb24")
            for _, f in zip(range(30), inp.decode(stream), strict=False)
        ]
        rate = stream.average_rate
    with av.open(str(dst), mode="w", format="mp4") as out:
        enc = out.add_stream("mpeg4", rate=rate)
        enc.height, enc.width = frames[0].shape[:2]
        enc.pix_fmt = "yuv420p"
        for img in frames:
            for packet in enc.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in enc.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory, seed_dir):
    params = tiny_params()
    params["synthetic"]["n_videos"] = 5
    params["run"].update(models=["tiny-qwen2-vl"], variants=["gti"], experiments=[])
    work = make_workdir(tmp_path_factory.mktemp("wf") / "broken", params)
    copy_outputs(seed_dir, work, ["results/checkpoints"])  # they depend on `seed` alone
    run(["snakemake", "--cores", "2", *SCORES], work)
    before = _scores(work)
    videos = work / "results/synthetic/videos"
    keep = tmp_path_factory.mktemp("originals")
    names = sorted(p.name for p in videos.glob("*.mp4"))
    assert len(names) == 5
    truncated, zero, short = (videos / n for n in names[1:4])
    shutil.copy(truncated, keep / truncated.name)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    zero.write_bytes(b"")
    _write_30_frames(videos / names[0], keep / "short.mp4")
    shutil.copy(keep / "short.mp4", short)
    run(["snakemake", "--cores", "2", "demo"], work)
    return {
        "work": work,
        "before": before,
        "after": _scores(work),
        "broken": {truncated.stem: "truncated", zero.stem: "zero", short.stem: "short"},
        "ok": [Path(n).stem for n in (names[0], names[4])],
        "keep": keep,
        "truncated": truncated,
    }


def test_broken_videos_score_zero_with_their_decode_reason(broken_run):
    after, broken = broken_run["after"], broken_run["broken"]
    for (variant, protocol, sid), row in after.items():
        if sid not in broken:
            continue
        assert row["status"] == "failed", (variant, protocol, sid)
        assert float(row["vIoU"]) == 0.0 and float(row["tIoU"]) == 0.0
        assert row["reason"].startswith("sample-frames: "), row["reason"]
        if broken[sid] == "short":
            assert "decodes to 30 frames" in row["reason"]
    for variant in VARIANTS:
        for protocol in PROTOCOLS:
            assert _metrics(broken_run["work"], variant, protocol)["n_failed"] == 3
    oracle = _metrics(broken_run["work"], "oracle", "tubedetr")
    assert oracle["m_vIoU"] == pytest.approx(2 / 5)  # 2 exact samples of 5, 3 zeros


def test_untouched_samples_score_as_before(broken_run):
    before, after = broken_run["before"], broken_run["after"]
    for key, row in before.items():
        if key[2] in broken_run["ok"]:
            assert after[key] == row, key


def test_summary_lists_failed_samples_with_reasons(broken_run):
    summary = (broken_run["work"] / "results/demo/SUMMARY.md").read_text()
    for sid, kind in broken_run["broken"].items():
        line = next(ln for ln in summary.splitlines() if f"`{sid}`" in ln and "sample-frames" in ln)
        if kind == "short":
            assert "decodes to 30 frames" in line
    assert "samples scored 0: 3" in summary


def test_restored_video_alone_is_redone_and_scores_again(broken_run):
    work, truncated = broken_run["work"], broken_run["truncated"]
    frames = work / "results/frames/synthetic"
    untouched = {
        vid: {p.name: p.stat().st_mtime_ns for p in (frames / vid).glob("*.jpg")}
        for vid in broken_run["ok"]
    }
    assert all(untouched.values())
    shutil.copy(broken_run["keep"] / truncated.name, truncated)
    proc = run(
        ["snakemake", "--cores", "2", "results/metrics/synthetic/reference/oracle/tubedetr.json"],
        work,
    )
    out = proc.stdout + proc.stderr
    # the 30-frame video decodes (ok) but its sample needs frames past 30 (failed)
    assert "5 videos (4 ok, 1 failed, 4 already done), 5 samples (3 ok, 2 failed)" in out
    for vid, stamps in untouched.items():
        assert {p.name: p.stat().st_mtime_ns for p in (frames / vid).glob("*.jpg")} == stamps
    scores = _scores(work)
    assert scores["oracle", "tubedetr", truncated.stem]["status"] == "ok"
    assert float(scores["oracle", "tubedetr", truncated.stem]["vIoU"]) == pytest.approx(1.0)
    assert _metrics(work, "oracle", "tubedetr")["n_failed"] == 2
