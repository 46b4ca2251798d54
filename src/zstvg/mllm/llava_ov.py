"""LLaVA-OneVision backend (Table 1: llava-onevision-qwen2-7b-ov).

Video layout: every frame is resized to the vision tower's square input (384 x 384 for the 7B
model), encoded by SigLIP on its own, projected, and 2x2 bilinear-pooled (27 x 27 patches ->
14 x 14 tokens); the frames' tokens follow each other in time order and ONE learned newline
token closes the video. So the grid is (T, 14, 14) with ``frames_of_t[t] = (frame_idx[t],)``,
and the newline is an extra visual token (it takes part in the forward, not in ``attn_thw``).
20 frames -> 3,921 visual tokens.

TAS reversal at the token level IS equal to a forward on reversed frames: frames are encoded
independently and the LLM uses 1-D positions, so reversing the per-frame token blocks is the
same input as encoding the reversed frames (the newline stays last in both).

Pixel preprocessing: the LLaVA-OV video processor (torchvision-only in transformers 5.24)
resizes each frame to the square input size and normalizes it; the image processor's base
"anyres" view is exactly that, so frames go through the checkpoint's image processor with the
pinpoint grid restricted to one square tile and the base view is kept.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from zstvg.mllm.base import MLLM, MLLMInputs, VisualFeatures, VisualLayout


class LlavaOneVision(MLLM):
    name = "llava-ov"
    model_class = "LlavaOnevisionForConditionalGeneration"
    video_token = "<video>"
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"
    has_newline = True

    @property
    def video_token_id(self) -> int:
        return int(self.model.config.video_token_index)

    def _tokens_per_side(self) -> int:
        vc = self.model.config.vision_config
        return math.ceil(vc.image_size // vc.patch_size / 2)

    def _pixel_frames(self, frames: list[np.ndarray]) -> torch.Tensor:
        side = int(self.model.config.vision_config.image_size)
        out = self.image_processor(images=frames, image_grid_pinpoints=[[side, side]],
                                   return_tensors="pt")
        return out["pixel_values"][:, 0]  # the base view: the whole frame at side x side

    def _preprocess_frames(
        self, frames: list[np.ndarray], frame_idx: list[int], fps: float | None
    ) -> tuple[dict[str, torch.Tensor], int, tuple[int, int, int], tuple[tuple[int, ...], ...]]:
        pixels = self._pixel_frames(frames).unsqueeze(0)  # (1, T, 3, side, side)
        side = self._tokens_per_side()
        t = len(frames)
        n_tokens = t * side * side + int(self.has_newline)
        return ({"pixel_values_videos": pixels}, n_tokens, (t, side, side),
                tuple((i,) for i in frame_idx))

    def _expand_placeholder(self, text: str, n_tokens: int) -> str:
        if text.count(self.video_token) != 1:
            raise ValueError(f"{self.name}: expected one {self.video_token} in the prompt")
        return text.replace(self.video_token, self.video_token * n_tokens)

    def _layout(
        self, ids: torch.Tensor, grid_thw: tuple[int, int, int],
        frames_of_t: tuple[tuple[int, ...], ...],
    ) -> VisualLayout:
        index = torch.nonzero(ids == self.video_token_id).flatten().cpu()
        n_grid = math.prod(grid_thw)
        if len(index) != n_grid + int(self.has_newline):
            raise ValueError(f"{self.name}: {len(index)} video tokens for a {grid_thw} grid")
        return VisualLayout(visual_index=index, grid_index=index[:n_grid], grid_thw=grid_thw,
                            frames_of_t=frames_of_t, extra_index=index[n_grid:])

    def _visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        out = self.model.model.get_video_features(inputs.pixel_inputs["pixel_values_videos"])
        return VisualFeatures(out.pooler_output.reshape(-1, out.pooler_output.shape[-1]))
