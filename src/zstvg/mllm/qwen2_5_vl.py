"""Qwen2.5-VL backend (Table 4: Qwen2.5-VL-7B-Instruct).

Same video layout, chat template and M-RoPE handling as Qwen2-VL (``zstvg.mllm.qwen2_vl``):
2-frame temporal patches, (ceil(T/2), H/28, W/28) tokens, token-level reversal not exact. The
vision tower uses windowed attention inside each temporal slot, which keeps slots apart.

Difference: temporal M-RoPE positions are spaced by real time. ``second_per_grid_ts`` (seconds
per temporal patch) = temporal_patch_size / sampled fps, where the sampled fps is the native
``fps`` divided by the mean native-frame step between sampled frames (20 frames over a 20 s
HC-STVG clip: 1 fps -> 2 s per slot). Without ``fps`` the processor's default of 2 sampled
frames per second is assumed (1 s per slot).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from zstvg.mllm.base import MLLMInputs
from zstvg.mllm.qwen2_vl import Qwen2VL

DEFAULT_SAMPLED_FPS = 2.0  # Qwen2.5-VL processor default when the video's fps is unknown


def seconds_per_slot(frame_idx: list[int], fps: float | None, temporal_patch: int) -> float:
    """Seconds covered by one temporal patch of the sampled frames."""
    if fps is None or len(frame_idx) < 2:
        return temporal_patch / DEFAULT_SAMPLED_FPS
    step = abs(frame_idx[-1] - frame_idx[0]) / (len(frame_idx) - 1)
    if step == 0:
        return temporal_patch / DEFAULT_SAMPLED_FPS
    return temporal_patch / (fps / step)


class Qwen2_5VL(Qwen2VL):
    name = "qwen2.5-vl"
    model_class = "Qwen2_5_VLForConditionalGeneration"

    def _preprocess_frames(
        self, frames: list[np.ndarray], frame_idx: list[int], fps: float | None
    ) -> tuple[dict[str, torch.Tensor], int, tuple[int, int, int], tuple[tuple[int, ...], ...]]:
        pixel_inputs, n, grid, frames_of_t = super()._preprocess_frames(frames, frame_idx, fps)
        sec = seconds_per_slot(frame_idx, fps, self.image_processor.temporal_patch_size)
        pixel_inputs["second_per_grid_ts"] = torch.tensor([sec])
        return pixel_inputs, n, grid, frames_of_t

    def _rope_kwargs(self, inputs: MLLMInputs) -> dict[str, Any]:
        px = inputs.pixel_inputs
        return {"video_grid_thw": px["video_grid_thw"],
                "second_per_grid_ts": px["second_per_grid_ts"]}
