"""LRA (zstvg.grounding.tuning) on the tiny real checkpoint of every backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_backends import BACKENDS, FPS, FRAME_IDX, frames

from zstvg.grounding.tuning import margin, tune

SUBQUERY = "Is there a man in a red shirt in this video?"
BETA = 0.5
# Target rise of z_yes - z_no in the first-order model; the rate is derived from the measured
# gradient, so the step stays in the linear regime whatever the random weights are.
TARGET_RISE = 0.01


@pytest.fixture(params=sorted(BACKENDS), scope="module")
def family(request: pytest.FixtureRequest) -> str:
    return request.param


def test_one_step_raises_the_margin_and_leaves_weights_untouched(loaded, family):
    m = loaded(family)
    inputs = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    feats = m.visual_features(inputs)
    before = {k: v.clone() for k, v in m.model.state_dict().items()}

    def forward(delta):
        return m.forward(inputs, feats, visual_delta=delta, capture=False)

    x = torch.zeros_like(feats.embeds, requires_grad=True)
    (dl_dx,) = torch.autograd.grad(1.0 - margin(forward(x)), x)
    # margin(x_1) - margin(0) ~= beta^2 * lr * |dL/dx|^2 for x_1 = -beta * lr * dL/dp
    lr = TARGET_RISE / (BETA**2 * float(dl_dx.norm()) ** 2)
    delta, log = tune(forward, tuple(feats.embeds.shape), n_steps=1, lr=lr, beta=BETA)
    with torch.no_grad():
        after = float(margin(forward(delta)))
    start = log.steps[0]["margin_before"]
    assert log.n_skipped == 0
    assert after > start, (family, start, after)
    assert after - start == pytest.approx(TARGET_RISE, rel=0.5)
    for k, v in m.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in m.model.parameters())


def test_nan_gradient_is_skipped_and_counted(loaded, family):
    m = loaded(family)
    inputs = m.encode(frames(), FRAME_IDX, SUBQUERY, FPS)
    feats = m.visual_features(inputs)
    delta, log = tune(
        lambda d: m.forward(inputs, feats, visual_delta=d * float("nan"), capture=False),
        tuple(feats.embeds.shape), n_steps=2, lr=8.0, beta=BETA,
    )  # fmt: skip
    assert log.n_skipped == 2 and all(s["skipped"] for s in log.steps)
    assert torch.count_nonzero(delta) == 0  # no step was taken
    assert np.isnan(log.steps[0]["grad_norm"])
