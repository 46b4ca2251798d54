"""Grounding DINO through the authors' package (``groundingdino-py``), where it can be built.

It cannot be built in our environment (measured with groundingdino-py 0.4.0 and transformers
5.24): its ``BertModelWarper`` calls
``get_extended_attention_mask``, ``invert_attention_mask`` and ``get_head_mask``, which
transformers 5 removed (AttributeError at model construction), and building the model fetches
``bert-base-uncased`` from the model hub, which offline runs cannot reach. The backend therefore
checks both conditions first and raises an error that says why and what to use instead
(``gdino-hf``, the same architecture and weights through transformers).
"""

from __future__ import annotations

import importlib.util
from typing import NoReturn

from zstvg.io import InputError

REMOVED_BERT_METHODS = ("get_extended_attention_mask", "invert_attention_mask", "get_head_mask")


class GroundingDinoUnavailable(InputError):
    """The official Grounding DINO package cannot be used here."""


def unavailable_reason() -> str | None:
    """Why ``groundingdino-py`` cannot build its model here, or None if nothing is known."""
    if importlib.util.find_spec("groundingdino") is None:
        return (
            "the 'groundingdino' package is not installed (pip install groundingdino-py; it is "
            "not in requirements.lock)"
        )
    from transformers import BertModel

    missing = [m for m in REMOVED_BERT_METHODS if not hasattr(BertModel, m)]
    if missing:
        import transformers

        return (
            f"groundingdino-py's BertModelWarper calls BertModel.{', '.join(missing)}, which "
            f"transformers {transformers.__version__} no longer has (removed in transformers 5); "
            "it also downloads 'bert-base-uncased' from the model hub while building"
        )
    return None


def build_gdino_official(
    checkpoint: str,
    box_threshold: float,
    text_threshold: float,
    max_detections: int,
    device: str = "cpu",
) -> NoReturn:
    """``gdino-official``: always refuses, with the reason (see the module docstring)."""
    reason = unavailable_reason() or (
        "groundingdino-py 0.4.0 is the last release and is not verified to build offline"
    )
    raise GroundingDinoUnavailable(
        f"proposals.detector=gdino-official cannot be used: {reason}. Use "
        "proposals.detector=gdino-hf (the same Grounding DINO weights through transformers, "
        f"e.g. IDEA-Research/grounding-dino-tiny saved locally) instead; checkpoint was "
        f"{checkpoint!r}."
    )
