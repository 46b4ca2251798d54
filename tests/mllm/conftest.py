"""Tiny MLLM checkpoints, built once per test session (a few seconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """family -> directory of its tiny checkpoint (seed 0), built on first use."""
    from zstvg.tiny import make_tiny_checkpoint

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            out = tmp_path_factory.mktemp(f"tiny-{family}")
            built[family] = make_tiny_checkpoint(family, out, seed=0)
        return built[family]

    return get


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint):
    """(family, attn implementation) -> loaded backend over all layers, cached per session."""
    from zstvg.mllm import build_mllm

    cache: dict[tuple[str, str], object] = {}

    def get(family: str, impl: str = "capture"):
        key = (family, impl)
        if key not in cache:
            kwargs = {} if impl == "capture" else {"attn_implementation": impl}
            cache[key] = build_mllm(
                family,
                str(tiny_checkpoint(family)),
                dtype="float32",
                device="cpu",
                layer_start=0,
                layer_stop=None,
                **kwargs,
            )
        return cache[key]

    return get


@pytest.fixture(
    params=["internvl3", "llava-next-video", "llava-ov", "qwen2-vl", "qwen2.5-vl", "qwen3-vl"],
    scope="module",
)
def family(request: pytest.FixtureRequest) -> str:
    """Every MLLM backend, by its tiny-checkpoint family name."""
    return request.param
