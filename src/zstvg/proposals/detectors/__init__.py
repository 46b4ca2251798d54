"""Open-vocabulary detectors: a text prompt (the target's class noun) -> boxes on one frame.

Backends are registered by name and imported only when built: ``gdino-hf`` (transformers
Grounding DINO, the default) and ``gdino-official`` (the ``groundingdino-py`` package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from zstvg.config import ProposalsConfig
from zstvg.registry import Registry
from zstvg.structures import BoxXYXY


@dataclass(frozen=True)
class Detection:
    """One detected box on one frame: absolute xyxy pixels, confidence in [0, 1], label text."""

    box_xyxy: BoxXYXY
    score: float
    label: str = ""


class Detector(Protocol):
    def detect(self, image: np.ndarray, class_name: str) -> list[Detection]:
        """Detections of ``class_name`` on an RGB (height, width, 3) uint8 image, best first."""
        ...


DETECTORS = Registry("detector")
DETECTORS.register("gdino-hf", "zstvg.proposals.detectors.gdino_hf:GroundingDinoHF")
DETECTORS.register(
    "gdino-official", "zstvg.proposals.detectors.gdino_official:build_gdino_official"
)


def text_prompt(class_name: str) -> str:
    """Grounding DINO's prompt convention: lower-case phrases, each ending with '.' ("person.")."""
    phrase = class_name.strip().lower().rstrip(".").strip()
    if not phrase:
        raise ValueError("empty class name: the detector needs a noun such as 'person'")
    return f"{phrase}."


def build_detector(cfg: ProposalsConfig, device: str = "cpu") -> Detector:
    """The detector named by ``cfg.detector``, loaded from ``cfg.detector_checkpoint``."""
    return DETECTORS.build(
        cfg.detector,
        checkpoint=cfg.detector_checkpoint,
        box_threshold=cfg.box_threshold,
        text_threshold=cfg.text_threshold,
        max_detections=cfg.max_detections_per_frame,
        device=device,
    )
