"""Predictions in the input formats of the two released evaluators (``zstvg export-predictions``).

Pure functions: samples, prediction records and their boxes in, the JSON object to write and a
summary out; :func:`export_predictions`, the step, reads the files and writes the export. What
each released script reads, checked against its source:

**hcstvg-challenge** (tzhhhh123/HC-STVG ``eval_hcvg.py``, ``hcvg_eval(pred_path, gt_path)``; the
same layout is the "Task Rules" of the challenge page http://picdataset.com/challenge/task/hcvg/):
one JSON object ``{"<video>": {"st_frame": int, "ed_frame": int, "bbox": {"<frame>": [x1, y1,
x2, y2]}}}``. The script loops over the GT file's videos (a video missing from the predictions
scores 0), pairs boxes by looking each GT ``bbox`` key up as a *string* in the predicted ``bbox``
(every native frame, no grid), scores them with ``iou2d`` (absolute-pixel ``[x1, y1, x2, y2]``,
area ``(x2 - x1) * (y2 - y1)``, no ``+1``), and takes ``max(ed_frame) - min(st_frame) + 1`` as the
union: ends are inclusive, so ``ed_frame = end - 1`` of our half-open span, and only the frames
``st_frame..ed_frame`` carry boxes (a box outside them would be counted by the script). The
script itself works in whatever numbering its GT file uses; that file
(``challenge/hcvg_test.json``) is not public. The annotation files it is made from number frames
from 1 (the repository README: ``st_frame`` is "the first frame index in the bboxes (start with
1)"), and are keyed by video file name (``"55_vfjywN5CN0Y.mp4"``), so by default frames are
written 1-based (our 0-based index + 1) and videos keyed by file name; ``frame_base=0`` and
``video_key="stem"`` cover a GT file made otherwise. One query per video: two samples on one
video cannot both be written and are an error. A failed or missing sample is left out (the
script scores it 0) and counted.

**tubedetr** (antoyang/TubeDETR ``datasets/hcstvg_eval.py`` and ``vidstg_eval.py``,
``*GiouEvaluator.evaluate(predictions, video_predictions)``; the dicts come from ``engine.py``):
``predictions = {"<video_id>_<frame_id>": {"boxes": [[x1, y1, x2, y2]]}}`` (absolute pixels of the
original frame, ``PostProcess`` in ``models/postprocessors.py``) and ``video_predictions =
{<video_id>: {"sted": [start, end]}}`` with ``end`` exclusive (``PostProcessSTVG`` adds 1 to the
last frame: "the end frame is excluded in evaluation"); VidSTG also reads ``"qtype"`` from each
video prediction. The file written here is ``{"predictions": ..., "video_predictions": ...,
"sample_ids": {<video_id>: <sample_id>}}`` (the last is ours, for tracing; TubeDETR never reads
it). TubeDETR takes the two dicts in memory, not a file, and its ``video_id`` are ints, so feed it
``d["predictions"]`` and ``{int(k): v for k, v in d["video_predictions"].items()}``.

- ``video_id`` is TubeDETR's own: the item's index in its preprocessed list (``video_id =
  len(videos)`` in ``preproc/preproc_{hcstvg,hcstvgv2,vidstg}.py``). The image id is split with
  ``int(image_id.split("_")[1])``, so a name with ``_`` (every HC-STVG stem) would break it. For
  VidSTG read from TubeDETR's ``test.json`` the index is in our sample id
  (``<vid>:<video_id>:<qtype>``); for raw VidSTG (``<vid>:<entry>:<qtype>:<k>``) it is recomputed
  from TubeDETR's order (entries in file order, each entry's questions before its captions); for
  HC-STVG it is the sample's position in the samples file (prepare-data keeps the annotation
  file's order). Both assume the samples file is prepare-data's whole output for the same
  annotation file TubeDETR preprocessed.
- Frame ids: VidSTG's ``begin_fid``/``end_fid`` are 0-based like ours (``frame_base`` 0). For
  HC-STVG TubeDETR's preprocessing copies the 1-based ``st_frame`` into ``tube_start_frame``
  ("starts with 1") and indexes decoded frames from 0, so its GT tube is our ``gt_span`` + 1: the
  box of our frame ``f`` is written under frame ``f + 1`` (``frame_base`` 1), ``sted`` likewise,
  so that it meets the GT box of the same annotated frame. The grid itself is the decoded frames'
  (``zstvg.video.index.grid_frame_idx`` over ``clip_span``, the same list as TubeDETR's
  ``frame_ids``); boxes are written on every grid frame that has one, as TubeDETR's test mode
  does.
- ``evaluate`` raises ``"No prediction for frame <video_id>_<frame_id>"`` for a grid frame of the GT
  tube without a box, and ``"<n> video predictions missing"`` when videos are left out: both are
  errors here too (naming the sample and the frame) unless ``allow_missing``, which writes the file
  without them and reports them.
- The repository's older ``hcstvg_eval.py``/``vidstg_eval.py`` (commit 20c0019) compute
  ``max_end = min(gt_end, pred_end)``, a bug fixed in 3c32cc9 (``max``); the input is the same.

Boxes are our predicted boxes in decoded-frame pixels; where sample-frames rescaled a sample's GT
boxes onto the decoded frames (``box_scale``), predicted boxes are divided by the same ratio so
they are in the annotation's pixels, which the released GT files hold.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zstvg.config.params import Params
from zstvg.evaluation.metrics import FrameBoxes, in_span
from zstvg.files.io import InputError
from zstvg.files.records import Prediction, Sample, Status

log = logging.getLogger(__name__)

FORMATS = ("hcstvg-challenge", "tubedetr")
VIDEO_KEYS = ("file", "stem")

# prepare-data's VidSTG sample ids (zstvg.data.vidstg): TubeDETR's test.json and the raw files.
_VIDSTG_TUBEDETR_ID = re.compile(r"^[^:]+:(\d+):(declarative|interrogative)$")
_VIDSTG_RAW_ID = re.compile(r"^[^:]+:(\d+):(declarative|interrogative):(\d+)$")


@dataclass
class Export:
    """What to write, and what could not be written."""

    format: str
    payload: dict[str, Any]
    frame_base: int
    n_samples: int
    n_written: int = 0
    left_out: dict[str, str] = field(default_factory=dict)  # sample_id -> reason
    # sample_id -> frames (as written, i.e. + frame_base) the evaluator reads but that got no box
    missing_frames: dict[str, list[int]] = field(default_factory=dict)
    # sample_id -> GT-tube grid frames outside the predicted span where the chosen track is
    # absent: written as a zero box [0, 0, 0, 0] (IoU 0, as our protocol scores a frame without
    # a box; only TubeDETR's gt_viou reads them), so its evaluator does not raise
    placeholder_frames: dict[str, int] = field(default_factory=dict)


def left_out_reason(sample: Sample, pred: Prediction | None) -> str | None:
    """Why a sample has nothing to export (the reasons ``zstvg evaluate`` gives), else None."""
    if sample.error:
        return Status("prepare-data", sample.error).reason
    if pred is None:
        return "no prediction"
    if pred.error:
        return pred.error
    if pred.span is None:
        return "prediction has no span"
    return None


def _exportable(
    samples: Sequence[Sample], predictions: Mapping[str, Prediction], out: Export
) -> Iterator[tuple[Sample, Prediction, tuple[int, int]]]:
    """The samples with a prediction to export, with it and its span; the others are recorded
    in ``out.left_out`` with their reason."""
    for s in samples:
        pred = predictions.get(s.sample_id)
        reason = left_out_reason(s, pred)
        if reason is not None or pred is None or pred.span is None:
            out.left_out[s.sample_id] = reason or "no prediction"
            continue
        yield s, pred, (int(pred.span[0]), int(pred.span[1]))


def _boxes_json(
    pb: FrameBoxes, mask: np.ndarray, frame_base: int, scale: tuple[float, float] | None
) -> dict[str, list[float]]:
    boxes = pb.boxes[mask]
    if scale is not None:
        sx, sy = scale
        boxes = boxes / np.array([sx, sy, sx, sy])
    return {
        str(int(f) + frame_base): [float(v) for v in b]
        for f, b in zip(pb.frames[mask], boxes, strict=True)
    }


def _pred_boxes(
    sample: Sample, pred: Prediction, pred_boxes: Mapping[str, FrameBoxes] | None
) -> FrameBoxes:
    if pred_boxes is not None and sample.sample_id in pred_boxes:
        return pred_boxes[sample.sample_id]
    return FrameBoxes.from_mapping(pred.boxes_xyxy)


def challenge_video_key(sample: Sample, video_key: str) -> str:
    """The video name a sample is keyed by: its video file's name, or its video id (stem)."""
    if video_key == "stem":
        return sample.video_id
    if video_key != "file":
        raise ValueError(f"video_key: got {video_key!r}; expected one of {VIDEO_KEYS}")
    return os.path.basename(sample.video_path) or sample.video_id


def export_hcstvg_challenge(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    pred_boxes: Mapping[str, FrameBoxes] | None = None,
    *,
    frame_base: int = 1,
    video_key: str = "file",
    box_scale: Mapping[str, tuple[float, float] | None] | None = None,
    samples_file: str = "samples",
) -> Export:
    """The HC-STVG challenge results object (see the module docstring); failed and missing
    samples are left out and listed in ``left_out``."""
    seen: dict[str, str] = {}
    for s in samples:
        key = challenge_video_key(s, video_key)
        if key in seen:
            raise InputError(
                f"{samples_file}: samples {seen[key]!r} and {s.sample_id!r}: field "
                f"{'video_path' if video_key == 'file' else 'video_id'}: both are on video "
                f"{key!r}; the hcstvg-challenge format holds one query per video"
            )
        seen[key] = s.sample_id
    out = Export("hcstvg-challenge", {}, frame_base, len(samples))
    scales = box_scale or {}
    for s, pred, (ps, pe) in _exportable(samples, predictions, out):
        pb = _pred_boxes(s, pred, pred_boxes)
        out.payload[challenge_video_key(s, video_key)] = {
            "st_frame": ps + frame_base,
            "ed_frame": pe - 1 + frame_base,
            "bbox": _boxes_json(
                pb, in_span(pb.frames, ps, pe), frame_base, scales.get(s.sample_id)
            ),
        }
        out.n_written += 1
    return out


def tubedetr_video_ids(
    samples: Sequence[Sample], samples_file: str = "samples"
) -> tuple[dict[str, int], str]:
    """TubeDETR's ``video_id`` of each sample and the dataset convention (``"vidstg"`` or
    ``"hcstvg"``), from the sample ids prepare-data writes (see the module docstring)."""
    ids = [s.sample_id for s in samples]
    tubedetr = [_VIDSTG_TUBEDETR_ID.match(i) for i in ids]
    raw = [_VIDSTG_RAW_ID.match(i) for i in ids]
    if all(tubedetr):
        out = {i: int(m.group(1)) for i, m in zip(ids, tubedetr, strict=True) if m}
        dupes = len(ids) - len(set(out.values()))
        if dupes:
            raise InputError(
                f"{samples_file}: field sample_id: {dupes} sample(s) repeat a TubeDETR video_id "
                "(<vid>:<video_id>:<qtype>)"
            )
        return out, "vidstg"
    if all(raw):
        # TubeDETR's preproc_vidstg.py: entries in file order, each entry's questions (the
        # interrogative sentences) first, then its captions.
        counts: dict[int, list[int]] = {}
        for m in raw:
            if m:
                n = counts.setdefault(int(m.group(1)), [0, 0])
                n[m.group(2) == "declarative"] += 1
        start, offset = {}, 0
        for entry in sorted(counts):
            start[entry] = offset
            offset += sum(counts[entry])
        out = {}
        for i, m in zip(ids, raw, strict=True):
            if m:
                entry, k = int(m.group(1)), int(m.group(3))
                before = counts[entry][0] if m.group(2) == "declarative" else 0
                out[i] = start[entry] + before + k
        if len(set(out.values())) != len(ids) or max(out.values(), default=-1) >= len(ids):
            raise InputError(
                f"{samples_file}: field sample_id: the raw VidSTG ids (<vid>:<entry>:<qtype>:<k>) "
                "do not number every sentence of every entry once; TubeDETR's video ids need "
                "prepare-data's whole output for the annotation file"
            )
        return out, "vidstg"
    if any(tubedetr) or any(raw):
        raise InputError(
            f"{samples_file}: field sample_id: some ids are VidSTG ids and some are not; "
            "TubeDETR's video ids need one dataset's samples file"
        )
    return {i: n for n, i in enumerate(ids)}, "hcstvg"


def export_tubedetr(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    pred_boxes: Mapping[str, FrameBoxes] | None = None,
    *,
    grid_fps: float = 5.0,
    max_grid_frames: int = 200,
    frame_base: int | None = None,
    allow_missing: bool = False,
    box_scale: Mapping[str, tuple[float, float] | None] | None = None,
    samples_file: str = "samples",
    predictions_file: str = "predictions",
) -> Export:
    """TubeDETR's ``predictions`` and ``video_predictions`` (see the module docstring).

    ``frame_base`` defaults to the dataset's (1 for HC-STVG, 0 for VidSTG). Without
    ``allow_missing`` a left-out sample or a GT-tube grid frame without a box is an InputError
    naming them (TubeDETR's evaluator raises on both).
    """
    from zstvg.video.index import grid_frame_idx

    video_ids, dataset = tubedetr_video_ids(samples, samples_file)
    base = (1 if dataset == "hcstvg" else 0) if frame_base is None else frame_base
    boxes_out: dict[str, dict[str, list[list[float]]]] = {}
    videos_out: dict[str, dict[str, Any]] = {}
    sample_ids: dict[str, str] = {}
    out = Export(
        "tubedetr",
        {"predictions": boxes_out, "video_predictions": videos_out, "sample_ids": sample_ids},
        base,
        len(samples),
    )
    scales = box_scale or {}
    grids: dict[tuple[int, int, float], np.ndarray] = {}
    for s, pred, (ps, pe) in _exportable(samples, predictions, out):
        key = (s.clip_span[0], s.clip_span[1], s.fps)
        if key not in grids:
            grids[key] = np.asarray(
                grid_frame_idx(s.clip_span, s.fps, grid_fps=grid_fps, max_frames=max_grid_frames),
                dtype=np.int64,
            )
        grid = grids[key]  # decoded-frame positions, TubeDETR's frame_ids
        vid = video_ids[s.sample_id]
        pb = _pred_boxes(s, pred, pred_boxes)
        has, row = pb.lookup(grid - base)  # the box of our frame F - base goes under F
        scale = scales.get(s.sample_id)
        div = np.array([*scale, *scale]) if scale else None
        for f, r in zip(grid[has], row[has], strict=True):
            box = pb.boxes[r] if div is None else pb.boxes[r] / div
            boxes_out[f"{vid}_{int(f)}"] = {"boxes": [[float(v) for v in box]]}
        gs, ge = s.gt_span
        required = in_span(grid, gs + base, ge + base) & ~has
        in_pred = in_span(grid, ps + base, pe + base)
        missing = grid[required & in_pred]  # a predicted span holds a box on every frame
        if len(missing):
            out.missing_frames[s.sample_id] = [int(f) for f in missing]
        absent = grid[required & ~in_pred]
        for f in absent:
            boxes_out[f"{vid}_{int(f)}"] = {"boxes": [[0.0, 0.0, 0.0, 0.0]]}
        if len(absent):
            out.placeholder_frames[s.sample_id] = len(absent)
        video: dict[str, Any] = {"sted": [ps + base, pe + base]}
        if dataset == "vidstg":
            video["qtype"] = s.qtype
        videos_out[str(vid)] = video
        sample_ids[str(vid)] = s.sample_id
        out.n_written += 1
    if not allow_missing:
        _refuse_gaps(out, video_ids, samples, predictions_file, grid_fps)
    return out


def _refuse_gaps(
    out: Export,
    video_ids: Mapping[str, int],
    samples: Sequence[Sample],
    predictions_file: str,
    grid_fps: float,
) -> None:
    if out.left_out:
        shown = "; ".join(f"{sid}: {why}" for sid, why in list(out.left_out.items())[:5])
        more = f" and {len(out.left_out) - 5} more" if len(out.left_out) > 5 else ""
        raise InputError(
            f"{predictions_file}: {len(out.left_out)} sample(s) have no prediction to export "
            f"({shown}{more}); TubeDETR's evaluator raises 'video predictions missing' when a "
            "video has none. Pass --allow-missing to write the file without them"
        )
    if out.missing_frames:
        by_id = {s.sample_id: s for s in samples}
        lines = []
        for sid, frames in list(out.missing_frames.items())[:5]:
            s = by_id[sid]
            ours = ", ".join(str(f - out.frame_base) for f in frames[:5])
            extra = f" and {len(frames) - 5} more" if len(frames) > 5 else ""
            lines.append(
                f"sample {sid}: field boxes_xyxy: no box on frame(s) {ours}{extra} of the GT tube "
                f"[{s.gt_span[0]}, {s.gt_span[1]}) (TubeDETR reads '{video_ids[sid]}_{frames[0]}')"
            )
        more = (
            f"; and {len(out.missing_frames) - 5} more sample(s)"
            if len(out.missing_frames) > 5
            else ""
        )
        raise InputError(
            f"{predictions_file}: {'; '.join(lines)}{more}: TubeDETR's evaluator needs a box on "
            f"every {grid_fps:g} fps grid frame of the GT tube (it raises 'No prediction for "
            "frame'). Pass --allow-missing to write the file without them"
        )


def export_predictions(
    *,
    params: Params,
    samples: str,
    predictions: str,
    output_format: str,
    out: str,
    frames: str | None = None,
    frame_base: int | None = None,
    video_key: str = "file",
    allow_missing: bool = False,
) -> int:
    """The export-predictions step: read ``samples`` and ``predictions`` as ``zstvg evaluate``
    does (``frames``: leave out the samples it failed, scale boxes back to the annotation's
    pixels), write them to ``out`` in ``output_format`` (one of ``FORMATS``) with its
    provenance, print what was left out and return the exit code."""
    from zstvg.evaluation.io import load_inputs
    from zstvg.files.frames import FrameStore
    from zstvg.files.io import gc_paused, write_json
    from zstvg.files.provenance import write_provenance

    cfg = params.evaluate
    store = FrameStore(frames) if frames else None
    with gc_paused():
        rows, _, preds, pred_boxes = load_inputs(samples, predictions, store)
        scales = {s.sample_id: store.gt_scale_xy(s.sample_id) for s in rows} if store else None
        if output_format == "hcstvg-challenge":
            export = export_hcstvg_challenge(
                rows,
                preds,
                pred_boxes,
                frame_base=1 if frame_base is None else frame_base,
                video_key=video_key,
                box_scale=scales,
                samples_file=samples,
            )
        else:
            export = export_tubedetr(
                rows,
                preds,
                pred_boxes,
                grid_fps=cfg.grid_fps,
                max_grid_frames=cfg.max_grid_frames,
                frame_base=frame_base,
                allow_missing=allow_missing,
                box_scale=scales,
                samples_file=samples,
                predictions_file=predictions,
            )
        write_json(out, export.payload, indent=None)
    write_provenance(
        out,
        step="export-predictions",
        params=params.section("evaluate") if output_format == "tubedetr" else None,
        samples=samples,
        predictions=predictions,
        format=output_format,
        frame_base=export.frame_base,
    )
    print(
        f"[{output_format}] {export.n_written} of {export.n_samples} samples -> {out} "
        f"(frames numbered from {export.frame_base})"
    )
    if export.left_out:
        print(
            f"{len(export.left_out)} left out (failed or no prediction"
            + ("; the released script scores them 0" if output_format == "hcstvg-challenge" else "")
            + ")"
        )
        for sid, why in export.left_out.items():
            log.info("%s left out: %s", sid, why)
    if export.missing_frames:
        n = sum(len(f) for f in export.missing_frames.values())
        print(
            f"{n} GT-tube grid frames of {len(export.missing_frames)} samples have no box "
            "(TubeDETR's evaluator raises 'No prediction for frame' on them)"
        )
        for sid, fr in export.missing_frames.items():
            log.info("%s: no box on frames %s (as written)", sid, fr)
    if export.placeholder_frames:
        print(
            f"{sum(export.placeholder_frames.values())} GT-tube grid frames of "
            f"{len(export.placeholder_frames)} samples lie outside the predicted span where the "
            "chosen track is absent: written as [0, 0, 0, 0] (IoU 0, as `evaluate` scores them)"
        )
    return 0
