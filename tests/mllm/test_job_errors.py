"""A model that cannot load fails the whole job (an InputError naming the checkpoint: exit 2),
not every sample one by one with exit 0."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from zstvg.config.params import load_params
from zstvg.files.io import InputError
from zstvg.mllm import load_model


def _broken(tiny_checkpoint, tmp_path, *remove):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint("qwen2-vl"), ckpt)
    for name in remove:
        (ckpt / name).unlink()
    return ckpt


def _load(repo_root, ckpt, *overrides):
    params = load_params(repo_root / "params.yaml", ["mllm.device=cpu", *overrides])
    cfg = dataclasses.replace(params.models["tiny-qwen2-vl"], checkpoint=str(ckpt))
    return load_model(params, cfg)


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        (["model.safetensors"], "no file named model.safetensors"),
        (["processor_config.json", "chat_template.jinja"], "qwen2-vl model"),
    ],
)
def test_a_checkpoint_that_does_not_load_is_named(repo_root, tiny_checkpoint, tmp_path, remove,
                                                  reason):  # fmt: skip
    ckpt = _broken(tiny_checkpoint, tmp_path, *remove)
    with pytest.raises(InputError, match=f"{ckpt}: cannot load the qwen2-vl model") as err:
        _load(repo_root, ckpt)
    assert reason in str(err.value)
    assert "no sample can run without it" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["models.tiny-qwen2-vl.layers=[-2, -6]"], r"layer_start=-2, layer_stop=-6 .* select no"),
        # mllm's range, meant for 28-layer 7B models, on the 8-layer tiny model
        (["models.tiny-qwen2-vl.layers=null"], r"layer_start=-26 .* outside the model's 8 decoder"),
        (["models.tiny-qwen2-vl.layers=[0, 100]"], r"layer_stop=100 .* expected -8..8 or null"),
    ],
)
def test_a_bad_layer_range_is_the_jobs_error(repo_root, tiny_checkpoint, overrides, message):
    with pytest.raises(InputError, match=message):
        _load(repo_root, tiny_checkpoint("qwen2-vl"), *overrides)


def test_a_models_own_layer_range_is_used(repo_root, tiny_checkpoint):
    model = _load(repo_root, tiny_checkpoint("qwen2-vl"), "models.tiny-qwen2-vl.layers=[-3, null]")
    assert model.layers == (5, 6, 7)
