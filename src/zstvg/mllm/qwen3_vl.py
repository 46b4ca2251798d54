"""Qwen3-VL backend (newest Qwen; e.g. Qwen3-VL-8B-Instruct).

Video layout (``Qwen3VLVideoProcessor`` + ``Qwen3VLProcessor``): patch 16 x merge 2 = 32 px per
token, 2-frame temporal patches as in Qwen2-VL, so the grid is (ceil(T/2), H/32, W/32) and
``frames_of_t[t] = (frame_idx[2t], frame_idx[2t+1])``. Unlike Qwen2/2.5-VL the processor writes
one block per temporal slot, ``<{t:.1f} seconds><|vision_start|>`` + h*w ``<|video_pad|>`` +
``<|vision_end|>``, with t the mean time of the slot's two frames (native ``frame_idx / fps``;
the adapter passes both as ``VideoMetadata``). Only the ``<|video_pad|>`` tokens are visual; they
still come in row-major (t, h, w) order. (transformers 5.24 replaces only the template's
``<|video_pad|>``, so the template's own ``<|vision_start|>``/``<|vision_end|>`` also enclose
the slot blocks; that is the model's input as transformers builds it.) M-RoPE gives each slot
block its own 3-D positions (temporal index 0 within a block, time carried by the timestamp
text).

Pixel budget: qwen-vl-utils (the Qwen3-VL version, patch 16) resizes each frame to 128-768 merged
tokens of 32 x 32 px (VIDEO_MIN_TOKEN_NUM, VIDEO_MAX_TOKEN_NUM) and at most to an even share of a
whole-video budget of 0.9 x MODEL_SEQ_LEN (128,000) tokens, total / n_frames x 2 per frame.
transformers' ``Qwen3VLVideoProcessor`` reads ``size["longest_edge"]`` as the whole clip's budget
(frames x height x width) and, with ``cap_pixels_per_frame=True`` (inherited
:attr:`~zstvg.mllm.base.MLLM.pipeline_video_kwargs`; unset it logs that the capped behaviour
becomes the default in v5.22), limits each frame to min(max_video_tokens (768) x 32 x 32,
longest_edge / n_frames), floored at 1.05 x shortest_edge: the same formula once params set
``size`` to {shortest_edge: 128 x 32 x 32, longest_edge: 2 x 0.9 x 128,000 x 32 x 32}. One
difference stays: transformers applies ``shortest_edge`` to the whole clip, so a frame under 128
tokens (smaller than about 362 x 362 px) keeps its size where qwen-vl-utils upscales it.

DeepStack: the vision tower also returns features from intermediate blocks (3 levels in
Qwen3-VL-8B), which the LLM adds to the hidden states at the visual positions after its first
decoder layers (level k after layer k). The learnable prompt (``visual_delta``) is added only
to the input-level visual embeddings, as for every backend; the deepstack features are computed
once per video with the rest of the frozen vision output, passed unchanged to every forward
(``mm_encoder_outputs``), and permuted along with the main features by the TAS reversal.

TAS reversal at the token level is NOT equal to a forward on reversed frames: temporal patches
mix their 2 frames, and the timestamp text stays in place while a reversed video would carry
descending times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zstvg.mllm.base import VisualFeatures
from zstvg.mllm.protocol import PrefixCachingModel
from zstvg.mllm.qwen2_vl import Qwen2VL

if TYPE_CHECKING:
    from transformers.utils.generic import ModelOutput


class Qwen3VL(Qwen2VL):
    name = "qwen3-vl"
    model_class = "Qwen3VLForConditionalGeneration"
    box_family = "qwen3-vl"  # relative 0-1000 coordinates, its <t seconds> timestamps

    def _feature_extras(self, encoder_output: Any) -> dict[str, torch.Tensor]:
        # (levels, n_visual, hidden): one level per deepstack tap of the vision tower.
        levels = [torch.cat(list(level), dim=0) for level in encoder_output.deepstack_features]
        return {"deepstack": torch.stack(levels)}

    def _encoder_output(self, visual: torch.Tensor, features: VisualFeatures) -> ModelOutput:
        from transformers.models.qwen3_vl.modeling_qwen3_vl import (
            BaseModelOutputWithDeepstackFeatures,
        )

        deepstack = features.extras["deepstack"].to(visual.dtype)
        # The model reads both fields as per-image splits (tuples), not the Tensors its dataclass
        # annotates.
        return BaseModelOutputWithDeepstackFeatures(
            pooler_output=(visual,),  # type: ignore[arg-type]
            deepstack_features=[(level,) for level in deepstack],  # type: ignore[misc]
        )


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = Qwen3VL
