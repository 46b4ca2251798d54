"""TODO docstring."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from zstvg.config.params import Params
from zstvg.evaluation.io import load_samples
from zstvg.evaluation.visualize import (
    attention,
    contact_sheet,
    draw_frame,
    predicted_boxes,
    proposal_tracks,
    save,
    sheet_header,
    uniform,
    with_header,
)
from zstvg.files.frames import FrameStore, frame_path
from zstvg.files.io import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-id", required=True, help="the sample to draw")
    parser.add_argument("--samples", required=True, help="samples.jsonl")
    parser.add_argument("--predictions", default=None, help="predictions JSON (red boxes)")
    parser.add_argument(
        "--frames",
        required=True,
        help="frames manifest.json of sample-frames (or its folder)",
    )
    parser.add_argument(
        "--proposals",
        default=None,
        help="proposals manifest.json of import-proposals / propose (or its folder), or one "
        "proposal file in the authors' JSON format",
    )
    parser.add_argument(
        "--attention",
        default=None,
        metavar="FILE.npy",
        help="attention map (T, h, w) over T uniform frames of the clip",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=16,
        help="frames on the sheet and in the GIF, uniform over those stored",
    )
    parser.add_argument(
        "--decompositions", default=None, help="decompositions.jsonl: sub-queries on the sheet"
    )
    parser.add_argument(
        "--region", type=float, nargs=4, default=None, metavar=("X0", "Y0", "X1", "Y1"),
        help="frame region the attention grid covers (a centre-cropping backend); "
        "default: the whole frame",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace, params: Params) -> int:
    samples, gt_arrays = load_samples(args.samples)
    sample = next((s for s in samples if s.sample_id == args.sample_id), None)
    if sample is None:
        raise InputError(f"{args.samples}: no sample with sample_id {args.sample_id!r}")
    gt_fb = gt_arrays[sample.sample_id]
    gt = {int(f): b for f, b in zip(gt_fb.frames.tolist(), gt_fb.boxes.tolist(), strict=True)}
    pred = predicted_boxes(args.predictions, sample.sample_id, [s.sample_id for s in samples])
    tracks = proposal_tracks(args.proposals, sample.video_id) if args.proposals else []
    frames_manifest = Path(args.frames)
    if frames_manifest.is_dir():
        frames_manifest = frames_manifest / "manifest.json"
    store = FrameStore(frames_manifest)
    dec = None
    if args.decompositions:
        from zstvg.files.decompositions import read_decompositions

        dec = read_decompositions(args.decompositions).get(sample.sample_id)
    out = Path(args.out)
    sheet_path = out / f"{sample.sample_id}_sheet.png"
    gif_path = out / f"{sample.sample_id}.gif"
    status = store.sample_status(sample.sample_id)
    if not status.ok:
        # A sample without frames (a corrupt or missing video) still gets its sheet, saying why:
        # the workflow draws the first samples of every dataset, failed or not.
        from PIL import Image

        why = f"no frames ({status.step}): {status.error}"
        log.warning("%s: %s", sample.sample_id, why)
        page = with_header(Image.new("RGB", (640, 8)), [*sheet_header(sample.query, dec), why])
        save(page, [page], sheet_path, gif_path)
        print(f"{sample.sample_id}: {why} -> {sheet_path}, {gif_path}")
        return 0
    grid = store.sample(sample.video_id, sample.sample_id, kind="grid")
    mllm = store.sample(sample.video_id, sample.sample_id, kind="mllm")
    frame_idx = sorted(set(grid.frame_idx) | set(mllm.frame_idx))
    files = [frame_path(grid.directory, f) for f in frame_idx]
    if not frame_idx:
        raise InputError(f"{grid.directory}: no frames stored for sample {sample.sample_id!r}")
    att: np.ndarray | None = None
    att_frames: np.ndarray | None = None
    notes: list[str] = []
    if args.attention and not Path(args.attention).is_file():
        # A sample whose grounding failed has no map: its sheet still shows the boxes, and says
        # so (the workflow draws the first samples of every dataset, failed or not).
        log.warning("attention map not found, drawn without: %s", args.attention)
        notes.append(f"no attention map: {Path(args.attention).name} not found")
    elif args.attention:
        att, att_frames = attention(args.attention, list(mllm.frame_idx), sample.clip_span)
    images, shown = [], []
    for i in uniform(len(files), args.max_frames):
        f = frame_idx[i]
        a = None
        if att is not None and att_frames is not None:
            a = att[int(np.argmin(np.abs(att_frames - f)))]
        images.append(draw_frame(files[i], f, gt, pred, tracks, a, args.region))
        shown.append(f)
    header = sheet_header(sample.query, dec) + notes
    gif_frames = [with_header(im, [f"query: {sample.query}"]) for im in images]
    save(with_header(contact_sheet(images), header), gif_frames, sheet_path, gif_path)
    print(
        f"{sample.sample_id}: {len(shown)} frames ({shown[0]}..{shown[-1]}), "
        f"{len(tracks)} proposal tracks, attention {'yes' if att is not None else 'no'} -> "
        f"{sheet_path}, {gif_path}"
    )
    return 0
