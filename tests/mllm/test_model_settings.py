"""Per-model settings from params (processor kwargs, config overrides, squashed frame size,
system turn) and the authors' preset overlay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_backends import FPS, FRAME_IDX, frames

from zstvg.config.params import ParamsError, load_params
from zstvg.mllm import build_mllm, recorded_settings

QWEN = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")


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


def _qwen_vl_utils_tokens(
    height: int, width: int, n_frames: int, factor: int, seq_len: int = 128_000
) -> tuple[int, int]:
    """Merged tokens (rows, columns) of one video frame as Qwen's reference pipeline,
    qwen-vl-utils' fetch_video, sizes it: 128-768 tokens of factor x factor px per frame, at most
    an even share of 0.9 x seq_len tokens per video (total / n_frames x 2), the share floored at
    1.05 x the minimum; sides rounded to the factor, floored when shrinking, ceiled when growing."""
    unit = factor * factor
    min_px = 128 * unit
    max_px = max(min(768 * unit, 0.9 * seq_len * unit / n_frames * 2), int(min_px * 1.05))
    h, w = round(height / factor), round(width / factor)
    if h * w * unit > max_px:
        beta = math.sqrt(height * width / max_px)
        h, w = math.floor(height / beta / factor), math.floor(width / beta / factor)
    elif h * w * unit < min_px:
        beta = math.sqrt(min_px / (height * width))
        h, w = math.ceil(height * beta / factor), math.ceil(width * beta / factor)
    return h, w


def _grid(m, height: int, width: int, n: int = 20) -> tuple[int, int, int]:
    video = [np.zeros((height, width, 3), np.uint8)] * n
    return m.encode(video, list(range(0, 10 * n, 10)), "Is there a man?", FPS).layout.grid_thw


def test_qwen_backends_pass_the_reference_pixel_cap_unless_params_say_otherwise(tiny_checkpoint):
    for family in QWEN:
        assert _load(tiny_checkpoint, family).video_kwargs == {"cap_pixels_per_frame": True}
        off = _load(tiny_checkpoint, family, video_kwargs={"cap_pixels_per_frame": False})
        assert off.video_kwargs == {"cap_pixels_per_frame": False}
    assert _load(tiny_checkpoint, "llava-ov").video_kwargs == {}  # no reference setting to add


@pytest.mark.parametrize(
    ("name", "factor"), [("qwen2-vl", 28), ("qwen2.5-vl", 28), ("qwen3-vl", 32)]
)
def test_params_give_qwen_frames_the_reference_tokens(tiny_checkpoint, repo_root, name, factor):
    """params.yaml's processor settings of the real Qwen checkpoints, on the tiny checkpoint of
    the same family (same patch, merge and temporal patch): 20 frames get qwen-vl-utils' tokens
    per frame. 1280 x 720 -> 20 x 36 merged tokens (720 <= 768; 560 x 1008 or 640 x 1152 px)."""
    cfg = load_params(repo_root / "params.yaml").models[name]
    assert cfg.processor["cap_pixels_per_frame"] is True
    m = _load(tiny_checkpoint, cfg.backend, video_kwargs=cfg.processor)
    assert _grid(m, 720, 1280) == (10, 20, 36)
    # Qwen3's transformers processor applies the 128-token floor to the clip, not the frame
    # (qwen3_vl.py): only frames of at least 128 tokens are compared for it.
    sizes = [(720, 1280), (360, 640), (1080, 1920)] + ([(240, 320)] if factor == 28 else [])
    for height, width in sizes:
        assert _grid(m, height, width)[1:] == _qwen_vl_utils_tokens(height, width, 20, factor)


def test_the_whole_video_share_matches_qwen_vl_utils(tiny_checkpoint, repo_root):
    """cap_pixels_per_frame is qwen-vl-utils' whole-video share. With the real 128,000-token
    budget it binds only past 300 frames; a 3,000-token budget makes it bind at 20 frames:
    0.9 x 3,000 x 2 / 20 = 270 tokens per 1280 x 720 frame -> 12 x 21. transformers reads
    max_video_tokens from the processor, not from the call: the backend sets it there."""
    processor = load_params(repo_root / "params.yaml").models["qwen2-vl"].processor
    m = _load(tiny_checkpoint, "qwen2-vl", video_kwargs={**processor, "max_video_tokens": 3000})
    assert m.processor.video_processor.max_video_tokens == 3000
    assert "max_video_tokens" not in m.video_kwargs
    assert _qwen_vl_utils_tokens(720, 1280, 20, 28, seq_len=3000) == (12, 21)
    assert _grid(m, 720, 1280) == (10, 12, 21)


def test_qwen2_image_bounds_give_other_token_counts(tiny_checkpoint, repo_root):
    """Without params' size the checkpoint's image bounds (4-16,384 tokens) size the frames:
    1280 x 720 keeps 26 x 46 = 1,196 tokens. The authors' preset asks for those bounds, so its
    224 x 224 squash gives their 8 x 8 tokens per slot."""
    size = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 16384}
    m = _load(
        tiny_checkpoint, "qwen2-vl", video_kwargs={"cap_pixels_per_frame": True, "size": size}
    )
    assert _grid(m, 720, 1280) == (10, 26, 46)
    cfg = load_params(repo_root / "params.yaml", preset="authors").models["qwen2-vl"]
    authors = _load(tiny_checkpoint, "qwen2-vl", video_kwargs=cfg.processor,
                    frame_size=cfg.frame_size)  # fmt: skip
    assert _grid(authors, 360, 640) == (10, 8, 8)


def test_runs_record_the_processor_settings_they_used(repo_root):
    params = load_params(repo_root / "params.yaml")
    # the tiny entry leaves it to the backend; the record names it
    assert "processor" not in params.section("models")["tiny-qwen2-vl"]
    assert recorded_settings(params, "tiny-qwen2-vl")["processor"] == {"cap_pixels_per_frame": True}
    assert recorded_settings(params, "qwen2-vl") == params.section("models")["qwen2-vl"]
    # backends without reference settings: the params entry as it is (same job hashes)
    assert recorded_settings(params, "llava-ov") == params.section("models")["llava-ov"]
    assert (
        recorded_settings(params, "attention-oracle")
        == params.section("models")["attention-oracle"]
    )
