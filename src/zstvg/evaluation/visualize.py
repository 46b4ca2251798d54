"""``zstvg visualize``: one sample's frames with GT (green) and predicted (red) boxes.

Frames come from ``zstvg sample-frames``: ``<frames>/<video_id>/<frame_idx:06d>.jpg`` (native
0-based frame index in the name). Optional: proposal tracks in the authors' per-video JSON
(read with :mod:`zstvg.files.proposal_tracks`; only this command imports it, the metric code
does not) drawn as thin coloured outlines, and an attention map ``.npy`` of shape (T, h, w) for
the T MLLM frames, taken as T uniform frames over the sample's clip
(docs/method.md#frame-sampling-a-frame-stands-for-its-bin: 20 uniform frames) and drawn as a
heat-map overlay on the nearest shown frame. Output: a PNG contact sheet and an animated GIF (PIL).
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zstvg.evaluation.io import load_predictions, load_samples
from zstvg.files.frames import FrameStore, frame_path
from zstvg.files.io import InputError, atomic_open
from zstvg.files.proposals import ProposalStore

if TYPE_CHECKING:
    from zstvg.files.decompositions import Decomposition

log = logging.getLogger(__name__)

GT_COLOR = (0, 200, 0)
PRED_COLOR = (230, 0, 0)
TRACK_COLORS = [
    (31, 119, 180),
    (255, 127, 14),
    (148, 103, 189),
    (23, 190, 207),
    (188, 189, 34),
    (227, 119, 194),
    (140, 86, 75),
    (127, 127, 127),
]


def uniform(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})


# The heat map's most-attended cells reach this opacity (of 255): the frame under it stays
# readable everywhere (the demo sheet of [5/11] used 160 and hid the frames).
HEAT_MAX_ALPHA = 110


def _heat(att: np.ndarray, size: tuple[int, int]) -> Any:
    """(h, w) attention -> RGBA overlay (jet-like ramp), alpha growing with attention."""
    from PIL import Image

    a = att.astype(np.float64)
    a = (a - a.min()) / (a.max() - a.min() + 1e-12)
    rgba = np.zeros((*a.shape, 4), dtype=np.uint8)
    rgba[..., 0] = (255 * np.clip(1.5 * a - 0.25, 0, 1)).astype(np.uint8)
    rgba[..., 1] = (255 * np.clip(1.5 - np.abs(3 * a - 1.5), 0, 1)).astype(np.uint8)
    rgba[..., 2] = (255 * np.clip(1.25 - 1.5 * a, 0, 1)).astype(np.uint8)
    rgba[..., 3] = (HEAT_MAX_ALPHA * a).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA").resize(size, Image.Resampling.BILINEAR)


def draw_frame(
    image: Path | np.ndarray | Any,
    frame_idx: int,
    gt: Mapping[int, Sequence[float]],
    pred: Mapping[int, Sequence[float]],
    tracks: Sequence[Any],
    attention: np.ndarray | None,
    attention_region: Sequence[float] | None = None,
) -> Any:
    """One annotated RGB frame: translucent attention under (on the region the model saw),
    tracks thin, GT green, prediction red, the frame index in a corner."""
    from PIL import Image, ImageDraw

    if isinstance(image, Path | str):
        img = Image.open(image).convert("RGB")
    elif isinstance(image, np.ndarray):
        img = Image.fromarray(image).convert("RGB")
    else:
        img = image.convert("RGB")
    if attention is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in (attention_region or (0, 0, *img.size)))
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        layer.paste(_heat(attention, (max(1, x1 - x0), max(1, y1 - y0))), (x0, y0))
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i, track in enumerate(tracks):
        box = track.boxes_xyxy.get(frame_idx)
        if box is not None:
            draw.rectangle(box, outline=TRACK_COLORS[i % len(TRACK_COLORS)], width=1)
    if frame_idx in gt:
        draw.rectangle(tuple(gt[frame_idx]), outline=GT_COLOR, width=3)
    if frame_idx in pred:
        draw.rectangle(tuple(pred[frame_idx]), outline=PRED_COLOR, width=2)
    label = f"frame {frame_idx}"  # bottom-left: boxes near the top stay visible
    bottom = img.size[1]
    draw.rectangle((0, bottom - 14, 8 + 6 * len(label), bottom), fill=(0, 0, 0))
    draw.text((4, bottom - 13), label, fill=(255, 255, 255))
    return img


def sheet_header(query: str, decomposition: Decomposition | None) -> list[str]:
    """The text above a sheet: the query and the two yes/no sub-queries the MLLM is asked
    (spatial: the attribute, temporal: the action), and whether they come from the rule-based
    fallback (a failed or skipped LLM call) instead of the LLM."""
    lines = [f"query: {query}"]
    if decomposition is None:
        return lines
    lines += [
        f"spatial sub-query: {decomposition.spatial_query}",
        f"temporal sub-query: {decomposition.temporal_query}",
    ]
    if decomposition.source == "fallback":
        why = f": {decomposition.error}" if decomposition.error else ""
        lines.append(f"sub-queries from the rule-based fallback{why}")
    return lines


def _text_scale(width: int) -> int:
    """PIL's default font is 10 px high on 14 px lines: legible on the demo's 4 x 96 px sheet,
    but a sheet of real frames (4 x 640 px and more) is shown ~3x smaller in the report, so the
    text grows with the sheet: x1 up to 1.5k px, x3 at 2.5k px."""
    return max(1, round(width / 1000))


def with_header(image: Any, lines: Sequence[str], legend: bool = True, gt: bool = True) -> Any:
    """The image under a black band holding ``lines`` (the query, its sub-queries) and a
    colour legend (GT green, prediction red, proposals thin, attention heat map)."""
    from PIL import Image, ImageDraw, ImageFont

    width = image.size[0]
    s = _text_scale(width)
    font = ImageFont.load_default(size=10 * s)
    chars = max(20, width // (7 * s))
    wrapped = [w for ln in lines for w in (textwrap.wrap(ln, chars) or [""])]
    rows = len(wrapped) + (1 if legend else 0)
    band = 14 * s * rows + 6
    out = Image.new("RGB", (width, image.size[1] + band), (0, 0, 0))
    out.paste(image, (0, band))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(wrapped):
        draw.text((4, 3 + 14 * s * i), text, fill=(255, 255, 255), font=font)
    if legend:
        y = 3 + 14 * s * len(wrapped)
        x = 4
        keys = (
            *((("GT", GT_COLOR),) if gt else ()),
            ("prediction", PRED_COLOR),
            ("proposals", TRACK_COLORS[0]),
            ("attention", (255, 200, 0)),
        )
        for label, color in keys:
            draw.rectangle((x, y + 2 * s, x + 10 * s, y + 10 * s), outline=color, width=2 * s)
            draw.text((x + 14 * s, y), label, fill=(255, 255, 255), font=font)
            x += (14 + 7 * len(label) + 10) * s
    return out


def contact_sheet(images: Sequence[Any], cols: int = 4) -> Any:
    from PIL import Image

    w, h = images[0].size
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * w, rows * h), (0, 0, 0))
    for i, im in enumerate(images):
        sheet.paste(im.resize((w, h)), ((i % cols) * w, (i // cols) * h))
    return sheet


def save_gif(path: Path, frames: Sequence[Any], duration_ms: int) -> None:
    """An animated GIF of RGB ``frames`` (PIL images), looping, written atomically.

    Each frame is quantised to its 256 colours by PIL's fast octree: PIL's default, median cut,
    took 1.66 s for 48 frames of 640x334 (bikes.mp4), the octree 0.20 s, for a smaller file."""
    from PIL import Image

    paletted = [im.quantize(method=Image.Quantize.FASTOCTREE) for im in frames]
    with atomic_open(path, "wb") as fh:
        paletted[0].save(
            fh, format="GIF", save_all=True, append_images=paletted[1:], duration=duration_ms,
            loop=0,
        )  # fmt: skip


def save(sheet: Any, gif_frames: Sequence[Any], sheet_path: Path, gif_path: Path) -> None:
    with atomic_open(sheet_path, "wb") as fh:
        sheet.save(fh, format="PNG")
    save_gif(gif_path, gif_frames, duration_ms=250)


def predicted_boxes(
    predictions: str | None, sample_id: str, sample_ids: list[str]
) -> dict[int, Sequence[float]]:
    """The sample's predicted tube: its box per frame of the predicted span (none without a
    predictions file, an entry or a span). The boxes a prediction holds outside its span (the
    chosen track where it exists, for gt_vIoU) are not drawn: red means "predicted here"."""
    if not predictions:
        return {}
    preds, pred_arrays = load_predictions(predictions, sample_ids)
    span = preds[sample_id].span if sample_id in preds else None
    if span is None or sample_id not in pred_arrays:
        return {}
    fb = pred_arrays[sample_id]
    inside = (fb.frames >= span[0]) & (fb.frames < span[1])
    return dict(zip(fb.frames[inside].tolist(), fb.boxes[inside].tolist(), strict=True))


def proposal_tracks(proposals: str, video_id: str) -> list[Any]:
    """The video's proposal tracks, from a proposals folder (or its manifest) or one file."""
    source = Path(proposals)
    if source.name == "manifest.json" or source.is_dir():
        return ProposalStore(source).tracks(video_id)
    from zstvg.files import proposal_tracks as official_format

    return list(official_format.read(source).tracks)


def attention(
    path: str, mllm_frame_idx: list[int], clip_span: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The (T, h, w) attention maps and the native frame each one stands for."""
    att = np.load(path)
    if att.ndim != 3:
        raise InputError(f"{path}: attention must have shape (T, h, w), got {att.shape}")
    if att.shape[0] == len(mllm_frame_idx):  # one map per MLLM frame
        return att, np.asarray(mllm_frame_idx)
    # a temporal slot spans several frames (Qwen): T slots uniform over the clip
    c0, c1 = clip_span
    return att, np.linspace(c0, c1 - 1, att.shape[0]).round().astype(int)


def visualize(
    *,
    sample_id: str,
    samples: str,
    frames: str,
    out: str,
    predictions: str | None = None,
    proposals: str | None = None,
    attention_map: str | None = None,
    max_frames: int = 16,
    decompositions: str | None = None,
    region: Sequence[float] | None = None,
) -> int:
    """The visualize step: sample ``sample_id``'s stored frames (at most ``max_frames``, uniform)
    with its GT, its predicted tube from ``predictions``, the tracks of ``proposals`` and the
    ``attention_map`` (over ``region`` of the frame, default all of it) as a contact sheet and a
    GIF under ``out``, its sub-queries from ``decompositions`` in the header; prints what it drew
    and returns the exit code."""
    rows, gt_arrays = load_samples(samples)
    sample = next((s for s in rows if s.sample_id == sample_id), None)
    if sample is None:
        raise InputError(f"{samples}: no sample with sample_id {sample_id!r}")
    gt_fb = gt_arrays[sample.sample_id]
    gt = {int(f): b for f, b in zip(gt_fb.frames.tolist(), gt_fb.boxes.tolist(), strict=True)}
    pred = predicted_boxes(predictions, sample.sample_id, [s.sample_id for s in rows])
    tracks = proposal_tracks(proposals, sample.video_id) if proposals else []
    frames_manifest = Path(frames)
    if frames_manifest.is_dir():
        frames_manifest = frames_manifest / "manifest.json"
    store = FrameStore(frames_manifest)
    dec = None
    if decompositions:
        from zstvg.files.decompositions import read_decompositions

        dec = read_decompositions(decompositions).get(sample.sample_id)
    out_dir = Path(out)
    sheet_path = out_dir / f"{sample.sample_id}_sheet.png"
    gif_path = out_dir / f"{sample.sample_id}.gif"
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
    if attention_map and not Path(attention_map).is_file():
        # A sample whose grounding failed has no map: its sheet still shows the boxes, and says
        # so (the workflow draws the first samples of every dataset, failed or not).
        log.warning("attention map not found, drawn without: %s", attention_map)
        notes.append(f"no attention map: {Path(attention_map).name} not found")
    elif attention_map:
        att, att_frames = attention(attention_map, list(mllm.frame_idx), sample.clip_span)
    images, shown = [], []
    for i in uniform(len(files), max_frames):
        f = frame_idx[i]
        a = None
        if att is not None and att_frames is not None:
            a = att[int(np.argmin(np.abs(att_frames - f)))]
        images.append(draw_frame(files[i], f, gt, pred, tracks, a, region))
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
