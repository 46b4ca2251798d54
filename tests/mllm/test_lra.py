"""LRA (zstvg.grounding.tuning) on the tiny real checkpoint of every backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_backends import FPS, FRAME_IDX, frames

from zstvg.grounding.tuning import margin, tune

SUBQUERY = "Is there a man in a red shirt in this video?"
BETA = 0.5
# Target rise of z_yes - z_no in the first-order model; the rate is derived from the measured
# gradient, so the step stays in the linear regime whatever the random weights are.
TARGET_RISE = 0.01


def test_one_step_raises_the_margin_and_leaves_weights_untouched(loaded, family):
    m = loaded(family)
    inputs = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    feats = m.visual_features(inputs)
    before = {k: v.clone() for k, v in m.model.state_dict().items()}

    def forward(delta):
        return m.forward(inputs, feats, visual_delta=delta, capture=False)

    def step(delta):  # tune's forward: (result, the leaf it used)
        return forward(delta), delta

    x = torch.zeros_like(feats.embeds, requires_grad=True)
    (dl_dx,) = torch.autograd.grad(1.0 - margin(forward(x)), x)
    # margin(x_1) - margin(0) ~= beta * lr * |dL/dx|^2 for x_1 = -beta * lr * dL/dx_0
    lr = TARGET_RISE / (BETA * float(dl_dx.norm()) ** 2)
    delta, log = tune(step, tuple(feats.embeds.shape), n_steps=1, lr=lr, beta=BETA)
    with torch.no_grad():
        after = float(margin(forward(delta)))
    start = log.steps[0]["margin_before"]
    assert log.n_skipped == 0
    assert after > start, (family, start, after)
    assert after - start == pytest.approx(TARGET_RISE, rel=0.5)
    for k, v in m.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in m.model.parameters())


def test_lra_takes_the_authors_step_checked_by_finite_differences(loaded, family):
    """The authors' first step, computed without autograd: in their code the EMA's previous
    prompt is the current one at step 0, so x_1 = -beta * lr * dL/dx_0. Along random
    directions v, <x_1, v> must equal -beta * lr * (L(h v) - L(-h v)) / (2 h) (a central
    difference of the loss; our earlier step was half of it). A second step keeps its form:
    p_2 = p_1 - lr * beta * dL/dx_1, x_2 = beta p_2 + (1 - beta) p_1."""
    m = loaded(family)
    inputs = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    feats = m.visual_features(inputs)
    shape = tuple(feats.embeds.shape)

    def loss_at(x: torch.Tensor) -> float:
        with torch.no_grad():
            return 1.0 - float(margin(m.forward(inputs, feats, visual_delta=x, capture=False)))

    lr = 8.0
    x_1, _ = tune(lambda d: (m.forward(inputs, feats, visual_delta=d, capture=False), d),
                  shape, n_steps=1, lr=lr, beta=BETA)  # fmt: skip
    rng = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = torch.randn(shape, generator=rng)
        v = v / v.norm()
        h = 1e-2 * float(feats.embeds.float().abs().mean()) + 1e-3
        slope = (loss_at(h * v) - loss_at(-h * v)) / (2 * h)
        assert float((x_1 * v).sum()) == pytest.approx(-BETA * lr * slope, rel=0.05, abs=1e-6)
    # step 2: p_1 = x_1 / beta, p_2 = p_1 - lr * beta * dL/dx(x_1), x_2 = beta p_2 + (1-beta) p_1
    x_2, _ = tune(lambda d: (m.forward(inputs, feats, visual_delta=d, capture=False), d),
                  shape, n_steps=2, lr=lr, beta=BETA)  # fmt: skip
    x = x_1.clone().requires_grad_(True)
    (g_1,) = torch.autograd.grad(
        1.0 - margin(m.forward(inputs, feats, visual_delta=x, capture=False)), x
    )
    p_1 = x_1 / BETA
    p_2 = p_1 - lr * BETA * g_1
    torch.testing.assert_close(x_2, BETA * p_2 + (1 - BETA) * p_1, rtol=1e-4, atol=1e-6)


def test_nan_gradient_is_skipped_and_counted(loaded, family):
    m = loaded(family)
    inputs = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    feats = m.visual_features(inputs)
    delta, log = tune(
        lambda d: (m.forward(inputs, feats, visual_delta=d * float("nan"), capture=False), d),
        tuple(feats.embeds.shape), n_steps=2, lr=8.0, beta=BETA,
    )  # fmt: skip
    assert log.n_skipped == 2 and all(s["skipped"] for s in log.steps)
    assert torch.count_nonzero(delta) == 0  # no step was taken
    assert np.isnan(log.steps[0]["grad_norm"])


def test_llava_next_video_region_is_its_centre_crop(loaded):
    """HF LLaVA-NeXT-Video resizes the shortest edge to 84 and crops 84 x 84: of a 2:1 frame
    the model sees the middle half (x in [W/4, 3W/4)); a planted top-right cell lands there."""
    from zstvg.grounding.scoring import upsample

    m = loaded("llava-next-video")
    assert m.grid_region(200, 100) == (50.0, 0.0, 150.0, 100.0)
    assert m.grid_region(100, 200) == (0.0, 50.0, 100.0, 150.0)
    cell = np.zeros((2, 2))
    cell[0, 1] = 1.0
    up = upsample(cell, 100, 200, m.grid_region(200, 100))
    y, x = np.unravel_index(np.argmax(up), up.shape)
    assert 100 <= x < 150 and y < 50  # the top-right quarter of the crop, not of the frame
    assert up[:, :50].max() == 0.0 and up[:, 150:].max() == 0.0
    # squashing backends see the whole frame
    assert loaded("llava-ov").grid_region(200, 100) == (0.0, 0.0, 200.0, 100.0)


def test_prefix_and_suffix_equal_the_full_forward(loaded, family):
    """engine fast: one visual prefix + a short forward per text gives the full forward's
    attention rows and answer logits (with and without a visual prompt, reversed or not),
    and the LRA gradient through the cached prefix equals the full forward's."""
    m = loaded(family)
    query = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    neutral = m.encode(frames(), FRAME_IDX, "Describe this video in details.", FPS)
    base = m.visual_features(query)
    for reversed_video in (False, True):
        feats = m.reverse(base, query) if reversed_video else base
        delta = 0.01 * torch.randn(feats.embeds.shape, generator=torch.Generator().manual_seed(1))
        for d in (None, delta):
            with torch.no_grad():
                state = m.prefix(query, feats, d)
                rows = m.prefix(query, feats, d, rows_only=True)  # up to the last captured layer
                for inputs in (query, neutral, query):  # the cache is restored after each
                    full = m.forward(inputs, feats, visual_delta=d)
                    short = m.suffix(inputs, state)
                    torch.testing.assert_close(short.attn_thw, full.attn_thw, rtol=0, atol=1e-5)
                    torch.testing.assert_close(short.last_logits, full.last_logits, rtol=0,
                                               atol=1e-5)  # fmt: skip
                    for over in (state, rows):  # rows-only suffix over either prefix
                        cut = m.suffix(inputs, over, rows_only=True)
                        torch.testing.assert_close(cut.attn_thw, full.attn_thw, rtol=0, atol=1e-5)
                        if m.rows_depth < m.num_layers:  # no head on a cut stack
                            assert torch.isnan(cut.last_logits).all()
                if m.rows_depth < m.num_layers:
                    with pytest.raises(ValueError, match="suffix through 8 layers over a prefix"):
                        m.suffix(query, rows)
    x = torch.zeros_like(base.embeds, requires_grad=True)
    (reference,) = torch.autograd.grad(1 - margin(m.forward(query, base, visual_delta=x,
                                                            capture=False)), x)  # fmt: skip
    x0 = torch.zeros_like(base.embeds, requires_grad=True)
    state = m.prefix(query, base, x0)
    with torch.no_grad():  # a rows-only suffix in between must not break the prefix's graph
        m.suffix(neutral, state)
    (fast,) = torch.autograd.grad(1 - margin(m.suffix(query, state, capture=False)), x0)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)


def test_recomputed_activations_give_the_same_gradient(loaded, family):
    """ground.gradient_checkpointing: the LRA gradient through a full forward and through a
    cached prefix + suffix is the one without recomputation, and the cache is written once."""
    m = loaded(family)
    query = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    base = m.visual_features(query)

    mlp_calls = []
    # a pre-hook: the recompute stops once it has every saved tensor (before the hooks)
    m.decoder_layers()[0].mlp.register_forward_pre_hook(lambda *_: mlp_calls.append(1))

    def grads(recompute: bool) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.zeros_like(base.embeds, requires_grad=True)
        mlp_calls.clear()
        with m.recomputing(recompute):
            loss = 1 - margin(m.forward(query, base, visual_delta=x, capture=False))
        (full,) = torch.autograd.grad(loss, x)
        assert len(mlp_calls) == (2 if recompute else 1)  # the backward ran the layer again
        x0 = torch.zeros_like(base.embeds, requires_grad=True)
        with m.recomputing(recompute):
            state = m.prefix(query, base, x0)
        (cached,) = torch.autograd.grad(1 - margin(m.suffix(query, state, capture=False)), x0)
        assert all(layer.keys.shape[-2] == state.length for layer in state.cache.layers)
        return full, cached

    plain, recomputed = grads(False), grads(True)
    for a, b in zip(plain, recomputed, strict=True):
        assert a.abs().max() > 0
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    assert "forward" not in vars(m.decoder_layers()[0])  # the class's forward is back


@pytest.mark.parametrize("contrast", [False, True])
def test_both_engines_record_the_tuning_steps_effect(loaded, family, contrast):
    """L and z_yes - z_no at x_N (after the last LRA step) in the records of both engines, for
    every objective and with the neutral contrast term; `fast` left them null before. With
    ground.readout_after_tuning false the fast engine skips the readout (null again)."""
    import dataclasses

    from test_no_deprecated_calls import _ground_input

    from zstvg.config.params import load_params
    from zstvg.config.variants import get_variant
    from zstvg.grounding.engine import GroundingEngine

    m = loaded(family)
    base = dataclasses.replace(load_params().ground, neutral_contrast=contrast)
    variants = [get_variant("gti+dsth"), get_variant("gti+entropy")]
    records = {}
    for engine, readout in (("reference", True), ("fast", True), ("fast", False)):
        cfg = dataclasses.replace(base, engine=engine, readout_after_tuning=readout)
        out = GroundingEngine(m, cfg).ground_many(_ground_input(), variants)
        records[engine, readout] = {
            name: rec["spatial"]["tuning"] for name, (_, rec) in out.items()
        }
    for name in ("gti+dsth", "gti+entropy"):
        ref, fast = records["reference", True][name], records["fast", True][name]
        for key in ("loss_after", "margin_after"):
            assert ref[key] is not None and fast[key] == pytest.approx(ref[key], abs=1e-4), key
        assert records["fast", False][name]["loss_after"] is None
    # yesno: L = 1 - margin (minus the neutral margin with the contrast term)
    dsth = records["reference", True]["gti+dsth"]
    if not contrast:
        assert dsth["loss_after"] == pytest.approx(1.0 - dsth["margin_after"], abs=1e-6)
