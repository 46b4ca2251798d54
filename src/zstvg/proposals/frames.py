"""Frame sources for the proposal step: frames are read one at a time, never all at once.

A source lists the proposal frames of one video (native 0-based ``frame_idx``, ascending) and
reads any of them as an RGB ``uint8`` array of shape (height, width, 3). The sample-frames step
stores them as ``<dir>/<frame_idx:06d>.jpg``; tests and benchmarks may hold them in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from zstvg.files.frames import read_frame


class FrameSource(Protocol):
    # Read-only: the sources are frozen dataclasses or compute these as properties.
    @property
    def video_id(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def frame_idx(self) -> Sequence[int]: ...

    def read(self, frame_idx: int) -> np.ndarray:
        """The RGB frame (height, width, 3) uint8."""
        ...


@dataclass(frozen=True)
class JpegFrames:
    """Frames stored by the sample-frames step as ``<directory>/<frame_idx:06d>.jpg``."""

    video_id: str
    directory: Path
    frame_idx: Sequence[int]
    width: int
    height: int

    def read(self, frame_idx: int) -> np.ndarray:
        return read_frame(self.directory, frame_idx)


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


class StreamedFrames(dict[int, Any]):
    """A window's model inputs, made on demand: ``len`` is the window length and ``[i]`` loads
    window frame i through ``load`` (keeping only the last ``keep``), so no window is ever held
    in memory (a 1024x1024 float32 input is 12 MB: 7 GB for a 600-frame window).

    It stands where the SAM 2 trackers expect their preprocessed video (transformers' session
    ``processed_frames`` dict, the ``sam2`` predictor's ``images``), which they only index and
    ask the length of. A ``dict`` subclass because the transformers session is typed so.
    """

    def __init__(self, n_frames: int, load: Callable[[int], Any], keep: int = 2) -> None:
        super().__init__()
        self._n = n_frames
        self._load = load
        self._keep = keep
        self._cache: OrderedDict[int, Any] = OrderedDict()

    def __len__(self) -> int:
        return self._n

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and 0 <= key < self._n

    def __getitem__(self, key: int) -> Any:
        if key not in self._cache:
            if key not in self:
                raise KeyError(key)
            self._cache[key] = self._load(key)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    @property
    def held(self) -> int:
        """Frames currently in memory."""
        return len(self._cache)
