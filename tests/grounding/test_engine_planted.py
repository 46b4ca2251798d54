"""The real grounding engine on a scripted backend whose maps and logits are planted.

Frames are 64 x 64 with an 8 x 8 grid (8-pixel cells); tracks are boxes on cells, so which
track a planted map favours is known by construction.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from zstvg.config.params import load_params
from zstvg.config.variants import get_variant
from zstvg.files.records import Sample, Track
from zstvg.grounding.engine import GroundingEngine, GroundInput
from zstvg.mllm.oracle import TOKENS, ScriptedMLLM

T = 6
FRAMES = tuple(range(5, 60, 10))  # 6 MLLM frames, bins of 10 native frames, clip [0, 60)
BINS = tuple(range(0, 61, 10))  # each frame at the centre of its bin
NEUTRAL = "Describe this video in details."
LEFT = (0.0, 0.0, 16.0, 16.0)  # cells (0..1, 0..1)
RIGHT = (48.0, 48.0, 64.0, 64.0)  # cells (6..7, 6..7)


def _cfg(**kw):
    base = load_params().ground
    return dataclasses.replace(base, neutral_prompt=NEUTRAL, **kw)


def _blob(cell_y: int, cell_x: int, value: float = 1.0) -> np.ndarray:
    m = np.zeros((8, 8))
    m[cell_y, cell_x] = value
    return m


def _sample() -> Sample:
    return Sample("s", "v", "v.mp4", "the man in red walks", "declarative", 10.0, 60, 64, 64,
                  (10, 40), (0, 60))  # fmt: skip


def _input(tracks, sample=None) -> GroundInput:
    sample = sample or _sample()
    return GroundInput(
        sample=sample,
        frames=[np.zeros((64, 64, 3), np.uint8) for _ in FRAMES],
        mllm_frame_idx=FRAMES,
        mllm_bins=BINS,
        fps=10.0,
        tracks=tracks,
        spatial_text="Is there the man in red in this video?",
        temporal_text="Is there a man walking in this video?",
    )


def _tracks(frames=FRAMES) -> list[Track]:
    return [
        Track(1, "person", {f: LEFT for f in frames}),
        Track(2, "person", {f: RIGHT for f in frames}),
    ]


def _maps(per_frame, tokens: dict[int, float] | None = None):
    """maps_fn: query texts get ``per_frame(pos)`` (an 8x8 map per shown frame position),
    the neutral prompt a uniform map; ``tokens`` scales the map of some tokens."""

    def fn(text, shown):
        if text == NEUTRAL:
            return np.full((len(TOKENS), len(shown), 8, 8), 0.01)
        one = np.stack([per_frame(pos) for pos in shown])
        scale = np.array([(tokens or {}).get(j, 1.0) for j in range(len(TOKENS))])
        return scale[:, None, None, None] * one[None]

    return fn


def test_planted_track_wins_and_span_is_the_planted_k_frames():
    profile = [0.1, 0.5, 0.9, 0.7, 0.2, 0.1]  # peak at frame position 2, then 3, then 1
    mllm = ScriptedMLLM(_maps(lambda p: _blob(7, 7, profile[p])))
    engine = GroundingEngine(mllm, _cfg(k_frames=3))
    pred, record = engine.ground(_input(_tracks()), get_variant("gti"))
    assert pred.track_id == 2
    assert record["span_mllm_positions"] == [1, 3]
    assert pred.span == (10, 40)  # the bins of frames 15, 25, 35
    # a box on every native frame of the track (5..55), the span's included
    assert sorted(pred.boxes_xyxy) == list(range(5, 56))
    assert "boxes_interpolated" in pred.flags and not any("held" in f for f in pred.flags)
    assert record["llm_calls"] == {"forwards": 2, "backwards": 0, "forward_equivalents": 2.0}


def test_a_clip_with_no_more_mllm_frames_than_k_is_flagged():
    maps = _maps(lambda p: _blob(7, 7))
    pred, _ = GroundingEngine(ScriptedMLLM(maps), _cfg(k_frames=6)).ground(
        _input(_tracks()), get_variant("gti")
    )
    # 6 frames, K = 6: the span is all of them, the clip [0, 60)
    assert pred.span == (0, 60) and "few_mllm_frames:6<=k_frames:6" in pred.flags
    pred, _ = GroundingEngine(ScriptedMLLM(maps), _cfg(k_frames=5)).ground(
        _input(_tracks()), get_variant("gti")
    )
    assert not any(f.startswith("few_mllm_frames") for f in pred.flags)


def test_absent_track_frames_score_zero_and_bound_the_span():
    # track 2 is present on positions 0..2 only; the map is highest on position 4 (absent)
    present = FRAMES[:3]
    tracks = [Track(2, "person", {f: RIGHT for f in present})]
    profile = [0.3, 0.2, 0.4, 0.1, 0.9, 0.1]
    engine = GroundingEngine(ScriptedMLLM(_maps(lambda p: _blob(7, 7, profile[p]))),
                             _cfg(k_frames=2))  # fmt: skip
    _, record = engine.ground(_input(tracks), get_variant("gti"))
    assert record["frame_scores"][3:] == [0.0, 0.0, 0.0]
    assert record["span_mllm_positions"] == [1, 2]  # from 0.4 at 2: left 0.2 vs right 0 -> left


def test_relative_attention_cancels_a_map_shared_with_the_neutral_prompt():
    # The query looks strongly at LEFT, but so does the neutral prompt: only RIGHT is the
    # query's own. Raw attention would pick track 1, relative attention picks track 2.
    def maps(text, shown):
        shared = np.stack([_blob(0, 0, 0.5) + 0.001 for _ in shown])
        if text == NEUTRAL:
            return np.repeat(shared[None], len(TOKENS), axis=0)
        own = np.stack([_blob(7, 7, 0.05) for _ in shown])
        return np.repeat((shared + own)[None], len(TOKENS), axis=0)

    pred, _ = GroundingEngine(ScriptedMLLM(maps), _cfg()).ground(
        _input(_tracks()), get_variant("gti")
    )
    assert pred.track_id == 2


def test_gti_picks_the_planted_token_and_the_mean_baseline_does_not():
    # token 3 ("assistant") has a sharp map on RIGHT; the other four a weaker one on LEFT,
    # which dominates their mean
    def maps(text, shown):
        if text == NEUTRAL:
            return np.full((len(TOKENS), len(shown), 8, 8), 0.01)
        out = np.stack([np.stack([_blob(0, 0, 0.4) for _ in shown])] * len(TOKENS))
        out[3] = np.stack([_blob(7, 7, 1.0) for _ in shown])
        return out

    engine = GroundingEngine(ScriptedMLLM(maps), _cfg())
    pred, record = engine.ground(_input(_tracks()), get_variant("gti"))
    assert record["spatial"]["token"] == 3 and record["spatial"]["token_text"] == "assistant"
    assert pred.track_id == 2
    pred, record = engine.ground(_input(_tracks()), get_variant("baseline-mean-special"))
    assert record["spatial"]["token"] is None and pred.track_id == 1


def test_fixed_token_is_the_authors_template_token():
    engine = GroundingEngine(ScriptedMLLM(_maps(lambda p: _blob(7, 7))), _cfg())
    _, record = engine.ground(_input(_tracks()), get_variant("fixed-token"))
    assert record["spatial"]["token_text"] == "<|im_start|>"


def test_fixed_token_missing_from_the_template_fails_that_variant_alone():
    """A tokenizer that spells the template without the authors' token (LLaVA-NeXT-Video's
    "▁A" of "ASSISTANT:" in a 2-token spelling): fixed-token fails with the reason; never a
    wrapped index (len 2 + their -5 raised IndexError and failed every sample)."""
    mllm = ScriptedMLLM(_maps(lambda p: _blob(7, 7)))
    mllm.fixed_token = "▁A"
    out = GroundingEngine(mllm, _cfg()).ground_many(
        _input(_tracks()), [get_variant("fixed-token"), get_variant("gti")]
    )
    pred, record = out["fixed-token"]
    assert pred.error is not None and pred.error.startswith("ground: fixed-token: the authors'")
    assert "'▁A' is not among this backend's grounding-template tokens" in pred.error
    assert record["status"] == "failed" and record["error"] == pred.error
    assert out["gti"][0].error is None and out["gti"][1]["status"] == "ok"


def test_untuned_rows_ask_the_query_template_and_record_it():
    asked = []

    def maps(text, shown):
        asked.append(text)
        return _maps(lambda p: _blob(7, 7))(text, shown)

    engine = GroundingEngine(ScriptedMLLM(maps), _cfg())
    _, record = engine.ground(_input(_tracks()), get_variant("gti"))
    assert record["query_text"] == "Is there the man in red walks in this video?"
    assert record["spatial"]["text"] == record["query_text"] and record["query_text"] in asked
    raw = GroundingEngine(ScriptedMLLM(maps), _cfg(query_template="{query}"))
    _, record = raw.ground(_input(_tracks()), get_variant("baseline-mean-special"))
    assert record["spatial"]["text"] == record["query_text"] == "the man in red walks"


def test_tas_unreversal_aligns_a_map_of_the_reversed_video():
    # Frame position 0 has the blob at (0, 0): track A (id 2) is there on frame 0 only; track
    # B (id 1) is there on the last frame only. The reversed run sees frame 0 in its last slot:
    # flipped back it adds to A. Without the flip it would land on B (a tie, and B = id 1 wins).
    maps = _maps(lambda p: _blob(0, 0, 1.0 if p == 0 else 0.0))
    tracks = [Track(2, "person", {FRAMES[0]: LEFT}), Track(1, "person", {FRAMES[-1]: LEFT})]
    pred, record = GroundingEngine(ScriptedMLLM(maps), _cfg()).ground(
        _input(tracks), get_variant("full")
    )
    assert pred.track_id == 2
    assert record["track_scores"]["1"] == pytest.approx(0.0)
    assert record["tas"]["token"] == record["spatial"]["token"]


def test_lra_step_follows_the_planted_gradient_and_skips_nan():
    w = torch.linspace(-1, 1, 4)

    def margin(text, delta):
        return (delta * w).sum() / delta.shape[0]

    mllm = ScriptedMLLM(_maps(lambda p: _blob(7, 7)), margin=margin)
    cfg = _cfg(n_steps=1, lr=8.0, beta=0.5)
    _, record = GroundingEngine(mllm, cfg).ground(_input(_tracks()), get_variant("gti+spatial"))
    tuning = record["spatial"]["tuning"]
    step = tuning["steps"][0]
    # L = 1 - margin; at step 0 dL/dp_0 = dL/dx_0 = -w / n rows (p_{-1} is p_0): |g| = |w| / sqrt(n)
    n = T * 64
    assert step["grad_norm"] == pytest.approx(float(w.norm()) / np.sqrt(n), rel=1e-5)
    # x_1 = -beta * lr * g: margin(x_1) = beta * lr * |w|^2 / n
    assert tuning["margin_after"] == pytest.approx(0.5 * 8.0 * float(w.norm() ** 2) / n, rel=1e-5)
    assert tuning["margin_after"] > step["margin_before"]

    nan = ScriptedMLLM(_maps(lambda p: _blob(7, 7)),
                       margin=lambda text, d: (d * float("nan")).sum())  # fmt: skip
    _, record = GroundingEngine(nan, cfg).ground(_input(_tracks()), get_variant("gti+dsth"))
    assert record["spatial"]["tuning"]["n_skipped"] == 1
    assert record["spatial"]["tuning"]["steps"][0]["skipped"] is True


def test_zero_tracks_fail_the_sample():
    engine = GroundingEngine(ScriptedMLLM(_maps(lambda p: _blob(7, 7))), _cfg())
    with pytest.raises(ValueError, match="empty proposal set"):
        engine.ground(_input([]), get_variant("gti"))


def test_naive_full_costs_nine_forwards_and_three_backwards():
    engine = GroundingEngine(ScriptedMLLM(_maps(lambda p: _blob(7, 7))), _cfg(n_steps=1))
    _, record = engine.ground(_input(_tracks()), get_variant("full"))
    assert record["llm_calls"] == {"forwards": 9, "backwards": 3, "forward_equivalents": 12.0}
