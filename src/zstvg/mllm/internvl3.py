"""InternVL3 backend (Table 4: InternVL3-8B, transformers' converted ``-hf`` checkpoints).

InternVL has no video encoder: ``InternVLProcessor`` turns a video into its frames as images,
one 448 x 448 tile per frame (``InternVLVideoProcessor`` resizes each frame to the square input,
no cropping), with the text ``Frame{i}: <img>`` + 256 ``<IMG_CONTEXT>`` + ``</img>`` per frame,
joined by newlines. So the transformers video path fits and is used as is: the frames go
through ``get_image_features`` (InternViT, pixel shuffle 0.5: 32 x 32 patches -> 16 x 16 tokens,
MLP projector) as a batch of images, and the grid is (T, 16, 16) with
``frames_of_t[t] = (frame_idx[t],)``; 20 frames -> 5,120 visual tokens. The visual tokens are the
``<IMG_CONTEXT>`` positions; ``<img>``/``</img>`` and the "FrameN:" labels are text.

TAS reversal at the token level IS equal to a forward on reversed frames: frames are encoded
independently, the LLM (Qwen2.5) uses 1-D positions, and the "FrameN:" labels number positions,
not native frames, so they are the same text for the reversed video.
"""

from __future__ import annotations

from typing import Any

import torch

from zstvg.mllm.base import MLLM, MLLMInputs
from zstvg.mllm.protocol import PrefixCachingModel


class InternVL3(MLLM):
    name = "internvl3"
    model_class = "InternVLForConditionalGeneration"
    grounding_suffix = "<|im_end|>\n<|im_start|>assistant\n"
    modality = "image"

    @property
    def visual_token_id(self) -> int:
        return int(self.processor.image_token_id)

    def _grid(
        self, pixel_inputs: dict[str, torch.Tensor], extra: dict[str, Any], n_frames: int
    ) -> tuple[int, int, int]:
        t, _, h, w = pixel_inputs["pixel_values"].shape
        vc = self.model.config.vision_config
        ph, pw = vc.patch_size if isinstance(vc.patch_size, (list, tuple)) else (vc.patch_size,) * 2
        ratio = float(self.model.config.downsample_ratio)
        return int(t), int(h // ph * ratio), int(w // pw * ratio)

    def _encoder(self, inputs: MLLMInputs) -> Any:
        return self.model.model.get_image_features(
            inputs.pixel_inputs["pixel_values"], return_dict=True
        )


# mypy checks the backend against what the grounding engine calls (zstvg.mllm.protocol).
_: type[PrefixCachingModel] = InternVL3
