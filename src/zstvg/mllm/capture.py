"""Attention-row capture without full attention matrices (docs/method.md#mllm-adapters).

The grounding method needs, for a handful of query positions (the grounding-token candidates,
~6 of them), the softmax attention row over all keys, averaged over heads, in ~20 layers.
Eager attention with ``output_attentions=True`` materializes (heads, L, L) per layer: at
L = 8,000 tokens and 28 heads that is 28 * 8000^2 * 4 B = 7.2 GB per layer in fp32.
``sdpa`` never returns weights (transformers 5 warns and returns None).

``capture_attention_forward`` is registered with transformers' ``AttentionInterface`` under
``CAPTURE_IMPL``: it computes the layer output with the stock SDPA function and, only for the
decoder layers registered in the active :class:`AttentionCapture`, recomputes the selected rows
from ``q[rows]`` and all keys with eager attention's exact recipe (GQA repeat, scaling, additive
mask, optional tanh softcap, softmax in fp32 then cast to the query dtype). Extra memory per
layer: (heads, rows, L) = 28 * 6 * 8000 * 4 B = 5.4 MB.

The mask function registered for ``CAPTURE_IMPL`` is SDPA's: it returns None for a plain causal
sequence (SDPA then uses ``is_causal``) or a boolean (batch, 1, q, kv) mask otherwise (padding,
sliding windows, bidirectional image blocks); both forms are handled for the rows.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

CAPTURE_IMPL = "zstvg_capture"

_state = threading.local()


class AttentionCapture:
    """Which attention modules to record and which query rows; collects head-averaged rows.

    ``layers`` maps each decoder self-attention module to its layer index. After the forward,
    ``rows[layer]`` is a float32 tensor (batch, n_rows, kv_len): the softmax rows of the
    selected query positions averaged over heads, or over the query heads ``heads`` (params
    ``mllm.heads``; None: all) (detached: the rows are read, never differentiated through).

    ``per_head_keys`` (probe-layers) also keeps every head's rows at those key positions (the
    visual grid): ``per_head[layer]`` is (batch, heads, n_rows, len(keys)), moved to the CPU as
    each layer finishes, so the device holds one layer's per-head rows at a time (streaming;
    at 28 heads, 6 rows and 8,000 keys that is the 5.4 MB the head mean is computed from
    anyway).
    """

    def __init__(
        self,
        layers: dict[torch.nn.Module, int],
        positions: Sequence[int],
        heads: Sequence[int] | None = None,
        per_head_keys: torch.Tensor | None = None,
    ) -> None:
        if not positions:
            raise ValueError("AttentionCapture needs at least one query position")
        self.layers = layers
        self.positions = [int(p) for p in positions]
        self.heads = None if heads is None else [int(h) for h in heads]
        self.per_head_keys = per_head_keys
        self.rows: dict[int, torch.Tensor] = {}
        self.per_head: dict[int, torch.Tensor] = {}

    def record(
        self,
        module: torch.nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        attention_mask: torch.Tensor | None,
        scaling: float | None,
        is_causal: bool,
        softcap: float | None,
    ) -> None:
        layer = self.layers.get(module)
        if layer is None:
            return
        weights = selected_attention_weights(
            module, query, key, attention_mask, self.positions, scaling, is_causal, softcap
        )
        self.rows[layer] = head_mean(weights, self.heads)
        if self.per_head_keys is not None:
            keys = self.per_head_keys.to(weights.device)
            self.per_head[layer] = weights.float().index_select(3, keys).cpu()


def head_mean(weights: torch.Tensor, heads: Sequence[int] | None = None) -> torch.Tensor:
    """(batch, heads, rows, kv) softmax rows -> their float32 mean over ``heads`` (None: all)."""
    if heads is not None:
        n = weights.shape[1]
        if not heads or min(heads) < 0 or max(heads) >= n:
            raise IndexError(f"heads {list(heads)} (mllm.heads) outside the layer's {n} heads")
        weights = weights.index_select(1, torch.as_tensor(heads, device=weights.device))
    return weights.float().mean(dim=1)


def selected_attention_weights(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    positions: Sequence[int],
    scaling: float | None,
    is_causal: bool,
    softcap: float | None = None,
) -> torch.Tensor:
    """Every head's softmax rows (batch, heads, len(positions), kv_len) for the given query
    positions, in the query's dtype.

    ``query`` is (batch, heads, q_len, dim), ``key`` (batch, kv_heads, kv_len, dim) as the
    attention interface receives them (RoPE already applied). Positions index the query axis.
    """
    with torch.no_grad():
        q_len, kv_len = query.shape[2], key.shape[2]
        idx = torch.as_tensor(list(positions), device=query.device, dtype=torch.long)
        if int(idx.min()) < 0 or int(idx.max()) >= q_len:
            raise IndexError(f"capture positions {list(positions)} outside a query of {q_len}")
        q_rows = query.index_select(2, idx)
        n_rep = getattr(module, "num_key_value_groups", query.shape[1] // key.shape[1])
        k = repeat_kv(key, n_rep)
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        scores = torch.matmul(q_rows, k.transpose(2, 3)) * scale
        if softcap is not None:
            scores = torch.tanh(scores / softcap) * softcap
        if attention_mask is not None:
            mask_rows = attention_mask[:, :, idx, :kv_len]
            if mask_rows.dtype == torch.bool:
                scores = scores.masked_fill(~mask_rows, torch.finfo(scores.dtype).min)
            else:
                scores = scores + mask_rows
        elif is_causal:
            # A causal sequence whose queries are the last q_len keys (no cache here: q == kv).
            q_pos = idx + (kv_len - q_len)
            allowed = torch.arange(kv_len, device=query.device)[None, :] <= q_pos[:, None]
            scores = scores.masked_fill(~allowed[None, None], torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)


def capture_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """SDPA output, plus the selected rows recorded into the active capture (if any)."""
    softcap = kwargs.pop("softcap", None)
    active: AttentionCapture | None = getattr(_state, "capture", None)
    if active is not None and module in active.layers:
        causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
        active.record(module, query, key, attention_mask, scaling, bool(causal), softcap)
    if softcap is not None:
        raise ValueError(
            f"{type(module).__name__} uses attention softcapping, which SDPA cannot compute"
        )
    return sdpa_attention_forward(
        module,
        query,
        key,
        value,
        attention_mask,
        dropout=dropout,
        scaling=scaling,
        is_causal=is_causal,
        **kwargs,
    )


def register() -> None:
    """Register the attention and mask functions (idempotent)."""
    AttentionInterface.register(CAPTURE_IMPL, capture_attention_forward)
    AttentionMaskInterface.register(CAPTURE_IMPL, sdpa_mask)


@contextlib.contextmanager
def capturing(capture: AttentionCapture | None) -> Iterator[AttentionCapture | None]:
    """Make ``capture`` the active one for forwards run inside the block (this thread); None
    records nothing."""
    previous = getattr(_state, "capture", None)
    _state.capture = capture
    try:
        yield capture
    finally:
        _state.capture = previous


register()
