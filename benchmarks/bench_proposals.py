"""Seconds and peak memory of ``propose`` per 20 s video, per tracker.

Default (CPU): tiny random-weight Grounding DINO + SAM 2 checkpoints (zstvg.tiny.proposals) on
a synthetic 20 s video at 320x240 (100 proposal frames = the 5 fps grid), detector every 10th
frame (every frame for the box trackers), one class. ``--full`` (GPU machine): randomly
initialised full-size configurations, Grounding DINO-T (Swin-T + BERT-base, the transformers
defaults) and SAM 2.1-hiera-T (``Sam2VideoConfig()`` for sam2-hf; the sam2 package's
``sam2.1_hiera_t.yaml`` for sam2-official), on a 20 s 1280x720 video. The tiny sam2-official
model is the real hiera-T at a 128-px input (zstvg.tiny.proposals.SAM2_OFFICIAL_TINY_OVERRIDES):
much bigger than the tiny sam2-hf one (39 M vs ~0.2 M parameters), so their times differ by that.
Each tracker runs in a fresh process, so "peak RSS" is that run's own resident-set peak; on a
GPU the peak allocated CUDA memory is printed too. Random weights: detections and masks are
arbitrary, but the work done per frame is the real one (max_detections_per_frame boxes kept).

    .venv/bin/python benchmarks/bench_proposals.py [--full] [--trackers sam2-official botsort]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

TRACKERS = ["sam2-hf", "sam2-official", "bytetrack", "botsort", "ocsort", "sort"]


def build_full_checkpoints(root: Path) -> tuple[Path, Path]:
    """Random-weight full-size Grounding DINO-T and SAM 2.1-hiera-T in the HF format."""
    import torch
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        Sam2ImageProcessor,
        Sam2VideoConfig,
        Sam2VideoModel,
        Sam2VideoProcessor,
        Sam2VideoVideoProcessor,
    )
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    from zstvg.tiny.proposals import bert_vocab

    torch.manual_seed(0)
    gdino, sam2 = root / "gdino-full", root / "sam2-full"
    GroundingDinoForObjectDetection(GroundingDinoConfig()).save_pretrained(gdino)
    vocab = bert_vocab()
    GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessorPil(),  # 800 / 1333 px, as the real one
        tokenizer=BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}),
    ).save_pretrained(gdino)
    Sam2VideoModel(Sam2VideoConfig()).save_pretrained(sam2)
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(),  # 1024 px, as the real one
        video_processor=Sam2VideoVideoProcessor(),
    ).save_pretrained(sam2)
    return gdino, sam2


def build_full_official_checkpoint(root: Path) -> Path:
    """Random-weight SAM 2.1-hiera-T in the sam2 package's .pt format (1024 px)."""
    import torch
    from sam2.build_sam import build_sam2_video_predictor

    from zstvg.tiny.proposals import SAM2_OFFICIAL_TINY_CONFIG

    torch.manual_seed(0)
    model = build_sam2_video_predictor(SAM2_OFFICIAL_TINY_CONFIG, ckpt_path=None, device="cpu")
    path = root / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path


def synthetic_video(n_frames: int, width: int, height: int):
    import numpy as np

    from zstvg.proposals.frames import ArrayFrames

    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    frames = {}
    for i in range(n_frames):
        img = background.copy()
        x = int(i * (width - width // 5) / n_frames)
        img[height // 4 : height // 2, x : x + width // 5] = (255, 0, 0)
        frames[i * 6] = img  # 30 fps video, 5 fps grid: every 6th native frame
    return ArrayFrames("bench", frames)


def _run(
    tracker: str, gdino: str, sam2: str, overrides: tuple[str, ...], full: bool, queue
) -> None:
    import torch

    from zstvg.config.params import load_params
    from zstvg.jobs.gpus import resolve_device
    from zstvg.proposals.detectors import build_detector
    from zstvg.proposals.propose import propose_video
    from zstvg.proposals.trackers import build_tracker

    if not full:
        torch.set_num_threads(1)
    device = resolve_device("auto" if full else "cpu")
    cfg = dataclasses.replace(
        load_params().proposals,
        detector_checkpoint=gdino,
        tracker_checkpoint=sam2,
        tracker_config_overrides=overrides,
        tracker=tracker,
        box_threshold=0.0,
        text_threshold=0.0,
        max_detections_per_frame=3,
        device=device,
    )
    width, height = (1280, 720) if full else (320, 240)
    video = synthetic_video(100, width, height)
    detector, trk = build_detector(cfg, device), build_tracker(cfg, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    tracks = propose_video(video, ["person"], detector, trk, cfg)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    queue.put(
        {
            "tracker": tracker,
            "device": device,
            "seconds": seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mib": rss_before / 1024,
            "cuda_peak_mib": cuda_peak,
            "n_tracks": len(tracks),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="full-size random Grounding DINO-T + SAM 2.1-hiera-T on 720p (GPU)",
    )
    parser.add_argument(
        "--trackers",
        nargs="+",
        default=TRACKERS,
        choices=TRACKERS,
        help=f"trackers to time (default: {' '.join(TRACKERS)})",
    )
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()
    from zstvg.tiny.proposals import (
        SAM2_OFFICIAL_TINY_OVERRIDES,
        build_tiny_gdino,
        build_tiny_sam2,
        build_tiny_sam2_official,
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.full:
            gdino, sam2 = build_full_checkpoints(root)
            official: tuple[Path | None, tuple[str, ...]] = (None, ())
            if "sam2-official" in args.trackers:
                official = (build_full_official_checkpoint(root), ())
        else:
            gdino, sam2 = build_tiny_gdino(root / "gdino"), build_tiny_sam2(root / "sam2")
            official = (None, SAM2_OFFICIAL_TINY_OVERRIDES)
            if "sam2-official" in args.trackers:
                official = (build_tiny_sam2_official(root / "sam2-official"), official[1])
        ctx = multiprocessing.get_context("spawn")
        size = "full-size, 1280x720" if args.full else "tiny, 320x240"
        print(
            f"propose per 20 s video (100 grid frames, {size}, detector every 10th frame; "
            "box trackers: every frame)"
        )
        print(
            f"{'tracker':<13} {'device':<7} {'seconds':>8} {'peak RSS MiB':>13} "
            f"{'CUDA peak MiB':>14} {'tracks':>7}"
        )
        results = []
        for tracker in args.trackers:
            queue = ctx.Queue()
            ckpt, overrides = official if tracker == "sam2-official" else (sam2, ())
            proc = ctx.Process(
                target=_run, args=(tracker, str(gdino), str(ckpt), overrides, args.full, queue)
            )
            proc.start()
            result = queue.get()
            proc.join()
            results.append(result)
            cuda = f"{result['cuda_peak_mib']:.0f}" if result["cuda_peak_mib"] else "-"
            print(
                f"{tracker:<13} {result['device']:<7} {result['seconds']:>8.2f} "
                f"{result['peak_rss_mib']:>13.0f} {cuda:>14} {result['n_tracks']:>7}"
            )
    if args.json:
        report = {"config": {"full": args.full, "size": size, "grid_frames": 100}, "runs": results}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
