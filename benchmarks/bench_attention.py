"""Peak memory and time of attention-row capture vs eager ``output_attentions`` vs plain SDPA.

A 7B-like LLM shape (Qwen2-7B: hidden 3584, 28 heads, 4 KV heads, MLP 18944) with random
weights and a few decoder layers, run on ``inputs_embeds`` of 4,000 and 8,000 tokens. Each
(mode, length) runs in its own subprocess. The memory figure is the forward's extra resident
memory: the process's peak RSS during the forward (``VmHWM``, reset through
``/proc/self/clear_refs`` right before it; ``ru_maxrss`` where that is not writable) minus its
RSS right before it, so weights, inputs and model construction are excluded. The weights are
built directly in the benchmark dtype (building in fp32 and casting would leave a construction
peak above the capture forward's). Capture records the rows of the last 6 positions in every
layer, as grounding does; eager keeps every layer's (heads, L, L) matrix, as
``output_attentions=True`` returns them.

Layers matter for the ratio: one layer's MLP activations (8,000 x 18,944 x 3 tensors) are the
largest part of the capture forward, while eager keeps a (28, L, L) matrix per layer (3.6 GB in
bf16 at 8,000 tokens) on top of the transient scores / fp32 softmax of the running layer. A
1-layer fp32 run measured only 7.2x for that reason. Measured with the defaults (2 bf16 layers,
2 CPU threads, AMD EPYC): 8,000 tokens: eager 20.38 GiB, capture 1.09 GiB (18.7x), SDPA 1.09
GiB; capture 17.03 s vs SDPA 15.28 s (1.12x); 4,000 tokens: 5.38 vs 0.63 GiB (8.5x), 1.07x.
Eager at 8,000 tokens needs ~21 GiB free; with less, run ``--lengths 4000`` or ``--layers 1``.

Targets (issue 15): capture uses >= 10x less peak memory than eager at 8,000 tokens, and its
time is within 1.2x of SDPA without capture. ``--hidden`` and the other width options shrink
the model for a smoke test (run_all.py --quick); ``--json`` writes the figures.

    .venv/bin/python benchmarks/bench_attention.py                # 2 layers, bf16, 2k + 4k + 8k
    .venv/bin/python benchmarks/bench_attention.py --layers 3 --lengths 8000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _memory import peak_bytes, reset_peak, rss_bytes

MODES = ("sdpa", "capture", "eager")


def run_one(
    mode: str, n_tokens: int, n_layers: int, dtype_name: str, repeats: int, width: dict
) -> dict:
    import torch
    from transformers import Qwen2Config, Qwen2Model
    from transformers.initialization import no_init_weights

    from zstvg.mllm import capture as cap

    torch.manual_seed(0)
    dtype = getattr(torch, dtype_name)
    impl = {"sdpa": "sdpa", "capture": cap.CAPTURE_IMPL, "eager": "eager"}[mode]
    config = Qwen2Config(
        vocab_size=128,
        **width,
        num_hidden_layers=n_layers,
        max_position_embeddings=32768,
        attn_implementation=impl,
    )
    torch.set_default_dtype(dtype)
    with no_init_weights():  # transformers' own init (6.5 s at this width) is redone below
        model = Qwen2Model(config).eval()
    torch.set_default_dtype(torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # what Qwen2's _init_weights draws (initializer_range 0.02), in 3.3 s
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.normal_(0.0, config.initializer_range, generator=generator)
            else:
                param.fill_(1.0 if "norm" in name else 0.0)
    embeds = torch.randn(1, n_tokens, width["hidden_size"]).to(dtype) * 0.02
    positions = list(range(n_tokens - 6, n_tokens))
    layers = {layer.self_attn: i for i, layer in enumerate(model.layers)}
    times = []
    base = rss_bytes()
    reset = reset_peak()
    for _ in range(repeats):
        recorder = cap.AttentionCapture(layers, positions)
        t0 = time.perf_counter()
        with torch.no_grad(), cap.capturing(recorder):
            out = model(inputs_embeds=embeds, use_cache=False, output_attentions=(mode == "eager"))
            if mode == "eager":
                rows = [a[0][:, positions].float().mean(0) for a in out.attentions]
            elif mode == "capture":
                rows = [recorder.rows[i][0] for i in range(n_layers)]
        times.append(time.perf_counter() - t0)
        del out
    peak = peak_bytes(reset)
    result = {
        "mode": mode,
        "tokens": n_tokens,
        "layers": n_layers,
        "dtype": dtype_name,
        "seconds": min(times),
        "peak_extra_bytes": max(peak - base, 0),
        "peak_source": "VmHWM" if reset else "ru_maxrss",
        "threads": torch.get_num_threads(),
    }
    if mode != "sdpa":
        result["rows_shape"] = list(rows[0].shape)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2, help="decoder layers (default 2)")
    ap.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[2000, 4000, 8000],
        help="sequence lengths in tokens",
    )
    ap.add_argument(
        "--dtype",
        default="bfloat16",
        choices=["float32", "bfloat16"],
        help="weights and activations dtype (default bfloat16)",
    )
    ap.add_argument("--repeats", type=int, default=1, help="timed forwards per config (min)")
    ap.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=MODES, help="which modes to run"
    )
    ap.add_argument("--hidden", type=int, default=3584, help="hidden size (Qwen2-7B: 3584)")
    ap.add_argument("--intermediate", type=int, default=18944, help="MLP size (18944)")
    ap.add_argument("--heads", type=int, default=28, help="attention heads (28)")
    ap.add_argument("--kv-heads", type=int, default=4, help="key/value heads (4)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "TOKENS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    width = dict(hidden_size=args.hidden, intermediate_size=args.intermediate,
                 num_attention_heads=args.heads, num_key_value_heads=args.kv_heads)  # fmt: skip
    if args.child:
        res = run_one(
            args.child[0], int(args.child[1]), args.layers, args.dtype, args.repeats, width
        )
        print(json.dumps(res))
        return 0
    print(
        f"config: {args.layers} decoder layer(s), hidden {args.hidden}, {args.heads} heads / "
        f"{args.kv_heads} KV heads, MLP {args.intermediate}, random weights, {args.dtype}, CPU, "
        f"lengths {args.lengths}, "
        f"capture rows = last 6 positions, min of {args.repeats} forward(s), "
        f"each mode in its own subprocess",
        flush=True,
    )
    results = {}
    for n in args.lengths:
        for mode in args.modes:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                mode,
                str(n),
                "--layers",
                str(args.layers),
                "--dtype",
                args.dtype,
                "--repeats",
                str(args.repeats),
                "--hidden",
                str(args.hidden),
                "--intermediate",
                str(args.intermediate),
                "--heads",
                str(args.heads),
                "--kv-heads",
                str(args.kv_heads),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{mode} @ {n}: failed (exit {proc.returncode}; killed for memory if -9)")
                print(proc.stderr.strip().splitlines()[-1:] if proc.stderr else "")
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results[(mode, n)] = res
            print(
                f"{mode:8s} {n:6d} tokens  {res['seconds']:8.2f} s  "
                f"peak extra {res['peak_extra_bytes'] / 2**30:7.2f} GiB "
                f"({res['peak_source']}, {res['threads']} threads)",
                flush=True,
            )
    print(f"\n{args.layers} layer(s), hidden {args.hidden}, {args.dtype}, CPU")
    for n in args.lengths:
        cap_r, eag, sdp = (results.get((m, n)) for m in ("capture", "eager", "sdpa"))
        if cap_r and eag:
            ratio = eag["peak_extra_bytes"] / max(cap_r["peak_extra_bytes"], 1)
            print(f"{n} tokens: eager / capture peak memory = {ratio:.1f}x (target >= 10x)")
        if cap_r and sdp:
            print(
                f"{n} tokens: capture / sdpa time = "
                f"{cap_r['seconds'] / sdp['seconds']:.2f}x (target <= 1.2x)"
            )
    if args.json:
        report = {
            "config": {"layers": args.layers, "dtype": args.dtype, "repeats": args.repeats,
                       "capture_positions": 6, **width},
            "runs": list(results.values()),
            "failed": [f"{m}@{n}" for n in args.lengths for m in args.modes
                       if (m, n) not in results],
        }  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
