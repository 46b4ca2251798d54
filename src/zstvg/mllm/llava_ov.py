"""LLaVA-OneVision backend (Table 1: llava-onevision-qwen2-7b-ov).

Video layout (``LlavaOnevisionVideoProcessor`` + the model): every frame is resized to the
vision tower's square input (384 x 384 for the 7B model), encoded by SigLIP on its own,
projected, and 2x2 bilinear-pooled (27 x 27 patches -> 14 x 14 tokens); the frames' tokens
follow each other in time order and ONE learned newline token closes the video. So the grid is
(T, 14, 14) with ``frames_of_t[t] = (frame_idx[t],)``, and the newline is an extra visual token
(it takes part in the forward, not in ``attn_thw``). 20 frames -> 3,921 visual tokens.

TAS reversal at the token level IS equal to a forward on reversed frames: frames are encoded
independently and the LLM uses 1-D positions, so reversing the per-frame token blocks is the
same input as encoding the reversed frames (the newline stays last in both).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from zstvg.mllm.base import MLLM
from zstvg.mllm.protocol import PrefixCachingModel


class LlavaOneVision(MLLM):
    name = "llava-ov"
    model_class = "LlavaOnevisionForConditionalGeneration"
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"

    def _grid(
        self, pixel_inputs: dict[str, torch.Tensor], extra: dict[str, Any], n_frames: int
    ) -> tuple[int, int, int]:
        vc = self.model.config.vision_config
        side = math.ceil(vc.image_size // vc.patch_size / 2)  # the model's bilinear 2x pooling
        return int(pixel_inputs["pixel_values_videos"].shape[1]), side, side


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = LlavaOneVision
