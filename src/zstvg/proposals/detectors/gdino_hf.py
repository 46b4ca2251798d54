"""Grounding DINO through transformers (``GroundingDinoForObjectDetection`` + its processor).

The paper's detector: prompt = the target's class noun ("person."), boxes kept when their best
token score clears ``box_threshold`` and the phrase tokens clear ``text_threshold`` (paper: 0.4
and 0.4), at most ``max_detections`` boxes per frame, highest score first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from zstvg.config.params import ProposalsConfig
from zstvg.files.io import InputError
from zstvg.proposals.detectors import Detection, ranked_detections, text_prompt

log = logging.getLogger(__name__)


def load_failure_hint(what: str, checkpoint: str, family: str, exc: Exception) -> InputError:
    """An InputError naming the checkpoint and how to get one offline."""
    where = "directory" if Path(checkpoint).exists() else "directory (or hub id; no hub access?)"
    return InputError(
        f"cannot load the {what} from {checkpoint!r}: {type(exc).__name__}: {exc}. "
        f"Set proposals.*_checkpoint to a local {where}, or build a tiny random one for tests "
        f"with `zstvg make-tiny-checkpoint --family {family} --out DIR`."
    )


class GroundingDinoHF:
    """Grounding DINO detector loaded with ``from_pretrained(cfg.detector_checkpoint)``."""

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        import torch
        from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

        checkpoint = cfg.detector_checkpoint
        try:
            self.processor = GroundingDinoProcessor.from_pretrained(checkpoint)
            self.model = GroundingDinoForObjectDetection.from_pretrained(checkpoint)
        except (OSError, ValueError) as exc:
            raise load_failure_hint("Grounding DINO detector", checkpoint, "gdino", exc) from None
        # PreTrainedModel.to is functools.wraps(Module.to), typed as the unbound function: the
        # device reads as its self argument.
        self.model.to(device).eval()  # type: ignore[arg-type]
        self.device = torch.device(device)
        self.box_threshold = cfg.box_threshold
        self.text_threshold = cfg.text_threshold
        self.max_detections = cfg.max_detections_per_frame

    def detect(self, image: np.ndarray, class_name: str) -> list[Detection]:
        import torch
        from PIL import Image

        height, width = image.shape[:2]
        inputs = self.processor(
            images=Image.fromarray(image), text=text_prompt(class_name), return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        result = self.processor.post_process_grounded_object_detection(
            outputs,
            inputs["input_ids"],
            threshold=self.box_threshold,
            text_threshold=self.text_threshold,
            target_sizes=[(height, width)],
        )[0]
        return ranked_detections(
            result["boxes"].float().cpu().numpy(),
            result["scores"].float().cpu().numpy(),
            result["text_labels"],
            width,
            height,
            self.max_detections,
        )
