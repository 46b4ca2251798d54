"""Which layers and heads ground (docs/method.md#which-layers-and-heads-ground): one sample's
per-layer, per-head maps scored against its ground truth and its proposals; pure functions of
arrays, no model in here.

A *configuration* is a set of maps the method could average: one (layer, head), one layer (its
head mean), or a contiguous range of layers [a, b) (the mean of their head means, as the method
averages ``mllm.layer_start:layer_stop``). For each configuration the method's own rules run on
the query's relative map R = A(query) / (A(neutral) + eps): the grounding token is the most
visually activated candidate (GTI, on R or on A as ``ground.gti_activation`` says), and

- ``pointing``: on the MLLM frames that have a GT box, the share whose map peak (its grid cell's
  centre, in frame pixels) lies inside the box;
- ``mass``: on those frames, the share of the token's attention A over the frame's grid that
  falls in cells whose centre lies inside the box, averaged;
- ``track``: 1 where the track the method's track score picks from this map (the masked maximum
  of the upsampled map, ties to the lower id) is the GT's track, 0 where it is another one.

The GT's track is the proposal overlapping the GT tube best (the ``oracle`` reference
predictor's choice); a sample whose proposals never overlap the GT scores no ``track``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from zstvg.evaluation.layer_choice import METRICS, range_pairs
from zstvg.files.records import BoxXYXY

# The upsampled maps of one chunk of configurations stay under this many bytes (float64, one
# frame at a time): 720p frames -> 8 maps a chunk; a tiny frame -> every configuration.
UPSAMPLE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ProbeTarget:
    """What one sample's maps are scored against, per MLLM frame (index i)."""

    slots: Sequence[int]  # the temporal slot showing MLLM frame i
    gt_boxes_xyxy: Sequence[BoxXYXY | None]  # its GT box (None: not a GT frame)
    masks: Mapping[int, Sequence[np.ndarray | None]]  # track id -> its mask on frame i, or None
    gt_track: int | None  # the track overlapping the GT best (None: none overlaps it)
    height: int
    width: int
    region: tuple[float, float, float, float]  # x0, y0, x1, y1 of the frame the grid covers


def configurations(
    query: np.ndarray, neutral: np.ndarray, chunk: int
) -> Iterator[tuple[str, list[tuple[int, int]], np.ndarray, np.ndarray]]:
    """``(kind, keys, query maps, neutral maps)`` chunks of at most ``chunk`` configurations.

    ``query`` and ``neutral`` are ``(tokens, layers, heads, t, h, w)`` float32. ``kind`` is
    ``heads`` (keys (layer, head)), ``layers`` ((layer, layer + 1)) or ``ranges`` ((a, b));
    the maps are ``(n, tokens, t, h, w)`` float64. A layer's head mean is taken in float32, as
    the capture averages the heads it records; layers are averaged in float64, as the engine
    averages the captured layers.
    """
    n_layers, n_heads = query.shape[1:3]
    means = [torch.as_tensor(a).mean(dim=2).numpy().astype(np.float64) for a in (query, neutral)]
    heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    for i in range(0, len(heads), chunk):
        keys = heads[i : i + chunk]
        q, n = (
            np.stack([a[:, la, he] for la, he in keys]).astype(np.float64) for a in (query, neutral)
        )
        yield "heads", keys, q, n
    layers = [(layer, layer + 1) for layer in range(n_layers)]
    for i in range(0, n_layers, chunk):
        keys = layers[i : i + chunk]
        q, n = (np.stack([m[:, a] for a, _ in keys]) for m in means)
        yield "layers", keys, q, n
    ranges = range_pairs(n_layers)
    for i in range(0, len(ranges), chunk):
        keys = ranges[i : i + chunk]
        q, n = (np.stack([m[:, a:b].mean(axis=1) for a, b in keys]) for m in means)
        yield "ranges", keys, q, n


def chosen_maps(
    query: np.ndarray, neutral: np.ndarray, eps: float, gti_activation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per configuration (axis 0): the GTI token, its relative map and its raw map
    (``(n,)``, ``(n, t, h, w)``, ``(n, t, h, w)``), by the engine's rules."""
    relative = query / (neutral + eps)
    source = query if gti_activation == "raw" else relative
    n, n_tokens = source.shape[:2]
    activation = source.reshape(n, n_tokens, -1).max(axis=2)
    token = activation.argmax(axis=1)  # the first of equal ones, as scoring.gti
    pick = np.arange(n)
    return token, relative[pick, token], query[pick, token]


def _cell_inside(
    box: BoxXYXY, h: int, w: int, region: tuple[float, float, float, float]
) -> np.ndarray:
    """(h, w) booleans: grid cells whose centre, in frame pixels, lies inside ``box``."""
    x0, y0, x1, y1 = region
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y0 + (np.arange(h) + 0.5) * (y1 - y0) / h
    inside_x = (xs >= box[0]) & (xs < box[2])
    inside_y = (ys >= box[1]) & (ys < box[3])
    return inside_y[:, None] & inside_x[None, :]


def pointing_and_mass(
    relative: np.ndarray, raw: np.ndarray, target: ProbeTarget
) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration: pointing accuracy and attention mass inside the GT box (NaN where no
    MLLM frame has a GT box)."""
    n, _, h, w = relative.shape
    hits, masses = [], []
    for slot, box in zip(target.slots, target.gt_boxes_xyxy, strict=True):
        if box is None:
            continue
        inside = _cell_inside(box, h, w, target.region).reshape(-1)
        peak = relative[:, slot].reshape(n, -1).argmax(axis=1)
        hits.append(inside[peak])
        attn = raw[:, slot].reshape(n, -1)
        total = attn.sum(axis=1)
        masses.append(
            np.where(total > 0, attn[:, inside].sum(axis=1) / np.where(total > 0, total, 1), 0.0)
        )
    if not hits:
        return np.full(n, np.nan), np.full(n, np.nan)
    return np.mean(hits, axis=0), np.mean(masses, axis=0)


def chosen_tracks(relative: np.ndarray, target: ProbeTarget, device: str = "cpu") -> np.ndarray:
    """Per configuration, the track id the method's track score picks from its map: the
    maximum over MLLM frames of the map upsampled onto the frame (bilinear, 0 outside the
    region; :func:`zstvg.grounding.scoring.upsample`, batched) within the track's mask."""
    n = relative.shape[0]
    ids = sorted(target.masks)
    x0, y0, x1, y1 = target.region
    c0, r0 = max(0, int(round(x0))), max(0, int(round(y0)))
    c1, r1 = min(target.width, int(round(x1))), min(target.height, int(round(y1)))
    best = np.full((n, len(ids)), -np.inf)
    # a slot's map is upsampled once for the frames it shows (Qwen: 2 frames a slot)
    for slot in dict.fromkeys(target.slots):
        frames = [i for i, s in enumerate(target.slots) if s == slot]
        shown = [(j, target.masks[k][i]) for i in frames for j, k in enumerate(ids)]
        masks = [(j, m) for j, m in shown if m is not None and m.any()]
        if not masks:
            continue
        up = np.zeros((n, target.height, target.width))
        if c1 > c0 and r1 > r0:
            maps = torch.as_tensor(relative[:, slot], device=device)[:, None]
            resized = torch.nn.functional.interpolate(
                maps, size=(r1 - r0, c1 - c0), mode="bilinear", align_corners=False
            )
            up[:, r0:r1, c0:c1] = resized[:, 0].cpu().numpy()
        for j, mask in masks:
            best[:, j] = np.maximum(best[:, j], up[:, mask].max(axis=1))
    # the highest score; equal scores go to the lower id (ids are sorted), as choose_track
    return np.asarray(ids)[best.argmax(axis=1)]


def probe_scores(
    query: np.ndarray,
    neutral: np.ndarray,
    target: ProbeTarget,
    eps: float,
    gti_activation: str = "relative",
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """One sample's scores: ``heads_<metric>`` (layers, heads), ``layers_<metric>`` (layers,)
    and ``ranges_<metric>`` (layers + 1, layers + 1), [a, b] the range [a, b) (NaN below the
    diagonal and where a metric is undefined), for each of :data:`METRICS`."""
    n_layers, n_heads = query.shape[1:3]
    shape = {"heads": (n_layers, n_heads), "layers": (n_layers,),
             "ranges": (n_layers + 1, n_layers + 1)}  # fmt: skip
    out = {f"{kind}_{m}": np.full(s, np.nan) for kind, s in shape.items() for m in METRICS}
    frame_px = target.height * target.width * 8
    chunk = max(1, UPSAMPLE_BYTES // frame_px)
    for kind, keys, q, n in configurations(query, neutral, chunk):
        _, relative, raw = chosen_maps(q, n, eps, gti_activation)
        pointing, mass = pointing_and_mass(relative, raw, target)
        if target.gt_track is None or not target.masks:
            track = np.full(len(keys), np.nan)
        else:
            track = (chosen_tracks(relative, target, device) == target.gt_track).astype(float)
        for metric, values in zip(METRICS, (pointing, mass, track), strict=True):
            array = out[f"{kind}_{metric}"]
            for (a, b), v in zip(keys, values, strict=True):
                index = a if kind == "layers" else (a, b)
                array[index] = v
    return out
