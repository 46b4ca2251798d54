"""Tiny random-weight checkpoints of every model family the pipeline loads
(docs/development.md#running-without-a-hub-a-gpu-or-an-api-key).

Real architectures in their real on-disk formats, built from config classes in code, so the
loading code (``from_pretrained(dir)``, the ``sam2`` package's ``.pt``) runs offline in tests
and the demo: the MLLMs in ``zstvg.tiny.mllm``, Grounding DINO and SAM 2 in
``zstvg.tiny.proposals``, the authors' Grounding DINO format in ``zstvg.tiny.gdino_official``
(run in the ``make env-gdino`` environment, which has that model's code). Predictions are
chance-level. ``zstvg make-tiny-checkpoint`` writes one (:func:`write_tiny_checkpoint`).

Families register in ``FAMILIES`` as ``name -> "module:function"``; the function takes
``(out_dir: Path, seed: int)``, so adding one is one line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zstvg.config.registry import Registry
from zstvg.files.io import InputError

log = logging.getLogger(__name__)

FAMILIES = Registry("tiny-checkpoint family")
for _name, _fn in {
    "qwen2-vl": "build_qwen2_vl",
    "qwen2.5-vl": "build_qwen2_5_vl",
    "qwen3-vl": "build_qwen3_vl",
    "llava-ov": "build_llava_ov",
    "llava-next-video": "build_llava_next_video",
    "internvl3": "build_internvl3",
}.items():
    FAMILIES.register(_name, f"zstvg.tiny.mllm:{_fn}")
FAMILIES.register("gdino", "zstvg.tiny.proposals:build_tiny_gdino")
FAMILIES.register("sam2", "zstvg.tiny.proposals:build_tiny_sam2")
# The sam2 package's .pt format (random hiera-T at 128 px; see zstvg.tiny.proposals).
FAMILIES.register("sam2-official", "zstvg.tiny.proposals:build_tiny_sam2_official")

# Families whose LLM shape can be changed (``text``): the benchmarks' 7B-shape and 28-layer
# models are Qwen2-VL with real widths and a tiny vision tower.
SHAPED = ("qwen2-vl",)


def make_tiny_checkpoint(
    family: str,
    out_dir: str | Path,
    seed: int = 0,
    text: dict[str, Any] | None = None,
    dtype: str = "float32",
) -> Path:
    """Write the tiny checkpoint of ``family`` into ``out_dir`` and return the directory.

    ``text`` overrides LLM config fields (``num_hidden_layers``, ``hidden_size``, ...) of the
    families in ``SHAPED``; ``dtype`` is the stored weight type (a 7B-wide layer is 0.47 GB in
    bfloat16).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    builder = FAMILIES.get(family)
    if text:
        if family not in SHAPED:
            raise ValueError(f"tiny {family}: text config overrides are supported for {SHAPED}")
        builder(out, seed, text=text, dtype=dtype)
    else:
        builder(out, seed)
    log.info("wrote tiny %s checkpoint to %s (seed %d)", family, out, seed)
    return out


def write_tiny_checkpoint(
    family: str, out_dir: Path, *, seed: int, text: dict[str, Any], dtype: str
) -> int:
    """The ``make-tiny-checkpoint`` step: :func:`make_tiny_checkpoint`, an unknown field or an
    inconsistent shape as an input error; prints where it went and returns the exit code."""
    try:
        out = make_tiny_checkpoint(family, out_dir, seed, text=text, dtype=dtype)
    except (TypeError, ValueError) as exc:  # an unknown field or an inconsistent shape
        raise InputError(f"make-tiny-checkpoint --family {family}: {exc}") from exc
    print(
        f"wrote tiny {family} checkpoint (seed {seed}, random weights: chance-level "
        f"predictions) to {out}"
    )
    return 0
