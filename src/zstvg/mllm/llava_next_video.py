"""LLaVA-NeXT-Video backend (Table 1: LLaVA-NeXT-Video-7B, Vicuna-7B LLM).

Video layout (``LlavaNextVideoVideoProcessor`` + the model): every frame is resized (shortest
edge 336 for the 7B model) and center-cropped to 336 x 336, encoded by CLIP-L/14 on its own
(24 x 24 patches, CLS dropped), 2x2 average-pooled to 12 x 12 and projected; frames follow each
other in time order with no separator token. So the grid is (T, 12, 12) with
``frames_of_t[t] = (frame_idx[t],)``; 20 frames -> 2,880 visual tokens. The center crop drops
the sides of wide frames (a 16:9 frame keeps its middle 56 %).

TAS reversal at the token level IS equal to a forward on reversed frames: frames are encoded
independently and the LLM uses 1-D positions.

Chat template (Vicuna style): "USER: <video>\\n{prompt} ASSISTANT:"; the grounding candidates
are the tokens of " ASSISTANT:".
"""

from __future__ import annotations

from typing import Any

import torch

from zstvg.mllm.base import MLLM
from zstvg.mllm.protocol import PrefixCachingModel


class LlavaNextVideo(MLLM):
    name = "llava-next-video"
    model_class = "LlavaNextVideoForConditionalGeneration"
    grounding_suffix = " ASSISTANT:"
    fixed_token = "▁A"  # of "ASSISTANT:", the authors' index -5 in their Vicuna template

    def grid_region(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The centre square the processor keeps: resize the shortest edge to S, crop C x C.

        In frame pixels the crop is C / scale wide with scale = S / min(width, height): for
        S = C a 2:1 frame keeps its middle half (the outer quarter of each side is never seen),
        a 16:9 one its middle 56%.
        """
        vp = self.processor.video_processor
        if not getattr(vp, "do_center_crop", False):
            return super().grid_region(width, height)
        size = dict(getattr(vp, "size", {}) or {})
        crop = dict(getattr(vp, "crop_size", {}) or {})
        shortest = size.get("shortest_edge")
        if not shortest or not crop:
            return super().grid_region(width, height)
        scale = float(shortest) / min(width, height)
        cw, ch = float(crop["width"]) / scale, float(crop["height"]) / scale
        x0, y0 = (width - cw) / 2.0, (height - ch) / 2.0
        return (max(0.0, x0), max(0.0, y0), min(float(width), x0 + cw), min(float(height), y0 + ch))

    def _grid(
        self, pixel_inputs: dict[str, torch.Tensor], extra: dict[str, Any], n_frames: int
    ) -> tuple[int, int, int]:
        _, t, _, h, w = pixel_inputs["pixel_values_videos"].shape
        patch = int(self.model.config.vision_config.patch_size)
        stride = int(self.model.config.spatial_pool_stride)
        return int(t), h // patch // stride, w // patch // stride


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = LlavaNextVideo
