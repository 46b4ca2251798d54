"""Open-vocabulary detectors: a text prompt (the target's class noun) -> boxes on one frame.

Backends are registered by name and imported only when built: ``gdino-hf`` (transformers
Grounding DINO, the default) and ``gdino-official`` (the ``groundingdino-py`` package, run in
its own environment, ``make env-gdino``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from zstvg.config.registry import Registry
from zstvg.files.records import BoxXYXY

if TYPE_CHECKING:  # not at run time: the gdino-official worker's environment has no pydantic
    from zstvg.config.params import ProposalsConfig


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
    "gdino-official", "zstvg.proposals.detectors.gdino_official:GroundingDinoOfficial"
)


def text_prompt(class_name: str) -> str:
    """Grounding DINO's prompt convention: lower-case phrases, each ending with '.' ("person.")."""
    phrase = class_name.strip().lower().rstrip(".").strip()
    if not phrase:
        raise ValueError("empty class name: the detector needs a noun such as 'person'")
    return f"{phrase}."


def ranked_detections(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    width: int,
    height: int,
    max_detections: int,
) -> list[Detection]:
    """The ``max_detections`` best boxes (absolute xyxy pixels), highest score first, clipped to
    the ``width`` x ``height`` frame; a box left with no area after clipping is dropped."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:max_detections]
    detections = []
    for i in order:
        x1, y1, x2, y2 = np.clip(boxes_xyxy[i], 0, [width, height, width, height]).tolist()
        if x2 > x1 and y2 > y1:
            detections.append(Detection((x1, y1, x2, y2), float(scores[i]), labels[i]))
    return detections


def build_detector(cfg: ProposalsConfig, device: str = "cpu") -> Detector:
    """The detector named by ``cfg.detector``, loaded from ``cfg.detector_checkpoint``."""
    return DETECTORS.build(cfg.detector, cfg=cfg, device=device)
