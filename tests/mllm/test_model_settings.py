"""Per-model settings from params (processor kwargs, config overrides, squashed frame size,
system turn) and the authors' preset overlay."""

from __future__ import annotations

import pytest
from test_backends import FPS, FRAME_IDX, frames

from zstvg.config import ParamsError, load_params
from zstvg.mllm import build_mllm


def _load(tiny_checkpoint, family, **kwargs):
    return build_mllm(family, str(tiny_checkpoint(family)), dtype="float32", device="cpu",
                      layer_start=0, layer_stop=None, **kwargs)  # fmt: skip


def test_system_prompt_goes_in_a_system_turn(tiny_checkpoint):
    plain = _load(tiny_checkpoint, "qwen2-vl")
    system = _load(tiny_checkpoint, "qwen2-vl", system_prompt="You are a careful grounder.")
    a = plain.encode(frames(), FRAME_IDX, "Is there a man?", FPS)
    b = system.encode(frames(), FRAME_IDX, "Is there a man?", FPS)
    text = system.tokenizer.decode(b.input_ids[0])
    assert "You are a careful grounder." in text
    assert "You are a careful grounder." not in plain.tokenizer.decode(a.input_ids[0])
    assert b.candidate_tokens == a.candidate_tokens  # the grounding suffix is unchanged


def test_squashed_frame_size_and_region(tiny_checkpoint):
    # 56 x 84 frames squashed to 56 x 56: Qwen's grid (28 px per merged token) becomes 2 x 2
    m = _load(tiny_checkpoint, "qwen2-vl", frame_size=(56, 56))
    inp = m.encode(frames(), FRAME_IDX, "Is there a man?", FPS)
    assert inp.layout.grid_thw[1:] == (2, 2)
    assert m.region(84, 56) == (0.0, 0.0, 84.0, 56.0)
    # LLaVA-NeXT-Video centre-crops; a square squash makes the crop see the whole frame
    lnv = _load(tiny_checkpoint, "llava-next-video", frame_size=(84, 84))
    assert lnv.region(200, 100) == (0.0, 0.0, 200.0, 100.0)


def test_config_override_changes_the_pooling(tiny_checkpoint):
    base = _load(tiny_checkpoint, "llava-next-video")
    pooled = _load(tiny_checkpoint, "llava-next-video",
                   config_overrides={"spatial_pool_stride": 3})  # fmt: skip
    g0 = base.encode(frames(), FRAME_IDX, "x", FPS).layout.grid_thw
    g1 = pooled.encode(frames(), FRAME_IDX, "x", FPS).layout.grid_thw
    assert g0[1] > g1[1] and g1[1:] == (2, 2)  # 6 x 6 patches pooled by 3


def test_authors_preset_is_an_overlay_recorded_in_params(repo_root):
    p = load_params(repo_root / "params.yaml", preset="authors")
    assert p.preset == "authors"
    assert p.ground.n_steps == 2 and p.ground.answer_words == ("yes", "no")
    assert p.ground.neutral_contrast is True and p.mllm.dtype == "float16"
    assert p.models["llava-next-video"].frame_size == (336, 336)
    assert p.models["llava-next-video"].config == {"spatial_pool_stride": 4}
    assert p.ground.k_frames == 7  # untouched keys keep the defaults
    overridden = load_params(repo_root / "params.yaml", ["ground.n_steps=3"], preset="authors")
    assert overridden.ground.n_steps == 3  # --set wins over the preset
    assert load_params(repo_root / "params.yaml").preset is None
    with pytest.raises(ParamsError, match="unknown preset; known: authors"):
        load_params(repo_root / "params.yaml", preset="nope")
