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


def test_an_empty_layer_range_is_the_jobs_error(repo_root, tiny_checkpoint):
    # 8 layers: [-2:-6] selects none
    with pytest.raises(InputError, match="mllm.layer_start=-2, mllm.layer_stop=-6 select no"):
        _load(repo_root, tiny_checkpoint("qwen2-vl"), "mllm.layer_start=-2")
