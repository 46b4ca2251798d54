"""Qwen2.5-VL backend (Table 4: Qwen2.5-VL-7B-Instruct).

Same video layout, chat template, M-RoPE handling and pixel budget as Qwen2-VL
(``zstvg.mllm.qwen2_vl``; transformers runs both through ``Qwen2VLVideoProcessor``, and
qwen-vl-utils gives both 128-768 tokens per frame): 2-frame temporal patches, (ceil(T/2), H/28,
W/28) tokens, token-level reversal not exact, ``cap_pixels_per_frame=True`` on every call. The
vision tower uses windowed attention inside each temporal slot, which keeps slots apart.

Difference: temporal M-RoPE positions are spaced by real time. The processor computes
``second_per_grid_ts`` (seconds per temporal patch) = temporal_patch_size / sampled fps from the
``VideoMetadata`` the adapter passes (``zstvg.mllm.base.video_metadata``: the sampled fps is the
native fps divided by the mean native-frame step; 20 frames over a 20 s HC-STVG clip: 1 fps ->
2 s per slot).
"""

from __future__ import annotations

from zstvg.mllm.protocol import PrefixCachingModel
from zstvg.mllm.qwen2_vl import Qwen2VL


class Qwen2_5VL(Qwen2VL):
    name = "qwen2.5-vl"
    model_class = "Qwen2_5_VLForConditionalGeneration"
    # boxes in absolute pixels of the resized input (the model card's "absolute position
    # coordinates"), times in seconds
    box_family = "qwen2.5-vl"


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = Qwen2_5VL
