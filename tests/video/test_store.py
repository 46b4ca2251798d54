from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from frame_videos import read_index  # noqa: I001
from PIL import Image

from zstvg.files.frames import FrameStore, frame_path, read_frame
from zstvg.files.io import InputError
from zstvg.video.sampling import store_frames


@pytest.fixture()
def store(tmp_path):
    vdir = tmp_path / "v1"
    vdir.mkdir()
    for f in (3, 7):
        Image.fromarray(np.full((8, 10, 3), 10 * f, np.uint8)).save(
            frame_path(vdir, f), quality=100
        )
    (vdir / "index.json").write_text(
        json.dumps(
            {
                "fps": 5.0,
                "width": 10,
                "height": 8,
                "samples": {
                    "s1": {"status": "ok", "mllm_frame_idx": [3, 7], "grid_frame_idx": [3]},
                    "s2": {"status": "failed", "error": "missing frames [9]"},
                },
            }
        )
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "videos": {
                    "v1": {"status": "ok", "frames_dir": "v1"},
                    "bad": {"status": "failed", "error": "corrupt video file"},
                }
            }
        )
    )
    return FrameStore(tmp_path / "manifest.json")


def test_sample_frames_are_read_by_native_index(store):
    frames = store.sample("v1", "s1")
    assert frames.frame_idx == (3, 7) and frames.fps == 5.0
    pixels = frames.read()
    assert [int(p.mean().round()) for p in pixels] == [30, 70]
    assert store.sample("v1", "s1", kind="grid").frame_idx == (3,)


def test_failures_name_the_reason(store):
    with pytest.raises(InputError, match="corrupt video file"):
        store.sample("bad", "x")
    with pytest.raises(InputError, match="missing frames"):
        store.sample("v1", "s2")
    with pytest.raises(InputError, match="no frames for sample 's3'"):
        store.sample("v1", "s3")
    assert "not in" in store.video_error("nope")


def test_store_frames_writes_each_requested_frame_once(make_video, tmp_path):
    video = make_video("gop10.mp4", 60, gop=10)
    report, n_written = store_frames(video, [59, 3, 17, 3, 40], tmp_path, jpeg_quality=95)
    assert n_written == 4 and sorted(report.t_sec) == [3, 17, 40, 59]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000003.jpg", "000017.jpg", "000040.jpg", "000059.jpg"
    ]  # fmt: skip
    assert {f: read_index(read_frame(tmp_path, f)) for f in report.t_sec} == {
        f: f for f in report.t_sec
    }


def test_store_frames_raises_the_write_error_and_leaves_no_write_running(make_video, tmp_path):
    video = make_video("gop10.mp4", 60, gop=10)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):  # the folder cannot exist under a file: every write fails
        store_frames(video, range(60), blocker / "frames", jpeg_quality=95)
    assert blocker.read_text() == "not a folder"
    assert not [t for t in threading.enumerate() if t.name.startswith("zstvg-jpeg")]
