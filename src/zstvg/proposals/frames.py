"""Frame sources for the proposal step: frames are read one at a time, never all at once.

A source lists the proposal frames of one video (native 0-based ``frame_idx``, ascending) and
reads any of them as an RGB ``uint8`` array of shape (height, width, 3). The sample-frames step
stores them as ``<dir>/<frame_idx:06d>.jpg``; tests and benchmarks may hold them in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


class FrameSource(Protocol):
    video_id: str
    width: int
    height: int
    frame_idx: Sequence[int]

    def read(self, frame_idx: int) -> np.ndarray:
        """The RGB frame (height, width, 3) uint8."""
        ...


def frame_path(directory: str | Path, frame_idx: int) -> Path:
    return Path(directory) / f"{frame_idx:06d}.jpg"


@dataclass(frozen=True)
class JpegFrames:
    """Frames stored by the sample-frames step as ``<directory>/<frame_idx:06d>.jpg``."""

    video_id: str
    directory: Path
    frame_idx: Sequence[int]
    width: int
    height: int

    def read(self, frame_idx: int) -> np.ndarray:
        from PIL import Image

        with Image.open(frame_path(self.directory, frame_idx)) as img:
            return np.asarray(img.convert("RGB"))


@dataclass(frozen=True)
class ArrayFrames:
    """Frames already in memory (tests, benchmarks), keyed by native frame index."""

    video_id: str
    frames: Mapping[int, np.ndarray]

    @property
    def frame_idx(self) -> list[int]:
        return sorted(self.frames)

    @property
    def height(self) -> int:
        return int(next(iter(self.frames.values())).shape[0])

    @property
    def width(self) -> int:
        return int(next(iter(self.frames.values())).shape[1])

    def read(self, frame_idx: int) -> np.ndarray:
        return self.frames[frame_idx]
