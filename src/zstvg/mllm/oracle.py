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
from zstvg.mllm.protocol import GroundingModel, GroundTruthModel

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

    def forward(self, inputs: MLLMInputs, features: VisualFeatures | None = None,
                visual_delta: torch.Tensor | None = None,
                positions: Sequence[int] | None = None,
                capture: bool = True) -> ForwardResult:  # fmt: skip
        self.n_forward += 1
        feats = features if features is not None else self.visual_features(inputs)
        t, h, w = inputs.layout.grid_thw
        shown = [int(v) for v in feats.embeds[:: h * w, 0].round().tolist()]
        prompt = str(inputs.extra["prompt"])
        delta = visual_delta if visual_delta is not None else torch.zeros_like(feats.embeds)
        attn = None
        if capture:
            maps = np.asarray(self.maps(prompt, shown), dtype=np.float32)
            attn = torch.as_tensor(maps)[:, None]  # one layer
        m = self.margin(prompt, delta)
        return ForwardResult(
            positions=inputs.candidate_positions,
            layers=(0,),
            attn_thw=attn,
            yes_logit=m,
            no_logit=torch.zeros_like(m),
            last_logits=torch.stack([m, torch.zeros_like(m)]),
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


# mypy checks the backends against what the grounding engine calls (zstvg.mllm.protocol):
# the scripted backend takes no cached prefix; the oracle also reads the sample's GT.
_scripted: type[GroundingModel] = ScriptedMLLM
_oracle: type[GroundTruthModel] = AttentionOracle
