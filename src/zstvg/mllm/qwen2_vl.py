"""Qwen2-VL backend (Table 1: Qwen2-VL-7B-Instruct).

Video layout: frames are resized to one size that is a multiple of 28 px (patch 14 x merge 2),
cut into 14 px patches, and two consecutive frames form one temporal patch (temporal_patch_size
2; an odd count repeats the last frame, as the video processor does). After the 2x2 spatial
merge a video of T frames at H x W pixels gives (ceil(T/2), H/28, W/28) tokens in (t, h, w)
order, so ``frames_of_t[t] = (frame_idx[2t], frame_idx[2t+1])``. 20 frames -> 10 slots.

TAS reversal at the token level is NOT equal to a forward on reversed frames: a temporal patch
mixes its 2 frames in one linear projection, so reversing frames also swaps the order inside
each pair, which the token-level reversal cannot do.

Pixel preprocessing: in transformers 5.24 the Qwen2-VL *video* processor imports torchvision
(absent here), so each frame goes through the checkpoint's image processor (same resize rule,
rescale and CLIP normalization) and the per-frame patches are paired into temporal patches
exactly as the video processor lays them out. Frames are capped at the video processor's default
of 768 merged tokens (768 * 28 * 28 px); unlike the video processor (floor of 128 tokens), small
frames are not upscaled beyond the image processor's own minimum.

M-RoPE: the embeddings path passes ``position_ids`` from ``model.model.get_rope_index`` (3-D
positions from the token types and ``video_grid_thw``) and clears the cached ``rope_deltas``
first, so no state leaks between unrelated calls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from zstvg.mllm.base import MLLM, MLLMInputs, VisualFeatures, VisualLayout

VIDEO_MAX_TOKENS = 768  # Qwen2-VL video processor default: at most 768 * 28 * 28 px per frame


class Qwen2VL(MLLM):
    name = "qwen2-vl"
    model_class = "Qwen2VLForConditionalGeneration"
    video_token = "<|video_pad|>"
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"

    @property
    def video_token_id(self) -> int:
        return int(self.model.config.video_token_id)

    def _frame_size(self) -> dict[str, int]:
        ip = self.image_processor
        unit = (ip.patch_size * ip.merge_size) ** 2
        size = ip.size
        lo = size["shortest_edge"] if isinstance(size, dict) else size.shortest_edge
        hi = size["longest_edge"] if isinstance(size, dict) else size.longest_edge
        return {"shortest_edge": lo, "longest_edge": min(hi, VIDEO_MAX_TOKENS * unit)}

    def _preprocess_frames(
        self, frames: list[np.ndarray], frame_idx: list[int], fps: float | None
    ) -> tuple[dict[str, torch.Tensor], int, tuple[int, int, int], tuple[tuple[int, ...], ...]]:
        ip = self.image_processor
        tp, merge = ip.temporal_patch_size, ip.merge_size
        slots = math.ceil(len(frames) / tp)
        padded = frames + [frames[-1]] * (slots * tp - len(frames))
        out = ip(images=padded, size=self._frame_size(), return_tensors="pt")
        grid = out["image_grid_thw"]
        _, gh, gw = (int(x) for x in grid[0])
        per_frame = out["pixel_values"].view(len(padded), gh * gw, 3, tp, ip.patch_size,
                                              ip.patch_size)
        # Each image row holds its frame tp times (broadcast); a video row holds tp frames.
        video = torch.stack([per_frame[s * tp + k, :, :, k] for s in range(slots)
                             for k in range(tp)], dim=0)
        video = video.view(slots, tp, gh * gw, 3, ip.patch_size, ip.patch_size)
        video = video.permute(0, 2, 3, 1, 4, 5).reshape(slots * gh * gw, -1)
        frames_of_t = tuple(tuple(dict.fromkeys(frame_idx[s * tp:(s + 1) * tp]))
                            for s in range(slots))
        grid_thw = torch.tensor([[slots, gh, gw]])
        n_tokens = slots * gh * gw // merge**2
        return ({"pixel_values_videos": video, "video_grid_thw": grid_thw}, n_tokens,
                (slots, gh // merge, gw // merge), frames_of_t)

    def _expand_placeholder(self, text: str, n_tokens: int) -> str:
        if text.count(self.video_token) != 1:
            raise ValueError(f"{self.name}: expected one {self.video_token} in the prompt")
        return text.replace(self.video_token, self.video_token * n_tokens)

    def _layout(
        self, ids: torch.Tensor, grid_thw: tuple[int, int, int],
        frames_of_t: tuple[tuple[int, ...], ...],
    ) -> VisualLayout:
        index = torch.nonzero(ids == self.video_token_id).flatten().cpu()
        if len(index) != math.prod(grid_thw):
            raise ValueError(f"{self.name}: {len(index)} video tokens for a {grid_thw} grid")
        return VisualLayout(visual_index=index, grid_index=index, grid_thw=grid_thw,
                            frames_of_t=frames_of_t)

    def _extra_inputs(
        self, input_ids: torch.Tensor, pixel_inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        # Token types for M-RoPE: 0 text, 1 image, 2 video.
        types = (input_ids == self.video_token_id).long() * 2
        return {"mm_token_type_ids": types.to(self.device)}

    def _visual_features(self, inputs: MLLMInputs) -> VisualFeatures:
        px = inputs.pixel_inputs
        out = self.model.model.get_video_features(px["pixel_values_videos"], px["video_grid_thw"])
        return VisualFeatures(torch.cat(list(out.pooler_output), dim=0))

    def _rope_kwargs(self, inputs: MLLMInputs) -> dict[str, Any]:
        return {"video_grid_thw": inputs.pixel_inputs["video_grid_thw"]}

    def _lm_kwargs(self, inputs: MLLMInputs, features: VisualFeatures) -> dict[str, Any]:
        inner = self.model.model
        inner.rope_deltas = None
        position_ids, _ = inner.get_rope_index(
            inputs.input_ids, mm_token_type_ids=inputs.extra["mm_token_type_ids"],
            attention_mask=torch.ones_like(inputs.input_ids), **self._rope_kwargs(inputs),
        )
        return {"position_ids": position_ids}
