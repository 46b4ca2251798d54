"""Backends with known attention, to check the grounding chain from maps to metrics.

:class:`ScriptedMLLM` is a :class:`~zstvg.mllm.protocol.GroundingModel` (encode,
visual_features, reverse, forward) without a network: its attention maps come from a function of
the prompt text and of which frame's content sits in each temporal slot (so a time-reversed input
gives reversed maps, as a real model's would), and its Yes/No logits from a function of the
visual prompt (so LRA has a gradient to follow). Each visual feature row carries the index of
the frame it shows, which is how reversal is seen.

:class:`AttentionOracle` (backend ``attention-oracle``, no checkpoint)
puts each frame's attention on the ground-truth box centre and nothing on frames outside the GT
span, weighted by how much of the frame's bin lies inside the span. A correct chain then picks,
on every sample, the track the ``oracle`` reference predictor picks, with a span inside the GT.

:class:`PlantedHead` (backend ``planted-head``, no checkpoint) has layers and heads: the
oracle's map in one (layer, head), noise in the others; probe-layers must find that pair.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zstvg.files.records import Sample
from zstvg.mllm.base import ForwardResult, FrameInput, MLLMInputs, VisualFeatures, VisualLayout
from zstvg.mllm.protocol import GroundTruthModel, HeadProbingModel

TOKENS = ("<|im_end|>", "\n", "<|im_start|>", "assistant", "\n")
HIDDEN = 4

# (text, frame position shown in each slot) -> maps (n_tokens, t, h, w)
MapsFn = Callable[[str, Sequence[int]], np.ndarray]
# (text, visual delta) -> z_yes - z_no, differentiable in delta
MarginFn = Callable[[str, torch.Tensor], torch.Tensor]


class ScriptedMLLM:
    name = "scripted"
    exact_reversal = True
    fixed_token = "<|im_start|>"
    # one layer of one head: the maps function's maps are that head's
    num_layers = 1
    num_heads = 1
    layers: tuple[int, ...] = (0,)
    heads: tuple[int, ...] | None = None

    def __init__(self, maps: MapsFn, grid_hw: tuple[int, int] = (8, 8),
                 margin: MarginFn | None = None) -> None:  # fmt: skip
        self.maps = maps
        self.grid_hw = grid_hw
        self.margin = margin or (lambda text, delta: delta.sum() * 0.0)
        self.n_forward = 0

    def set_answer_words(self, words: Sequence[str]) -> None:
        self.answer_words = tuple(words)

    def grid_region(self, width: int, height: int) -> tuple[float, float, float, float]:
        return (0.0, 0.0, float(width), float(height))

    def region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The grid covers the whole frame."""
        return self.grid_region(width, height)

    def recomputing(self, enabled: bool = True) -> AbstractContextManager[None]:
        """No layers to checkpoint."""
        return contextlib.nullcontext()

    def encode(self, frames: Sequence[FrameInput], frame_idx: Sequence[int], prompt: str,
               fps: float) -> MLLMInputs:  # fmt: skip
        t = len(frame_idx)
        h, w = self.grid_hw
        n_visual = t * h * w
        index = torch.arange(1, 1 + n_visual)
        layout = VisualLayout(index, index, (t, h, w), tuple((int(f),) for f in frame_idx))
        n = 1 + n_visual + len(TOKENS)
        inputs = MLLMInputs(
            input_ids=torch.zeros((1, n), dtype=torch.long),
            pixel_inputs={},
            layout=layout,
            candidate_positions=tuple(range(n - len(TOKENS), n)),
            candidate_tokens=TOKENS,
            frame_idx=tuple(int(f) for f in frame_idx),
        )
        inputs.extra["prompt"] = prompt  # type: ignore[assignment]
        return inputs

    def visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        t, h, w = inputs.layout.grid_thw
        slot = torch.arange(t, dtype=torch.float32).repeat_interleave(h * w)
        embeds = torch.zeros((t * h * w, HIDDEN))
        embeds[:, 0] = slot  # which frame's content this row carries
        return VisualFeatures(embeds)

    def reverse(self, features: VisualFeatures, inputs: MLLMInputs) -> VisualFeatures:
        return features.permuted(inputs.layout.reverse_rows())

    def head_maps(self, text: str, shown: Sequence[int]) -> np.ndarray:
        """Every layer's and head's maps ``(n_tokens, layers, heads, t, h, w)``."""
        return np.asarray(self.maps(text, shown))[:, None, None]

    def forward(self, inputs: MLLMInputs, features: VisualFeatures | None = None,
                visual_delta: torch.Tensor | None = None,
                positions: Sequence[int] | None = None,
                capture: bool = True, per_head: bool = False) -> ForwardResult:  # fmt: skip
        """The maps of the configured layers averaged over the configured heads (as a model's
        capture averages them), every head's with ``per_head``."""
        self.n_forward += 1
        feats = features if features is not None else self.visual_features(inputs)
        t, h, w = inputs.layout.grid_thw
        shown = [int(v) for v in feats.embeds[:: h * w, 0].round().tolist()]
        prompt = str(inputs.extra["prompt"])
        delta = visual_delta if visual_delta is not None else torch.zeros_like(feats.embeds)
        attn = every = None
        if capture or per_head:
            every = torch.as_tensor(np.asarray(self.head_maps(prompt, shown), dtype=np.float32))
            chosen = every[:, list(self.layers)]
            if self.heads is not None:
                chosen = chosen[:, :, list(self.heads)]
            attn = chosen.mean(dim=2)
        m = self.margin(prompt, delta)
        return ForwardResult(
            positions=inputs.candidate_positions,
            layers=self.layers,
            attn_thw=attn,
            yes_logit=m,
            no_logit=torch.zeros_like(m),
            last_logits=torch.stack([m, torch.zeros_like(m)]),
            attn_heads_thw=every if per_head else None,
        )


def gaussian_map(h: int, w: int, cy: float, cx: float, sigma: float = 0.6) -> np.ndarray:
    """A peak at grid coordinates (cy, cx) (cell units, cell centres at i + 0.5)."""
    ys = np.arange(h)[:, None] + 0.5
    xs = np.arange(w)[None, :] + 0.5
    return np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma**2))


class AttentionOracle(ScriptedMLLM):
    """Attention on the GT box centre of each frame inside the GT span (see module docstring)."""

    name = "attention-oracle"

    def __init__(self, neutral_prompt: str | None = None) -> None:
        super().__init__(self._maps, grid_hw=(16, 16))
        self.sample: Sample | None = None
        self.frame_idx: tuple[int, ...] = ()
        self.neutral_prompt = neutral_prompt

    @classmethod
    def load(cls, checkpoint: str | Path, **_: Any) -> AttentionOracle:
        """No weights: the maps come from the sample's GT (``checkpoint`` is ignored)."""
        return cls()

    def bind_sample(self, sample: Sample) -> None:
        """The sample being grounded (with its GT boxes), set by the engine."""
        self.sample = sample

    def encode(self, frames: Sequence[FrameInput], frame_idx: Sequence[int], prompt: str,
               fps: float) -> MLLMInputs:  # fmt: skip
        self.frame_idx = tuple(int(f) for f in frame_idx)
        self.height, self.width = np.asarray(frames[0]).shape[:2]
        return super().encode(frames, frame_idx, prompt, fps)

    def _frame_map(self, pos: int) -> np.ndarray:
        h, w = self.grid_hw
        sample = self.sample
        assert sample is not None, "bind_sample() first"
        f = self.frame_idx[pos]
        end = self.frame_idx[pos + 1] if pos + 1 < len(self.frame_idx) else sample.clip_span[1]
        g0, g1 = sample.gt_span
        inside = max(0, min(end, g1) - max(f, g0)) / max(1, end - f)
        box = sample.gt_boxes_xyxy.get(f)
        if not (g0 <= f < g1) or box is None or inside == 0:
            return np.zeros((h, w))
        cx = (box[0] + box[2]) / 2 / self.width * w
        cy = (box[1] + box[3]) / 2 / self.height * h
        return inside * gaussian_map(h, w, cy, cx)

    def _maps(self, text: str, shown: Sequence[int]) -> np.ndarray:
        h, w = self.grid_hw
        t = len(shown)
        if self.neutral_prompt is not None and text == self.neutral_prompt:
            one = np.full((t, h, w), 1.0 / (t * h * w))
        else:
            one = np.stack([self._frame_map(pos) for pos in shown])
        return np.repeat(one[None], len(TOKENS), axis=0)


class PlantedHead(AttentionOracle):
    """The attention oracle's GT-aligned map in one (layer, head) and noise in every other
    (backend ``planted-head``, no checkpoint; probe-layers' known answer).

    ``models.<name>.config`` sets its shape: ``num_layers`` (8), ``num_heads`` (4),
    ``planted_layer`` (5), ``planted_head`` (2). The noise is uniform in [0, NOISE_MAX) per cell,
    seeded by (layer, head, frame shown), so a reversed video shows reversed noise; the
    planted map peaks at 1 on the GT box centre of GT frames. A head mean of the planted layer
    keeps that peak (1/heads over noise of mean NOISE_MAX / 2); a range without that layer is
    noise and picks a track at random.
    """

    name = "planted-head"
    NOISE_MAX = 0.2

    def __init__(
        self,
        num_layers: int = 8,
        num_heads: int = 4,
        planted_layer: int = 5,
        planted_head: int = 2,
        layer_start: int = -26,
        layer_stop: int | None = -6,
        heads: Sequence[int] | None = None,
    ) -> None:
        from zstvg.mllm.base import resolve_heads, resolve_layers

        super().__init__()
        self.num_layers, self.num_heads = int(num_layers), int(num_heads)
        if not (0 <= planted_layer < num_layers and 0 <= planted_head < num_heads):
            raise ValueError(
                f"planted (layer {planted_layer}, head {planted_head}) outside "
                f"{num_layers} layers x {num_heads} heads"
            )
        self.planted = (int(planted_layer), int(planted_head))
        self.layers = resolve_layers(self.num_layers, layer_start, layer_stop)
        self.heads = resolve_heads(self.num_heads, heads)

    @classmethod
    def load(
        cls,
        checkpoint: str | Path,
        layer_start: int = -26,
        layer_stop: int | None = -6,
        heads: Sequence[int] | None = None,
        config_overrides: dict[str, int] | None = None,
        **_: Any,
    ) -> PlantedHead:
        """No weights: the shape comes from ``config_overrides`` (``checkpoint`` is ignored)."""
        return cls(**dict(config_overrides or {}), layer_start=layer_start,
                   layer_stop=layer_stop, heads=heads)  # fmt: skip

    def head_maps(self, text: str, shown: Sequence[int]) -> np.ndarray:
        h, w = self.grid_hw
        t = len(shown)
        if self.neutral_prompt is not None and text == self.neutral_prompt:
            out = np.full((self.num_layers, self.num_heads, t, h, w), 1.0 / (t * h * w))
        else:
            out = np.empty((self.num_layers, self.num_heads, t, h, w))
            for layer in range(self.num_layers):
                for head in range(self.num_heads):
                    for slot, pos in enumerate(shown):
                        rng = np.random.default_rng([layer, head, pos])
                        out[layer, head, slot] = rng.uniform(0, self.NOISE_MAX, (h, w))
            out[self.planted] = np.stack([self._frame_map(pos) for pos in shown])
        return np.repeat(out[None], len(TOKENS), axis=0)


# mypy checks the backends against what the grounding engine calls (zstvg.mllm.protocol):
# the scripted backend takes no cached prefix; the oracle also reads the sample's GT.
_scripted: type[HeadProbingModel] = ScriptedMLLM
_oracle: type[GroundTruthModel] = AttentionOracle
_planted: type[GroundTruthModel] = PlantedHead
_planted_heads: type[HeadProbingModel] = PlantedHead
