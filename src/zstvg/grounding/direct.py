"""The `direct` baseline on one sample: the MLLM asked for the tube itself
(docs/method.md#the-direct-box-decoding-baseline).

The same MLLM frames the attention method sees, their times, and the query go into the
family's pinned prompt (:func:`zstvg.grounding.direct_answers.build_prompt`); the greedy answer
is parsed into a span and a box on every native frame of it. ``direct+tracks`` keeps the span
and replaces the decoded boxes by the proposal track that overlaps them best. An answer that
does not parse fails its sample with the reason, the raw text kept in the record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from zstvg.config.variants import DirectVariant
from zstvg.evaluation.metrics import box_iou
from zstvg.files.records import BoxXYXY, Prediction, Track
from zstvg.grounding import scoring
from zstvg.grounding.direct_answers import FAMILIES, AnswerError, build_prompt, parse_answer

# The generation cap where the model entry sets none: a 20-frame answer is ~25 tokens per box
# ({"time": 12.35, "bbox_2d": [123, 45, 678, 901]}) plus the span, ~550 tokens; 1024 leaves room
# for prose around the JSON.
DEFAULT_MAX_NEW_TOKENS = 1024


class DirectAnswerCache:
    """One sample's answer, shared by `direct` and `direct+tracks` (the same question)."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] | None = None


def _ask(mllm: Any, gin: Any, max_new_tokens: int) -> dict[str, Any]:
    """The question and the greedy answer, with what the parser needs to read it."""
    family = mllm.box_family
    frames_t_sec = [f / gin.fps for f in gin.mllm_frame_idx]
    # The frames' size after the processor's resize: Qwen2.5-VL's coordinates are on it. The
    # prompt text does not change the resize, so an empty prompt measures it.
    input_wh = mllm.input_wh(mllm.encode(gin.frames, gin.mllm_frame_idx, "", gin.fps))
    prompt = build_prompt(family, gin.sample.query, frames_t_sec, input_wh)
    inputs = mllm.encode(gin.frames, gin.mllm_frame_idx, prompt, gin.fps)
    t0 = time.perf_counter()
    text, n_new = mllm.generate_text(inputs, max_new_tokens)
    return {
        "family": family,
        "prompt": prompt,
        "answer_text": text,
        "frames_t_sec": frames_t_sec,
        "input_wh": list(input_wh),
        "generation": {
            "greedy": True,
            "max_new_tokens": max_new_tokens,
            "n_new_tokens": n_new,
            "n_prompt_tokens": inputs.seq_len,
        },  # fmt: skip
        "_seconds": time.perf_counter() - t0,
    }


def best_track(tracks: Sequence[Track], boxes_xyxy: dict[int, BoxXYXY],
               clip_span: tuple[int, int]) -> tuple[Track, dict[int, float]]:  # fmt: skip
    """The track whose box, interpolated between its proposal frames, overlaps ``boxes_xyxy``
    best on average over their frames (a frame outside the track's first-to-last extent counts
    0: a track seen briefly is not held over the whole answer); ties go to the lower track id.
    Returns it and every track's mean IoU."""
    frames = sorted(boxes_xyxy)
    decoded = np.asarray([boxes_xyxy[f] for f in frames], np.float64)
    scores: dict[int, float] = {}
    for track in tracks:
        extent = (track.frame_idx[0], track.frame_idx[-1] + 1)
        dense = scoring.dense_boxes(track.boxes_xyxy, extent, clip_span).boxes_xyxy
        ious = [
            float(box_iou(np.asarray([dense[f]], np.float64), decoded[i : i + 1])[0])
            if f in dense else 0.0
            for i, f in enumerate(frames)
        ]  # fmt: skip
        scores[track.track_id] = float(np.mean(ious))
    chosen = max(sorted(tracks, key=lambda t: t.track_id), key=lambda t: scores[t.track_id])
    return chosen, scores


def ground_direct(
    mllm: Any, gin: Any, variant: DirectVariant, max_new_tokens: int, cache: DirectAnswerCache
) -> tuple[Prediction, dict[str, Any]]:
    """One sample of a direct variant: (prediction, record). A backend without box decoding
    raises ValueError (the job's variants are checked before the first sample)."""
    sample = gin.sample
    sid = sample.sample_id
    if mllm.box_family not in FAMILIES:
        raise ValueError(
            f"{variant.name}: the {mllm.name} backend is not asked for boxes (direct runs on "
            f"{', '.join(FAMILIES)})"
        )
    t0 = time.perf_counter()
    if cache.answer is None:
        cache.answer = _ask(mllm, gin, max_new_tokens)
    asked = {k: v for k, v in cache.answer.items() if not k.startswith("_")}
    record: dict[str, Any] = {
        "sample_id": sid,
        "variant": variant.to_json(),
        "status": "ok",
        "mllm_frame_idx": list(gin.mllm_frame_idx),
        **asked,
    }
    height, width = np.asarray(gin.frames[0]).shape[:2]
    run = {"times_s": {"generate_s": round(cache.answer["_seconds"], 4)}, "tuning_s": {}}
    try:
        answer = parse_answer(
            asked["answer_text"], asked["family"], frames_t_sec=asked["frames_t_sec"],
            mllm_frame_idx=gin.mllm_frame_idx, input_wh=tuple(asked["input_wh"]),
            native_wh=(width, height), n_frames=sample.n_frames, fps=gin.fps,
            mllm_bins=gin.mllm_bins,
        )  # fmt: skip
    except AnswerError as exc:
        reason = f"ground: {variant.name}: {exc}"
        record.update(status="failed", step="ground", error=reason, _run=run)
        return Prediction(sid, None, error=reason), record
    flags = [f"variant:{variant.name}", *gin.flags, *answer.flags]
    boxes, track_id = answer.boxes_xyxy, None
    if variant.tracks:
        tracks = [t for t in gin.tracks if t.boxes_xyxy]
        if not tracks:
            reason = f"ground: {variant.name}: empty proposal set"
            record.update(status="failed", step="ground", error=reason, _run=run)
            return Prediction(sid, None, error=reason), record
        chosen, scores = best_track(tracks, answer.boxes_xyxy, sample.clip_span)
        dense = scoring.dense_boxes(chosen.boxes_xyxy, answer.span, sample.clip_span)
        boxes, track_id = dense.boxes_xyxy, chosen.track_id
        flags.extend(dense.flags)
        record["track_scores"] = {str(k): v for k, v in scores.items()}
        record["chosen_track"] = track_id
    run["times_s"]["total_s"] = round(time.perf_counter() - t0, 4)
    flags = list(dict.fromkeys(flags))
    record.update(span=list(answer.span), flags=flags, _run=run)
    return Prediction(sid, answer.span, boxes, track_id=track_id, flags=tuple(flags)), record
