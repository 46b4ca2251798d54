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
