"""Reading proposals between steps: one manifest + one file per video (the one reader).

Both writers, ``import-proposals`` (the authors' released files) and ``propose`` (our
detector + tracker), leave ``<dir>/manifest.json``::

    {"step": "import-proposals" | "propose",
     "videos": {"<video_id>": {"file": "<name>.json", "status": "ok" | "empty" | "failed",
                               "step"?: where a failure arose, "error"?: why, ...}}}

and the per-video files in the authors' format (:mod:`zstvg.files.proposal_tracks`). The
file of a video is the one its manifest entry names (``propose`` writes sanitised names for ids
with '/'), never a name rebuilt from the id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zstvg.files.io import InputError, PathLike, read_json
from zstvg.files.records import Status, Track

MANIFEST = "manifest.json"
EMPTY = "empty proposal set"


class ProposalStore:
    """The proposals of one import or propose run, addressed by video id."""

    def __init__(self, manifest_path: PathLike) -> None:
        path = Path(manifest_path)
        if path.is_dir():
            path = path / MANIFEST
        self.manifest_path = path
        self.root = path.parent
        manifest: Any = read_json(path, what="proposals manifest")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("videos"), dict):
            raise InputError(f"{path}: expected an object with a 'videos' mapping")
        self.step = str(manifest.get("step") or "proposals")
        self.videos: dict[str, dict[str, Any]] = manifest["videos"]
        for vid, entry in self.videos.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
                raise InputError(f"{path}: videos[{vid!r}]: expected an object with a 'file'")

    def video_status(self, video_id: str) -> Status:
        """Whether the video has usable tracks: a failure keeps the step that set it (an
        upstream decode error stays a decode error), an empty set is a failure of this step."""
        entry = self.videos.get(video_id)
        if entry is None:
            return Status(
                self.step, f"no proposal file for video {video_id!r} in {self.manifest_path}"
            )
        status = entry.get("status")
        if status == "failed":
            reason = str(entry.get("error") or "failed (no reason given)")
            return Status(str(entry.get("step") or self.step), reason)
        if status == "empty":
            return Status(self.step, EMPTY)
        return Status(self.step)

    def path(self, video_id: str) -> Path:
        return self.root / self.videos[video_id]["file"]

    def read(self, video_id: str) -> Any:
        """The video's proposals (:class:`official_format.OfficialProposals`: sample frames and
        tracks); InputError (naming the file) when the video has no usable file."""
        from zstvg.files import proposal_tracks as official_format

        status = self.video_status(video_id)
        if not status.ok:
            raise InputError(status.reason)
        return official_format.read(self.path(video_id))

    def tracks(self, video_id: str) -> list[Track]:
        """The video's tracks, read and validated; InputError (naming the file) when the
        video has no usable file."""
        from zstvg.files import proposal_tracks as official_format

        status = self.video_status(video_id)
        if not status.ok:
            raise InputError(status.reason)
        return list(official_format.read(self.path(video_id)).tracks)
