"""What ``zstvg sample-frames`` stores: writing the frames and reading them back (the one place
that knows the layout).

Layout under the folder of ``manifest.json``::

    <video dir>/<frame_idx:06d>.jpg   one RGB JPEG per kept native frame
    <video dir>/index.json            fps, size, and per sample its mllm/grid frame indices

The manifest maps each video id to its ``frames_dir`` (ids with '/' get a safe folder name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zstvg.files.io import InputError, PathLike, read_json, sha256_json
from zstvg.files.records import Status

if TYPE_CHECKING:
    pass

STEP = "sample-frames"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def video_dir_name(video_id: str) -> str:
    """A file/folder name for an id: itself when safe, else a sanitised name + short hash.

    VidSTG/VidOR ids can hold '/' ("0001/2401075277"); a hash suffix keeps two ids that
    sanitise to the same text apart.
    """
    if _SAFE_NAME.fullmatch(video_id) and video_id not in (".", ".."):
        return video_id
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("._") or "video"
    return f"{cleaned}-{sha256_json(video_id)[:8]}"


def frame_path(directory: PathLike, frame_idx: int) -> Path:
    return Path(directory) / f"{frame_idx:06d}.jpg"


def read_frame(directory: PathLike, frame_idx: int) -> np.ndarray:
    """The stored RGB frame (height, width, 3) uint8."""
    from PIL import Image

    path = frame_path(directory, frame_idx)
    if not path.is_file():
        raise InputError(f"frame file not found: {path}")
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@dataclass(frozen=True)
class SampleFrames:
    """One sample's selected frames, in increasing native order."""

    sample_id: str
    video_id: str
    frame_idx: tuple[int, ...]
    fps: float
    width: int
    height: int
    directory: Path

    def read(self) -> list[np.ndarray]:
        return [read_frame(self.directory, f) for f in self.frame_idx]


class FrameStore:
    """The frames of one ``sample-frames`` run, addressed by video and sample id."""

    def __init__(self, manifest_path: PathLike) -> None:
        self.manifest_path = Path(manifest_path)
        self.root = self.manifest_path.parent
        manifest: Any = read_json(self.manifest_path, what="frames manifest")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("videos"), dict):
            raise InputError(f"{self.manifest_path}: expected an object with a 'videos' mapping")
        self.videos: dict[str, dict[str, Any]] = manifest["videos"]
        samples = manifest.get("samples", {})
        if not isinstance(samples, dict):
            raise InputError(f"{self.manifest_path}: field samples must be an object")
        self.samples: dict[str, dict[str, Any]] = samples
        self._index: dict[str, dict[str, Any]] = {}

    def sample_status(self, sample_id: str) -> Status:
        """The sample's status after sample-frames: its first failure (prepare-data's, the
        video's, or its own) with the step that set it, else ok with its flags."""
        entry = self.samples.get(sample_id)
        if entry is None:
            return Status(STEP, f"sample {sample_id!r} is not in {self.manifest_path}")
        flags = tuple(str(f) for f in entry.get("flags") or ())
        if entry.get("status") != "ok":
            reason = str(entry.get("error") or entry.get("status") or "failed (no reason given)")
            return Status(str(entry.get("step") or STEP), reason, flags)
        return Status(STEP, None, flags)

    def gt_scale_xy(self, sample_id: str) -> tuple[float, float] | None:
        """(sx, sy) mapping the annotation's boxes onto the decoded frames, when they differ
        by a uniform ratio (sample-frames flags ``frame_size_mismatch``); else None."""
        scale = self.samples.get(sample_id, {}).get("gt_scale_xy")
        return (float(scale[0]), float(scale[1])) if scale else None

    def video_error(self, video_id: str) -> str | None:
        """Why the video's frames are unusable, or None when they are fine."""
        entry = self.videos.get(video_id)
        if entry is None:
            return f"video {video_id!r} is not in {self.manifest_path}"
        if entry.get("status") != "ok":
            return str(entry.get("error") or entry.get("status"))
        return None

    def index(self, video_id: str) -> dict[str, Any]:
        if video_id not in self._index:
            error = self.video_error(video_id)
            if error:
                raise InputError(error)
            entry = self.videos[video_id]
            folder = self.root / entry.get("frames_dir", video_dir_name(video_id))
            index = read_json(folder / "index.json", what="frame index")
            if not isinstance(index, dict) or not isinstance(index.get("samples"), dict):
                raise InputError(f"{folder / 'index.json'}: expected an object with 'samples'")
            index["_dir"] = folder
            self._index[video_id] = index
        return self._index[video_id]

    def video_frames(
        self, video_id: str, sample_ids: Sequence[str], kind: str = "grid"
    ) -> SampleFrames:
        """The union of the ok samples' ``kind`` frames of one video (the proposal frames)."""
        index = self.index(video_id)
        frames: set[int] = set()
        for sid in sample_ids:
            entry = index["samples"].get(sid)
            if entry is not None and entry.get("status") == "ok":
                frames.update(int(f) for f in entry[f"{kind}_frame_idx"])
        return SampleFrames(
            "", video_id, tuple(sorted(frames)), float(index["fps"]), int(index["width"]),
            int(index["height"]), Path(index["_dir"]),
        )  # fmt: skip

    def sample(self, video_id: str, sample_id: str, kind: str = "mllm") -> SampleFrames:
        """The sample's ``mllm`` (uniform N) or ``grid`` (evaluation grid) frames."""
        if kind not in ("mllm", "grid"):
            raise ValueError(f"kind must be 'mllm' or 'grid', got {kind!r}")
        index = self.index(video_id)
        entry = index.get("samples", {}).get(sample_id)
        if entry is None:
            raise InputError(f"{index['_dir'] / 'index.json'}: no frames for sample {sample_id!r}")
        if entry.get("status") != "ok":
            raise InputError(
                f"sample {sample_id!r}: frames {entry.get('status')}: "
                f"{entry.get('error', '')}".rstrip(": ")
            )
        frames: Sequence[int] = entry[f"{kind}_frame_idx"]
        return SampleFrames(
            sample_id,
            video_id,
            tuple(int(f) for f in frames),
            float(index["fps"]),
            int(index["width"]),
            int(index["height"]),
            Path(index["_dir"]),
        )
