"""Qwen2-VL backend (Table 1: Qwen2-VL-7B-Instruct).

Video layout (``Qwen2VLVideoProcessor``): frames are resized to one size that is a multiple of
28 px (patch 14 x merge 2) within the per-frame pixel budget (below), and two consecutive frames
form one temporal patch (temporal_patch_size 2; an odd
count repeats the last frame). After the 2x2 spatial merge a video of T frames at H x W pixels
gives ``video_grid_thw`` = (ceil(T/2), H/14, W/14), i.e. (ceil(T/2), H/28, W/28) tokens in
(t, h, w) order, so ``frames_of_t[t] = (frame_idx[2t], frame_idx[2t+1])``. 20 frames -> 10 slots.

Pixel budget: the models' own video pipeline, qwen-vl-utils (``fetch_video``), resizes
each frame to 128-768 merged tokens (VIDEO_MIN_PIXELS = 128 x 28 x 28, VIDEO_MAX_PIXELS =
768 x 28 x 28 px) and at most to an even share of a whole-video budget of 0.9 x 128,000 tokens
(per frame: total / n_frames x 2; 11,520 tokens at 20 frames, so the 768 cap binds). transformers
5.24 takes the per-frame bounds from ``size`` (``shortest_edge``/``longest_edge``, in pixels) and
applies the whole-video share only with ``cap_pixels_per_frame=True``; left unset it keeps the
uncapped behaviour and logs that the capped one becomes the default in v5.22. This backend passes
``cap_pixels_per_frame=True`` on every call (:attr:`pipeline_video_kwargs`); params'
``models.<name>.processor`` sets ``size`` to qwen-vl-utils' bounds for the real checkpoints, whose
own processor config holds the image bounds (Qwen2-VL-7B-Instruct's preprocessor_config.json:
4-16,384 tokens), which transformers would otherwise apply to video frames too. A 1280 x 720 frame
then gives 20 x 36 = 720 tokens, as in qwen-vl-utils (26 x 46 = 1,196 under the image bounds).

TAS reversal at the token level is NOT equal to a forward on reversed frames: a temporal patch
mixes its 2 frames in one linear projection, so reversing frames also swaps the order inside
each pair, which the token-level reversal cannot do.

M-RoPE: the model's forward builds the 3-D positions from ``mm_token_type_ids`` and
``video_grid_thw`` (both from the processor); the cached ``rope_deltas`` are cleared before every
call (``MLLM._run``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch

from zstvg.mllm.base import MLLM, MLLMInputs, VisualFeatures
from zstvg.mllm.protocol import PrefixCachingModel

if TYPE_CHECKING:
    from transformers.utils.generic import ModelOutput


class Qwen2VL(MLLM):
    name = "qwen2-vl"
    model_class = "Qwen2VLForConditionalGeneration"
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"
    temporal_patch = 2
    exact_reversal = False  # a temporal patch mixes 2 frames
    # qwen-vl-utils' whole-video share per frame (module docstring), never transformers' default
    pipeline_video_kwargs = MappingProxyType({"cap_pixels_per_frame": True})

    def __init__(self, model: Any, processor: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(model, processor, *args, **kwargs)
        # The capped resize reads max_video_tokens from the video processor itself; given to a
        # call it is silently ignored (transformers 5.24), so a params value is set here.
        if "max_video_tokens" in self.video_kwargs:
            tokens = int(self.video_kwargs.pop("max_video_tokens"))
            processor.video_processor.max_video_tokens = tokens

    def input_wh(self, inputs: MLLMInputs) -> tuple[int, int]:
        # video_grid_thw counts 14 px patches (before the 2 x 2 merge)
        _, h, w = (int(x) for x in inputs.extra["video_grid_thw"][0])
        patch = int(self.processor.video_processor.patch_size)
        return w * patch, h * patch

    def _grid(
        self, pixel_inputs: dict[str, torch.Tensor], extra: dict[str, Any], n_frames: int
    ) -> tuple[int, int, int]:
        t, h, w = (int(x) for x in extra["video_grid_thw"][0])
        merge = int(self.processor.video_processor.merge_size)
        return t, h // merge, w // merge

    def _encoder(self, inputs: MLLMInputs) -> Any:
        return self.model.model.get_video_features(
            inputs.pixel_inputs["pixel_values_videos"],
            inputs.extra["video_grid_thw"],
            return_dict=True,
        )

    def _compute_position_ids(self, inputs: MLLMInputs) -> torch.Tensor:
        """The 3-D M-RoPE positions of the whole sequence (the model's own ``get_rope_index``
        on the full input): a prefix and a suffix forward then use exactly the positions of the
        full forward."""
        import inspect

        rope = self.model.model.get_rope_index
        known = inspect.signature(rope).parameters
        kwargs = {k: v for k, v in inputs.extra.items() if k in known}
        positions, _ = rope(
            inputs.input_ids, attention_mask=torch.ones_like(inputs.input_ids), **kwargs
        )
        return positions

    def _encoder_output(self, visual: torch.Tensor, features: VisualFeatures) -> ModelOutput:
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        # The model reads pooler_output as per-image splits (a tuple), not the Tensor its
        # dataclass annotates.
        return BaseModelOutputWithPooling(pooler_output=(visual,))  # type: ignore[arg-type]


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = Qwen2VL
