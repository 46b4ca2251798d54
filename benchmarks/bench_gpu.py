"""The real shapes on one GPU: LLaVA-OneVision-7B and Qwen2-VL-7B (bf16, random weights built from
their configurations), Grounding DINO-T + SAM 2.1-hiera-T proposals, per 20 s 720p video.

Per MLLM, the parts of one video's grounding, each timed on the GPU (synchronised, min of
``--repeats``) with its peak allocated CUDA memory:

- ``vision_s``: the vision tower on the video's 20 frames (Qwen2-VL: 20 frames at 560x560, 10
  temporal slots x 40 x 40 patches, 4,000 merged tokens, the budget bench_grounding.py uses;
  LLaVA-OV: SigLIP-so400m at 384 px on 20 frames, 729 patches each, pooled to 196 tokens:
  3,920 tokens);
- ``forward_s``: the 28-layer LLM over the visual tokens + a 35-token text, capturing the
  attention rows of the last 6 positions in every layer (zstvg.mllm.capture, as grounding does);
- ``lra_step_s``: the same forward with gradients to the visual embeddings, and the backward.

``gti_s`` / ``full_s`` project one video from these with the fast engine's LLM work per variant
(bench_grounding.py's counters at 28 layers: gti 0.79 forward-equivalents, no backward; full
4.37 of forwards + 3 backwards): vision + forwards x forward_s + backwards x (lra_step_s -
forward_s). Proposals: ``bench_proposals.py --full`` (sam2-hf and bytetrack trackers, 100 grid
frames of a 1280x720 20 s video) in a subprocess. Target (issue 15): proposals at most 3 s per
20 s video on one H100-class GPU; [8/11]: gti <= 0.2 s, full <= 1.2 s per video.

Fits in 10 minutes on one H200 (building a 7B model from its config on the GPU takes seconds; no
checkpoint is written). ``--dry-run``: the same code with tiny widths on the CPU (a test).

    python benchmarks/bench_gpu.py [--json results/benchmarks/gpu.json]
    python benchmarks/bench_gpu.py --dry-run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# Qwen2-7B, the LLM of both Qwen2-VL-7B and LLaVA-OV-7B
LLM_7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
              num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
              rope_theta=1e6)  # fmt: skip
LLM_TINY = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=4096)  # fmt: skip
# SigLIP-so400m-patch14-384 as LLaVA-OV-7B uses it (its last layer is not used: 26 of 27)
SIGLIP_SO400M = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26,
                     num_attention_heads=16, image_size=384, patch_size=14)  # fmt: skip
SIGLIP_TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=2, image_size=56, patch_size=14)  # fmt: skip
# the fast engine's LLM work per video at 28 layers (bench_grounding.py, docs/method.md): forward
# equivalents spent in forwards, and backwards
VARIANT_WORK = {"gti": (0.79, 0), "full": (4.37, 3)}
TEXT_TOKENS, CAPTURED = 35, 6


def _timed(fn: Callable[[], Any], repeats: int, cuda: bool) -> tuple[float, float | None]:
    import torch

    best = float("inf")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return round(best, 4), None if peak is None else round(peak, 2)


def _vision(
    name: str, dry: bool, device: str, dtype: torch.dtype
) -> tuple[torch.nn.Module, Callable[[], Any]]:
    """The vision tower and a function running it on one video's 20 frames (random pixels)."""
    import torch

    frames = 2 if dry else 20
    if name == "qwen2-vl-7b":
        from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
        from transformers.models.qwen2_vl.modeling_qwen2_vl import (
            Qwen2VisionTransformerPretrainedModel,
        )

        cfg = Qwen2VLVisionConfig(hidden_size=LLM_7B["hidden_size"])  # the 7B's: depth 32, 1280
        if dry:
            cfg = Qwen2VLVisionConfig(depth=2, embed_dim=32, num_heads=2, hidden_size=64)
        model = Qwen2VisionTransformerPretrainedModel._from_config(cfg).to(device, dtype).eval()
        side = 4 if dry else 40  # patches per side: 560 px / 14
        grid = torch.tensor([[frames // 2, side, side]], device=device)
        patch = 3 * 2 * 14 * 14  # channels x temporal patch x 14 x 14
        pixels = torch.randn(frames // 2 * side * side, patch, device=device, dtype=dtype)
        return model, lambda: model(pixels, grid_thw=grid)
    from transformers import SiglipVisionConfig, SiglipVisionModel

    cfg = SiglipVisionConfig(**(SIGLIP_TINY if dry else SIGLIP_SO400M))
    model = SiglipVisionModel._from_config(cfg).to(device, dtype).eval()
    pixels = torch.randn(frames, 3, cfg.image_size, cfg.image_size, device=device, dtype=dtype)
    return model, lambda: model(pixel_values=pixels)


def bench_mllm(name: str, dry: bool, device: str, repeats: int) -> dict:
    import torch
    from transformers import Qwen2Config, Qwen2Model

    from zstvg.mllm import capture as cap

    torch.manual_seed(0)
    dtype = torch.float32 if dry else torch.bfloat16
    cuda = device.startswith("cuda")
    vision, run_vision = _vision(name, dry, device, dtype)
    with torch.no_grad():
        vision_s, vision_peak = _timed(run_vision, repeats, cuda)
    del vision
    visual = {"qwen2-vl-7b": 4000, "llava-ov-7b": 20 * 196}[name] if not dry else 64
    config = Qwen2Config(**(LLM_TINY if dry else LLM_7B), attn_implementation=cap.CAPTURE_IMPL)
    torch.set_default_dtype(dtype)
    with torch.device(device):
        llm = Qwen2Model(config).eval()
    torch.set_default_dtype(torch.float32)
    llm.requires_grad_(False)
    n = visual + TEXT_TOKENS
    embeds = torch.randn(1, n, config.hidden_size, device=device, dtype=dtype) * 0.02
    positions = list(range(n - CAPTURED, n))
    layers = {layer.self_attn: i for i, layer in enumerate(llm.layers)}

    def forward() -> None:
        with torch.no_grad(), cap.capturing(cap.AttentionCapture(layers, positions)):
            llm(inputs_embeds=embeds, use_cache=False)

    def lra_step() -> None:
        x = embeds.detach().requires_grad_(True)
        recorder = cap.AttentionCapture(layers, positions)
        with cap.capturing(recorder):
            out = llm(inputs_embeds=x, use_cache=False).last_hidden_state
        out[0, -1].float().pow(2).mean().backward()

    forward_s, forward_peak = _timed(forward, repeats, cuda)
    lra_s, lra_peak = _timed(lra_step, repeats, cuda)
    result = {"model": name, "visual_tokens": visual, "seq_len": n, "vision_s": vision_s,
              "forward_s": forward_s, "lra_step_s": lra_s,
              "peak_gib": {"vision": vision_peak, "forward": forward_peak,
                           "lra": lra_peak}}  # fmt: skip
    for variant, (fwd, bwd) in VARIANT_WORK.items():
        result[f"{variant}_s"] = round(vision_s + fwd * forward_s + bwd * (lra_s - forward_s), 3)
    if cuda:  # the next model's peak starts from nothing
        del llm, embeds
        torch.cuda.empty_cache()
    return result


def bench_proposals(dry: bool) -> dict:
    script = Path(__file__).with_name("bench_proposals.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "proposals.json"
        cmd = [
            sys.executable,
            str(script),
            "--trackers",
            "sam2-hf",
            "bytetrack",
            "--json",
            str(out),
        ]
        if not dry:
            cmd.insert(2, "--full")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip()[-2000:]}
        return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny widths on the CPU (a test)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per part (min)")
    ap.add_argument("--models", nargs="+", default=["qwen2-vl-7b", "llava-ov-7b"],
                    choices=["qwen2-vl-7b", "llava-ov-7b"])  # fmt: skip
    ap.add_argument("--no-proposals", action="store_true", help="skip the proposals part")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device: run with --dry-run for the CPU smoke test")
        return 2
    device = "cpu" if args.dry_run else "cuda"
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else None
    report: dict[str, Any] = {"dry_run": args.dry_run, "device": device, "gpu": gpu,
                              "mllm": {}, "proposals": None}  # fmt: skip
    for name in args.models:
        t0 = time.perf_counter()
        report["mllm"][name] = r = bench_mllm(name, args.dry_run, device, args.repeats)
        print(f"{name}: {json.dumps(r)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if not args.no_proposals:
        report["proposals"] = bench_proposals(args.dry_run)
        print(f"proposals: {json.dumps(report['proposals'])}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
