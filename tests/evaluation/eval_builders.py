"""Sample/prediction builders shared by the evaluation tests."""

from __future__ import annotations

from zstvg.files.records import Prediction, Sample

BOX = (0.0, 0.0, 10.0, 10.0)
HALF_SHIFTED = (5.0, 0.0, 15.0, 10.0)  # shifted by half its width: inter 50, union 150 -> 1/3


def make_sample(
    sid="s0", gt=(8, 24), clip=(0, 40), fps=10.0, qtype="declarative", video_id=None, **kw
) -> Sample:
    boxes = {f: BOX for f in range(*gt)} if kw.pop("has_gt_boxes", True) else {}
    return Sample(
        sample_id=sid,
        video_id=video_id or f"v_{sid}",
        video_path=f"/videos/{video_id or sid}.mp4",
        query="the man walks",
        qtype=qtype,
        fps=fps,
        n_frames=clip[1],
        width=64,
        height=48,
        gt_span=gt,
        clip_span=clip,
        gt_boxes_xyxy=boxes,
        has_gt_boxes=bool(boxes),
        **kw,
    )


def make_pred(sid="s0", span=(8, 24), box=BOX, **kw) -> Prediction:
    return Prediction(sample_id=sid, span=span, boxes_xyxy={f: box for f in range(*span)}, **kw)
