"""A full disk, a read-only or forbidden output: one line naming the file and the cause, exit 1,
no traceback and nothing half-written (tests run as root, where a 0o555 folder does not stop a
write, so the failing write is simulated)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from zstvg.cli import main
from zstvg.files import io
from zstvg.files.records import Sample
from zstvg.files.samples import write_samples

ENTRY = {
    "bbox": [[10, 20, 30, 40]], "st_time": 0.0, "ed_time": 0.04, "img_num": 500,
    "English": "The man walks.", "img_size": [480, 640], "st_frame": 1,
}  # fmt: skip


class _FullDisk:
    """An open file on a full disk: every write fails as the syscall does."""

    def __init__(self, fh, error: OSError) -> None:
        self._fh, self._error = fh, error

    def write(self, data):
        raise self._error

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def _fill_disk(monkeypatch, error: OSError) -> None:
    real = os.fdopen
    monkeypatch.setattr(io.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k), error))


def _inputs(tmp_path, step: str) -> list[str]:
    if step == "prepare-data":
        ann = tmp_path / "in" / "test_v2.json"
        ann.parent.mkdir()
        ann.write_text(json.dumps({"v.mp4": ENTRY}))
        return ["--dataset", "hcstvg-v2", "--annotations", str(ann)]
    samples = tmp_path / "in" / "samples.jsonl"
    write_samples(samples, [Sample("s", "v", "v.mp4", "a man", "declarative", 10.0, 40, 64, 48,
                                   (8, 24), (0, 40), {8: (0.0, 0.0, 10.0, 10.0)})])  # fmt: skip
    pred = tmp_path / "in" / "pred.json"
    pred.write_text(json.dumps({"s": {"span": [8, 24], "boxes_xyxy": {"8": [0, 0, 10, 10]}}}))
    return ["--samples", str(samples), "--predictions", str(pred)]


@pytest.mark.parametrize("step", ["prepare-data", "evaluate"])
def test_full_disk_is_one_line_naming_the_file_and_nothing_half_written(
    tmp_path, capsys, monkeypatch, step
):
    args = _inputs(tmp_path, step)
    out = tmp_path / "out" / "o.json"
    _fill_disk(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert main([step, *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{out}: No space left on device" in err
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temp file


def test_read_only_folder_names_the_output_not_its_temp_file(tmp_path, monkeypatch):
    def read_only(*a, dir, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), f"{dir}/.o.json.1.x.tmp")

    monkeypatch.setattr(io.tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as exc, io.atomic_open(tmp_path / "o.json") as fh:
        fh.write("{}")
    assert (exc.value.errno, exc.value.filename) == (errno.EROFS, str(tmp_path / "o.json"))


def test_np_save_short_write_on_a_full_disk_names_the_file_and_the_cause(tmp_path, monkeypatch):
    # np.save's own words for a short write: no errno, no file
    _fill_disk(monkeypatch, OSError("5120 requested and 2016 written"))
    monkeypatch.setattr(io.os, "statvfs", lambda p: SimpleNamespace(f_bavail=0))
    with pytest.raises(OSError) as exc, io.atomic_open(tmp_path / "m.npy", "wb") as fh:
        fh.write(b"x")
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "m.npy")
    assert exc.value.strerror == "No space left on device (5120 requested and 2016 written)"
    assert list(tmp_path.iterdir()) == []


def test_a_real_np_save_short_write_is_named(tmp_path):
    # A file-size limit of 2,016 bytes lets np.save's 128-byte header through and cuts its
    # 5,120-byte array short, as a full disk does (the disk is not full: numpy's words stay).
    code = f"""
import resource, signal, numpy as np
from zstvg.files.io import atomic_open
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2016, 2016))
try:
    with atomic_open({str(tmp_path / "m.npy")!r}, "wb") as fh:
        np.save(fh, np.zeros(640))
except OSError as exc:
    print(exc.errno, exc.filename, exc.strerror)
"""
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.startswith(f"{errno.EIO} {tmp_path / 'm.npy'} short write (")
    assert "requested and" in got.stdout
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_in_the_block_are_left_alone(tmp_path):
    with pytest.raises(FileNotFoundError) as exc, io.atomic_open(tmp_path / "o.json") as fh:
        fh.write((tmp_path / "missing").read_text())
    assert exc.value.filename == str(tmp_path / "missing")


def test_sample_frames_stops_on_a_full_frames_folder_instead_of_failing_every_video(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "video"))
    from frame_videos import write_video

    (tmp_path / "in").mkdir()
    video = write_video(tmp_path / "in" / "clip.mp4", 10)
    samples = tmp_path / "in" / "samples.jsonl"
    write_samples(samples, [Sample("s", "clip", str(video), "a man", "declarative", 25.0, 10, 64,
                                   48, (0, 10), (0, 10))])  # fmt: skip
    out = tmp_path / "frames" / "manifest.json"
    _fill_disk(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert main(["sample-frames", "--samples", str(samples), "--out", str(out),
                 "--workers", "1"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left on device" in err
    assert f"{out.parent / 'clip'}" in err.splitlines()[-1]
    # PIL writes JPEGs to the file descriptor, past the full-disk write: whole frames, kept
    # for the rerun; the index that would mark the video done and the manifest are not there
    left = [p.name for p in out.parent.rglob("*") if p.is_file()]
    assert left and all(name.endswith(".jpg") and not name.startswith(".") for name in left)
    assert not out.exists()


def test_an_unwritable_log_file_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    """--log-file on a read-only disk: logging is set up before the step runs, so its error is
    caught there (a traceback before)."""
    import logging

    log_file = tmp_path / "logs" / "step.log"

    def read_only(filename, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(filename))

    monkeypatch.setattr(logging, "FileHandler", read_only)
    assert main(["devices", "--log-file", str(log_file)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"zstvg: --log-file {log_file}: Read-only file system"]
