"""Seconds per video of the frame step: ours vs ffmpeg-to-JPEG vs decoding every frame.

Writes (once, cached) a 1280x720 30 fps H.264 video of ``--seconds`` (20) per GOP setting
(``--gops``: libx264's default keyframe interval of 250 frames, and a short GOP of 15 frames),
a moving textured scene with a moving box, then times on each, side by side in one run:

- ``sample 20 (indexed)``: ``decode_frames`` as ``sample-frames`` uses it, 20 uniform frames,
  decoded and converted to RGB PIL images;
- ``sample 20 (sequential)``: the same through the decode-everything fallback;
- ``decode every frame``: a plain PyAV loop over all frames, no conversion (the floor of any
  decode-everything sampler);
- ``full step``: the whole per-video work of ``sample-frames`` (20 MLLM frames + the 5 fps grid,
  union 115 frames at 20 s, decoded, converted and written as JPEG, quality 95);
- ``full step, decoding every frame``: the same output through the decode-everything path
  (every frame decoded, the 115 converted and written);
- ``ffmpeg every frame to JPEG + read``: what the authors' and TubeDETR's preprocessing does,
  ``ffmpeg -i VIDEO -q:v 2 DIR/%06d.jpg`` (every frame), then reading the frames the step needs
  (the same 115) back as RGB images. Reported as "ffmpeg missing" where ffmpeg is not on PATH.
- ``fingerprint``: the video's content identity in the resume key (SHA-256, first run).

Targets (issue 15): the full step at most 1.3x the time of the full step decoding every frame
(seeking to keyframes must not cost more than decoding through), and at least 3x faster than
extracting every frame with ffmpeg. Prints min and median over ``--repeats`` runs
(the minimum is the least disturbed on a shared machine) and the process's CPU seconds.

    python benchmarks/bench_frames.py [--repeats 3] [--gops 250 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

FPS = 30


def write_bench_video(
    path: Path, keyint: int | None, width: int = 1280, height: int = 720, seconds: float = 20
) -> Path:
    import av

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = 127 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    grain = np.random.default_rng(0).integers(0, 24, (height, width), dtype=np.uint8)
    box = max(8, width // 10)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23"} if keyint is None else {"crf": "23", "g": str(keyint)}
        for i in range(round(FPS * seconds)):
            img = np.empty((height, width, 3), np.uint8)
            img[..., 0] = np.roll(texture, 3 * i, axis=1).astype(np.uint8)
            img[..., 1] = np.roll(texture, -2 * i, axis=0).astype(np.uint8)
            img[..., 2] = grain
            x = (8 * i) % (width - box)
            img[height // 4 : height // 4 + box, x : x + box] = (255, 40, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    """min and median wall seconds, and min CPU seconds summed over the process's threads
    (an ffmpeg subprocess's CPU is not counted: its row reads wall time)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "min_s": round(min(wall), 4),
        "median_s": round(statistics.median(wall), 4),
        "cpu_s": round(min(cpu), 4),
    }


def bench_one(video: Path, repeats: int, thread_type: str) -> dict:
    import av
    from PIL import Image

    from zstvg.files.io import sha256_file
    from zstvg.video.decode import decode_frames
    from zstvg.video.index import grid_frame_idx, uniform_frame_idx
    from zstvg.video.sampling import store_frames

    with av.open(str(video)) as container:
        n = container.streams.video[0].frames
        keys = sum(p.is_keyframe for p in container.demux(video=0) if p.size)
    mllm = uniform_frame_idx((0, n), 20)
    union = sorted(set(mllm) | set(grid_frame_idx((0, n), float(FPS), 5.0, 200)))

    def sample(frames: list[int], indexed: bool = True, out: Path | None = None) -> None:
        if out is not None:  # the step's own writer (sample-frames calls store_frames)
            store_frames(video, frames, out, jpeg_quality=95, indexed=indexed)
            return
        decode_frames(video, frames, lambda *_: None, thread_type=thread_type, indexed=indexed)

    def decode_all() -> None:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = thread_type
            for _ in container.decode(stream):
                pass

    ffmpeg = shutil.which("ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        out, every = Path(tmp) / "ours", Path(tmp) / "ffmpeg"
        out.mkdir()

        def ffmpeg_every_frame() -> None:
            shutil.rmtree(every, ignore_errors=True)
            every.mkdir()
            cmd = [ffmpeg, "-v", "error", "-i", str(video), "-q:v", "2", str(every / "%06d.jpg")]
            subprocess.run(cmd, check=True)
            for f in union:  # ffmpeg numbers its images from 1
                with Image.open(every / f"{f + 1:06d}.jpg") as im:
                    im.convert("RGB")

        rows = {
            "sample 20 (indexed)": lambda: sample(mllm),
            "sample 20 (sequential)": lambda: sample(mllm, indexed=False),
            "decode every frame": decode_all,
            f"full step: 20 + 5 fps grid + JPEG ({len(union)} frames)": lambda: sample(
                union, out=out
            ),
            "full step, decoding every frame": lambda: sample(union, indexed=False, out=out),
            "fingerprint, first run (SHA-256)": lambda: sha256_file(video),
        }
        if ffmpeg:
            rows[f"ffmpeg every frame to JPEG + read {len(union)}"] = ffmpeg_every_frame
        times = {}
        for name, fn in rows.items():
            times[name] = timed(fn, repeats)
            t = times[name]
            print(f"  {name:50s} {t['min_s']:8.3f} {t['median_s']:8.3f} {t['cpu_s']:7.3f}")
    full = next(v for k, v in times.items() if k.startswith("full step:"))["min_s"]
    through = times["full step, decoding every frame"]["min_s"]
    ratios = {"full_step_vs_decoding_every_frame": round(full / through, 3)}
    ff = next((v for k, v in times.items() if k.startswith("ffmpeg")), None)
    ratios["ffmpeg_vs_full_step"] = round(ff["min_s"] / full, 3) if ff else None
    return {"n_frames": n, "keyframes": keys, "needed_frames": len(union), "rows": times,
            "ratios": ratios}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row")
    parser.add_argument("--seconds", type=float, default=20.0, help="video length")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument(
        "--gops", type=int, nargs="+", default=[250, 15],
        help="max frames between keyframes, one video each (250: libx264's default)",
    )  # fmt: skip
    parser.add_argument(
        "--thread-type", default="AUTO", help="FFmpeg decoder threading: AUTO, FRAME, SLICE or NONE"
    )
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "zstvg-bench"),
        help="folder for the generated videos (written once)",
    )
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()

    ffmpeg = shutil.which("ffmpeg")
    version = None
    if ffmpeg:
        version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout
        version = version.split(" Copyright", 1)[0]
    print(f"ffmpeg: {version or 'ffmpeg missing'}")
    report = {
        "config": {"width": args.width, "height": args.height, "fps": FPS,
                   "seconds": args.seconds, "repeats": args.repeats,
                   "thread_type": args.thread_type},
        "ffmpeg": version or "ffmpeg missing",
        "gops": {},
    }  # fmt: skip
    for gop in args.gops:
        t0 = time.perf_counter()
        name = f"bench_{args.width}x{args.height}_{FPS}fps_{args.seconds:g}s_g{gop}.mp4"
        video = write_bench_video(
            Path(args.cache) / name, gop, args.width, args.height, args.seconds
        )
        print(f"GOP {gop}: {video.name} ({video.stat().st_size / 1e6:.1f} MB, ready in "
              f"{time.perf_counter() - t0:.1f} s)")  # fmt: skip
        print(f"  {'':50s} {'min s':>8s} {'median':>8s} {'CPU s':>7s}")
        report["gops"][str(gop)] = r = bench_one(video, args.repeats, args.thread_type)
        print(f"  {r['n_frames']} frames, {r['keyframes']} keyframes; ratios {r['ratios']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
