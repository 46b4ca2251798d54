"""Core records passed between steps.

Conventions (docs/workflow.md#files-passed-between-steps), carried in the field names:
- frames are 0-based native frame indices of the decoded video (``frame_idx``);
- spans are half-open ``[start, end)`` in native frame indices;
- boxes are absolute-pixel ``xyxy`` floats (``boxes_xyxy``);
- masks are COCO RLE dicts ``{"size": [h, w], "counts": str}``.
JSON maps keyed by frame use the decimal frame index as the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

BoxXYXY = tuple[float, float, float, float]
Span = tuple[int, int]
QTYPES = ("declarative", "interrogative")
# The steps that can fail a sample, in pipeline order; a failure reason starts with one.
STEPS = (
    "prepare-data",
    "sample-frames",
    "decompose",
    "import-proposals",
    "propose",
    "probe-attention",
    "probe-layers",
    "predict-reference",
    "ground",
)


def _boxes_to_json(boxes: dict[int, BoxXYXY]) -> dict[str, list[float]]:
    return {str(f): [float(v) for v in box] for f, box in sorted(boxes.items())}


def _boxes_from_json(boxes: dict[str, Any]) -> dict[int, BoxXYXY]:
    return {int(f): tuple(float(v) for v in box) for f, box in boxes.items()}  # type: ignore[misc]


@dataclass(frozen=True)
class Status:
    """Whether one sample (or video) is usable after a step, and if not, why and where.

    ``step`` is the step that set a failure (``prepare-data``, ``sample-frames``,
    ``import-proposals``, ``propose``, ``ground``); every later step carries the first failure
    on unchanged, so the score's reason names the original cause, not a symptom of it.
    """

    step: str
    error: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str:
        """``"<step>: <error>"`` (empty when ok); an error already naming its step is kept."""
        if self.error is None:
            return ""
        return self.error if step_of(self.error) else f"{self.step}: {self.error}"


def step_of(reason: str) -> str | None:
    """The step a ``"<step>: ..."`` reason names, or None when it names none."""
    head = reason.split(": ", 1)[0]
    return head if head in STEPS else None


def first_failure(*statuses: Status | None) -> Status | None:
    """The first failed status in step order, or None when all are ok."""
    return next((s for s in statuses if s is not None and not s.ok), None)


@dataclass(frozen=True)
class Sample:
    """One query on one video, with its ground truth, in internal conventions."""

    sample_id: str
    video_id: str
    video_path: str
    query: str
    qtype: str
    fps: float
    n_frames: int
    width: int
    height: int
    gt_span: Span
    clip_span: Span
    gt_boxes_xyxy: dict[int, BoxXYXY] = field(default_factory=dict)
    # False for VidSTG without VidOR box files: only temporal metrics are meaningful.
    has_gt_boxes: bool = True
    flags: tuple[str, ...] = ()
    # Set when the sample cannot be evaluated as given (e.g. inverted span, unreadable video);
    # such a sample stays in the list and scores 0.
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["gt_span"] = list(self.gt_span)
        d["clip_span"] = list(self.clip_span)
        d["gt_boxes_xyxy"] = _boxes_to_json(self.gt_boxes_xyxy)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Sample:
        d = dict(d)
        d["gt_span"] = tuple(d["gt_span"])
        d["clip_span"] = tuple(d["clip_span"])
        d["gt_boxes_xyxy"] = _boxes_from_json(d.get("gt_boxes_xyxy") or {})
        d["flags"] = tuple(d.get("flags") or ())
        return cls(**d)


def scale_gt_boxes(sample: Sample, scale_xy: tuple[float, float] | None) -> Sample:
    """The sample with its GT boxes mapped onto the decoded frames by ``(sx, sy)``.

    sample-frames records the scale when the annotation's frame size differs from the video's
    by a uniform ratio (an annotation made on a rescaled copy); None leaves the sample as is.
    """
    if scale_xy is None:
        return sample
    sx, sy = scale_xy
    boxes = {
        f: (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for f, b in sample.gt_boxes_xyxy.items()
    }
    return replace(sample, gt_boxes_xyxy=boxes, flags=(*sample.flags, "gt_boxes_rescaled"))


@dataclass(frozen=True)
class Track:
    """A candidate object tube from the proposal step."""

    track_id: int
    class_name: str
    boxes_xyxy: dict[int, BoxXYXY]
    rles: dict[int, dict[str, Any]] = field(default_factory=dict)
    score: float | None = None

    @property
    def frame_idx(self) -> list[int]:
        return sorted(self.boxes_xyxy)

    def to_json(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "class_name": self.class_name,
            "boxes_xyxy": _boxes_to_json(self.boxes_xyxy),
            "rles": {str(f): r for f, r in sorted(self.rles.items())},
            "score": self.score,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Track:
        return cls(
            track_id=int(d["track_id"]),
            class_name=str(d["class_name"]),
            boxes_xyxy=_boxes_from_json(d["boxes_xyxy"]),
            rles={int(f): r for f, r in (d.get("rles") or {}).items()},
            score=d.get("score"),
        )


@dataclass(frozen=True)
class Prediction:
    """The evaluator's contract for one sample (docs/workflow.md#files-passed-between-steps)."""

    sample_id: str
    span: Span | None
    boxes_xyxy: dict[int, BoxXYXY] = field(default_factory=dict)
    track_id: int | None = None
    flags: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "span": list(self.span) if self.span is not None else None,
            "boxes_xyxy": _boxes_to_json(self.boxes_xyxy),
            "track_id": self.track_id,
            "flags": list(self.flags),
        }
        if self.error is not None:
            d["error"] = self.error
        return d

    @classmethod
    def from_json(cls, sample_id: str, d: dict[str, Any]) -> Prediction:
        span = d.get("span")
        return cls(
            sample_id=sample_id,
            span=(int(span[0]), int(span[1])) if span is not None else None,
            boxes_xyxy=_boxes_from_json(d.get("boxes_xyxy") or {}),
            track_id=d.get("track_id"),
            flags=tuple(d.get("flags") or ()),
            error=d.get("error"),
        )
