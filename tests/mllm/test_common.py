"""Layer ranges, the tiny-checkpoint command and its determinism."""

from __future__ import annotations

import json

import pytest

from zstvg.cli import main
from zstvg.mllm.base import resolve_layers


def test_layer_range_is_a_python_slice():
    assert resolve_layers(28, -26, -6) == tuple(range(2, 22))  # paper: L-26 .. L-6
    assert resolve_layers(8, -8, 8) == tuple(range(8))
    assert resolve_layers(8, 0, None) == tuple(range(8))
    with pytest.raises(ValueError, match="layer_start=-2, layer_stop=-6 .* select no layer"):
        resolve_layers(8, -2, -6)


@pytest.mark.parametrize(
    ("start", "stop", "message"),
    [
        (-26, -6, "layer_start=-26 .* outside the model's 8 decoder layers: expected -8..7"),
        (-100, None, "layer_start=-100 .* expected -8..7"),
        (8, None, "layer_start=8 .* expected -8..7"),
        (0, 100, "layer_stop=100 .* outside the model's 8 decoder layers: expected -8..8 or null"),
        (0, -9, "layer_stop=-9 .* expected -8..8"),
    ],
)
def test_a_layer_range_outside_the_model_is_not_clamped(start, stop, message):
    with pytest.raises(ValueError, match=message):
        resolve_layers(8, start, stop)


def test_unknown_backend_lists_known_names():
    from zstvg.config.registry import UnknownNameError
    from zstvg.mllm import build_mllm

    with pytest.raises(UnknownNameError, match="known: .*qwen2-vl"):
        build_mllm("qwen9-vl", "nowhere")


def test_cli_builds_a_deterministic_loadable_checkpoint(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "ckpt"
    assert (
        main(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(out), "--seed", "0"])
        == 0
    )
    assert "wrote tiny qwen2-vl checkpoint" in capsys.readouterr().out
    ref = tiny_checkpoint("qwen2-vl")
    for name in (
        "model.safetensors",
        "tokenizer.json",
        "processor_config.json",
        "chat_template.jinja",
    ):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert json.loads((out / "config.json").read_text())["model_type"] == "qwen2_vl"

    other = tmp_path / "seed1"
    assert (
        main(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(other), "--seed", "1"])
        == 0
    )
    assert (other / "model.safetensors").read_bytes() != (ref / "model.safetensors").read_bytes()


def test_every_backend_has_a_tiny_family():
    from zstvg.mllm import GT_BACKENDS, MLLMS
    from zstvg.tiny import FAMILIES

    # the GT backends have no weights (their maps come from the GT): no tiny family
    assert set(GT_BACKENDS) == {"attention-oracle", "planted-head"}
    real = set(MLLMS.names()) - set(GT_BACKENDS)
    assert real == {
        "llava-ov",
        "qwen2-vl",
        "qwen2.5-vl",
        "qwen3-vl",
        "llava-next-video",
        "internvl3",
    }
    assert real <= set(FAMILIES.names())


def test_cli_rejects_an_unknown_family(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["make-tiny-checkpoint", "--family", "gpt-9", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_video_metadata_gives_the_real_sampling_rate():
    from zstvg.mllm.base import slots_of_frames, video_metadata

    # 20 frames every 25 native frames at 25 fps = 1 sampled fps (Qwen2.5-VL: 2 s per patch).
    meta = video_metadata(list(range(0, 500, 25)), 25.0)
    assert meta.sampled_fps == 1.0
    assert meta.timestamps[:2] == [0.0, 1.0]
    assert video_metadata([7], 30.0).sampled_fps == 30.0
    # 5 frames in 2-frame temporal patches: the last patch repeats frame 40.
    assert slots_of_frames([0, 10, 20, 30, 40], 2) == ((0, 10), (20, 30), (40,))
    assert slots_of_frames([0, 10, 20], 1) == ((0,), (10,), (20,))
