"""Dataset loaders: annotation formats -> :class:`zstvg.files.records.Sample` lists.

Formats (``DATASET_FORMATS``; conventions in each loader's module docstring):

- ``hcstvg-v1``, ``hcstvg-v2``: :mod:`zstvg.data.hcstvg` (one loader, both key spellings);
- ``synthetic``: the built-in benchmark, written in the HC-STVG v2 format, same loader;
- ``vidstg``: raw VidSTG sentences + VidOR box files, :func:`zstvg.data.vidstg.load_vidstg`;
- ``vidstg-tubedetr``: TubeDETR's preprocessed VidSTG files,
  :func:`zstvg.data.vidstg.load_vidstg_tubedetr`.

Every loader has the signature ``(annotations, videos=None, boxes=None) -> list[Sample]``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from zstvg.config.registry import Registry
from zstvg.files.records import Sample

DATASET_FORMATS = Registry("dataset format")
DATASET_FORMATS.register("hcstvg-v1", "zstvg.data.hcstvg:load_hcstvg")
DATASET_FORMATS.register("hcstvg-v2", "zstvg.data.hcstvg:load_hcstvg")
DATASET_FORMATS.register("synthetic", "zstvg.data.hcstvg:load_hcstvg")
DATASET_FORMATS.register("vidstg", "zstvg.data.vidstg:load_vidstg")
DATASET_FORMATS.register("vidstg-tubedetr", "zstvg.data.vidstg:load_vidstg_tubedetr")


def load_samples(
    format: str,
    annotations: str | Path,
    videos: str | Path | None = None,
    boxes: str | Path | None = None,
) -> list[Sample]:
    """Load ``annotations`` in the named format; with ``videos``, check every video file exists.

    A sample whose video is missing keeps its place with ``error = "video file not found:
    <path>"`` (it scores 0 later), one whose query is empty with ``error = "<annotations>:
    sample <id>: empty query (caption) ''"``; the others are unaffected. Whole-file problems
    (missing file, malformed JSON, a missing required key) raise :class:`zstvg.files.io.InputError`.
    """
    from zstvg.config.registry import UnknownNameError
    from zstvg.data.common import check_queries, check_videos
    from zstvg.files.io import InputError

    try:
        loader = DATASET_FORMATS.get(format)
    except UnknownNameError as exc:
        raise InputError(str(exc)) from None
    if videos is not None and not Path(videos).is_dir():
        raise InputError(f"--videos: video folder not found: {videos}")
    samples = check_queries(loader(annotations, videos=videos, boxes=boxes), annotations)
    return check_videos(samples) if videos is not None else samples


def summarize(samples: list[Sample]) -> dict[str, Any]:
    """Counts for the command summary and the provenance sidecar."""
    flags = Counter(flag for s in samples for flag in s.flags)
    return {
        "n_samples": len(samples),
        "n_videos": len({s.video_id for s in samples}),
        "by_qtype": dict(sorted(Counter(s.qtype for s in samples).items())),
        "n_failed": sum(1 for s in samples if s.error),
        "n_with_gt_boxes": sum(1 for s in samples if s.has_gt_boxes),
        "flags": dict(sorted(flags.items())),
    }
