"""MLLM adapters: one backend per model family behind one interface (docs/method.md#mllm-adapters).

``build_mllm(name, checkpoint, dtype, device)`` loads a backend from a local checkpoint
directory; ``MLLMS`` lists the names. Importing this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zstvg.config.registry import Registry

if TYPE_CHECKING:
    from zstvg.mllm.protocol import GroundingModel

MLLMS = Registry("MLLM backend")
MLLMS.register("qwen2-vl", "zstvg.mllm.qwen2_vl:Qwen2VL")
MLLMS.register("llava-ov", "zstvg.mllm.llava_ov:LlavaOneVision")
MLLMS.register("qwen2.5-vl", "zstvg.mllm.qwen2_5_vl:Qwen2_5VL")
MLLMS.register("qwen3-vl", "zstvg.mllm.qwen3_vl:Qwen3VL")
MLLMS.register("llava-next-video", "zstvg.mllm.llava_next_video:LlavaNextVideo")
MLLMS.register("internvl3", "zstvg.mllm.internvl3:InternVL3")
# Known attention on the GT boxes (checkpoint = a samples.jsonl): checks the grounding chain.
MLLMS.register("attention-oracle", "zstvg.mllm.oracle:AttentionOracle")
# The oracle's map in one (layer, head), noise elsewhere: probe-layers' known answer.
MLLMS.register("planted-head", "zstvg.mllm.oracle:PlantedHead")


def build_mllm(
    name: str,
    checkpoint: str,
    dtype: str = "auto",
    device: str = "auto",
    layer_start: int = -26,
    layer_stop: int | None = -6,
    **kwargs: Any,
) -> GroundingModel:
    """Load backend ``name`` from ``checkpoint`` (see ``zstvg.mllm.base.MLLM.load``)."""
    backend: Any = MLLMS.get(name)  # a class with a load() classmethod
    return backend.load(
        checkpoint,
        dtype=dtype,
        device=device,
        layer_start=layer_start,
        layer_stop=layer_stop,
        **kwargs,
    )


def model_config(params: Any, name: str) -> Any:
    """``params.models[name]``, or an InputError listing the known names."""
    from zstvg.files.io import InputError

    if name not in params.models:
        raise InputError(
            f"--model {name!r}: not a key of `models` in {params.source}; "
            f"known: {', '.join(sorted(params.models))}"
        )
    return params.models[name]


def load_model(params: Any, model_cfg: Any) -> GroundingModel:
    """The backend of ``model_cfg`` with the ``mllm`` section and the model's own settings.

    A model that does not load (no weights file, no processor files, a layer range outside the
    model) fails every sample alike: an InputError naming the checkpoint, so the step stops
    with exit 2 instead of failing each sample and exiting 0 (docs/workflow.md#failures).
    """
    from zstvg.files.io import InputError

    layer_start, layer_stop = model_cfg.layers or (params.mllm.layer_start, params.mllm.layer_stop)
    heads = model_cfg.heads if model_cfg.heads is not None else params.mllm.heads
    try:
        return build_mllm(
            model_cfg.backend,
            model_cfg.checkpoint,
            dtype=params.mllm.dtype,
            device=params.mllm.device,
            layer_start=layer_start,
            layer_stop=layer_stop,
            heads=heads,
            **model_kwargs(model_cfg),
        )
    except Exception as exc:  # every failure to load is the whole job's
        raise InputError(
            f"{model_cfg.checkpoint}: cannot load the {model_cfg.backend} model "
            f"({type(exc).__name__}: {exc}); no sample can run without it"
        ) from exc


# Backends without weights or a processor (their maps come from the sample's GT).
GT_BACKENDS = ("attention-oracle", "planted-head")


def processor_settings(model_cfg: Any) -> dict[str, Any]:
    """The keyword arguments the backend of ``model_cfg`` gives every processor call: its
    pipeline settings (Qwen: ``cap_pixels_per_frame=True``) with params' ``processor`` over
    them. Imports the backend's module (torch), not its weights."""
    if model_cfg.backend in GT_BACKENDS:
        return {}
    backend: Any = MLLMS.get(model_cfg.backend)  # a class with processor_settings()
    return dict(backend.processor_settings(model_cfg.processor))


def recorded_settings(params: Any, name: str) -> dict[str, Any]:
    """``params.models[name]`` as a run records it: the params entry, whose ``processor`` is
    replaced by :func:`processor_settings` where the backend adds to it, so a record names
    every processor setting the run used, not only those params spelled out."""
    entry: dict[str, Any] = params.section("models")[name]
    settings = processor_settings(params.models[name])
    if settings != (entry.get("processor") or {}):
        entry["processor"] = settings
    return entry


def model_kwargs(model_cfg: Any) -> dict[str, Any]:
    """The per-model processor, config, frame-size and system-prompt settings of params."""
    if model_cfg.backend == "planted-head":
        return {"config_overrides": dict(model_cfg.config)}
    if model_cfg.backend == "attention-oracle":
        return {}
    return {
        "video_kwargs": dict(model_cfg.processor),
        "config_overrides": dict(model_cfg.config),
        "frame_size": model_cfg.frame_size,
        "system_prompt": model_cfg.system_prompt,
    }


__all__ = [
    "MLLMS",
    "build_mllm",
    "load_model",
    "model_config",
    "model_kwargs",
    "processor_settings",
    "recorded_settings",
]
