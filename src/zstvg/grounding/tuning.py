"""LRA, logit-guided re-attention (docs/method.md#logit-guided-re-attention-lra): test-time tuning
of a visual prompt.

A prompt ``p`` with the shape of the post-projector visual embeddings (extra tokens included)
is added to them. From p_0 = 0, for k = 0..N-1::

    x_k = beta * p_k + (1 - beta) * p_{k-1}        (p_{-1} IS p_0: the same tensor)
    L   = 1 - (z_yes - z_no)(x_k)                  first answer position, one forward
    g   = dL / dp_k                                 a non-finite g is skipped and counted
    p_{k+1} = p_k - lr * g

and inference uses x_N. At k = 0 the EMA's previous prompt is the current one (the authors'
code keeps one tensor for both), so the gradient flows through both terms: g_0 = dL/dx_0 and
x_1 = -beta * lr * dL/dx_0 (-4 dL/dx_0 at the defaults lr 8, beta 0.5). From k = 1 on p_{k-1}
is a constant of the step: g_k = beta * dL/dx_k. Holding p_{-1} constant at k = 0 too would
take half that first step (beta^2 instead of beta), and lr 8 would act as the authors' 4.
Only ``p`` receives a gradient: the model's weights are frozen (``requires_grad=False``) and
are never written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from zstvg.mllm.base import ForwardResult

# (visual prompt leaf) -> (the forward whose answer is tuned, the leaf it used)
ForwardFn = Callable[[torch.Tensor], tuple[ForwardResult, torch.Tensor]]
# (visual prompt leaf) -> the neutral prompt's forward at it (the contrast term)
NeutralFn = Callable[[torch.Tensor], ForwardResult]


@dataclass
class TuningLog:
    """What one LRA run did: the loss before each step, the gradient norm, skipped steps."""

    objective: str
    steps: list[dict[str, float | bool]] = field(default_factory=list)
    n_skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"objective": self.objective, "steps": self.steps, "n_skipped": self.n_skipped}


def margin(result: ForwardResult) -> torch.Tensor:
    """z_yes - z_no of a forward's first answer token."""
    return result.yes_logit - result.no_logit


def entropy(result: ForwardResult) -> torch.Tensor:
    """Entropy (nats) of the first answer token's distribution."""
    logp = torch.log_softmax(result.last_logits.float(), dim=-1)
    return -(logp.exp() * logp).sum()


def loss(
    result: ForwardResult, objective: str, neutral: ForwardResult | None = None
) -> torch.Tensor:
    """The LRA objective of a forward (``neutral``: the neutral prompt's forward at the same
    visual prompt, for the authors' contrast term)."""
    if objective == "entropy":
        return entropy(result)
    value = margin(result)
    if neutral is not None:
        value = value - margin(neutral)
    return 1.0 - value


def tune(
    forward: ForwardFn,
    shape: tuple[int, ...],
    *,
    n_steps: int,
    lr: float,
    beta: float,
    objective: str = "yesno",
    neutral_forward: NeutralFn | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, TuningLog]:
    """Run LRA; returns x_N (detached, float32) and the log.

    ``forward(x)`` runs the sub-query forward with the visual prompt ``x`` (a leaf that
    requires grad) and returns ``(result, leaf)``: the leaf the result depends on, normally
    ``x`` itself; an engine whose p = 0 prefix is already computed returns that prefix's own
    zero leaf at step 0. ``neutral_forward(leaf)`` is the neutral prompt's forward (only with
    the contrast term). With x_k = beta p_k + (1 - beta) p_{k-1}: dL/dp_0 = dL/dx_0 (p_{-1} is
    p_0), and dL/dp_k = beta dL/dx_k for k >= 1 (p_{k-1} held fixed).
    """
    log = TuningLog(objective)
    p_prev = torch.zeros(shape, dtype=torch.float32, device=device)
    p = p_prev.clone()
    for k in range(n_steps):
        x_k = (beta * p + (1.0 - beta) * p_prev).requires_grad_(True)
        result, leaf = forward(x_k)
        neutral = neutral_forward(leaf) if neutral_forward is not None else None
        value = loss(result, objective, neutral)
        # torch types the gradients as Tensors; with allow_unused an unused input's is None
        grads: tuple[torch.Tensor | None, ...] = torch.autograd.grad(
            value, leaf, retain_graph=leaf is not x_k, allow_unused=True
        )
        (grad_x,) = grads
        if grad_x is None:  # the answer does not depend on the prompt (a scripted model)
            grad_x = torch.zeros_like(x_k)
        # x_0 = beta p_0 + (1 - beta) p_0: both terms carry the gradient at the first step
        grad = (1.0 if k == 0 else beta) * grad_x.detach().float()
        finite = bool(torch.isfinite(grad).all())
        step = {
            "loss_before": float(value.detach()),
            "margin_before": float(margin(result).detach()),
            "grad_norm": float(grad.norm()) if finite else float("nan"),
            "skipped": not finite,
        }
        log.steps.append(step)
        p_prev = p
        if finite:
            p = p - lr * grad
        else:
            log.n_skipped += 1
    x_n = beta * p + (1.0 - beta) * p_prev
    return x_n.detach(), log
