"""Layer ranges, the tiny-checkpoint command and its determinism."""

from __future__ import annotations

import json

import pytest

from zstvg.cli import main
from zstvg.mllm.base import resolve_layers


def test_layer_range_is_a_python_slice():
    assert resolve_layers(28, -26, -6) == tuple(range(2, 22))  # paper: L-26 .. L-6
    assert resolve_layers(8, -26, -6) == (0, 1)
    assert resolve_layers(8, 0, None) == tuple(range(8))
    with pytest.raises(ValueError, match="layer_start=-2, mllm.layer_stop=-6 select no layer"):
        resolve_layers(8, -2, -6)


def test_unknown_backend_lists_known_names():
    from zstvg.mllm import build_mllm
    from zstvg.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="known: .*qwen2-vl"):
        build_mllm("qwen9-vl", "nowhere")


def test_cli_builds_a_deterministic_loadable_checkpoint(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "ckpt"
    assert main(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(out),
                 "--seed", "0"]) == 0
    assert "wrote tiny qwen2-vl checkpoint" in capsys.readouterr().out
    ref = tiny_checkpoint("qwen2-vl")
    for name in ("model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert json.loads((out / "config.json").read_text())["model_type"] == "qwen2_vl"

    other = tmp_path / "seed1"
    assert main(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(other),
                 "--seed", "1"]) == 0
    assert (other / "model.safetensors").read_bytes() != (ref / "model.safetensors").read_bytes()


def test_cli_rejects_an_unknown_family(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["make-tiny-checkpoint", "--family", "gpt-9", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_qwen2_5_seconds_per_temporal_patch():
    from zstvg.mllm.qwen2_5_vl import seconds_per_slot

    # 20 frames every 25 native frames at 25 fps = 1 sampled fps; 2 frames per patch = 2 s.
    assert seconds_per_slot(list(range(0, 500, 25)), 25.0, 2) == 2.0
    assert seconds_per_slot(list(range(0, 500, 25)), None, 2) == 1.0  # processor default
