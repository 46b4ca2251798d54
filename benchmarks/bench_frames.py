"""Seconds per video to sample 20 uniform frames, against decoding every frame.

Writes (once, cached) a 20 s 1280x720 30 fps H.264 video with libx264's defaults (preset
medium, B-frames, keyframes every <= 250 frames plus scene cuts), a moving textured scene with a
moving box, then times on it:

- ``sample 20 (indexed)``: ``decode_frames`` as ``sample-frames`` uses it, 20 uniform frames,
  decoded and converted to RGB PIL images;
- ``sample 20 (sequential)``: the same through the decode-everything fallback;
- ``decode every frame``: a plain PyAV loop over all 600 frames, no conversion (the floor of
  any decode-everything sampler);
- ``sample 20 + JPEG``: indexed sampling plus writing the 20 JPEGs (quality 95);
- ``sample 20 + 5 fps grid + JPEG``: the whole per-video work of ``sample-frames`` on a
  20 s clip (20 MLLM frames + 100 grid frames, union 115);
- ``fingerprint``: the video's content identity in the resume key, first run (hash) and rerun
  (a stat and a read of the hash cache).

Target (issue 3): at most 0.5 s per video for "sample 20". Prints min and median over
``--repeats`` runs (timings on a shared machine vary; the minimum is the least disturbed) and
the CPU seconds of the process (all decoder threads), which other load disturbs less.

    python benchmarks/bench_frames.py [--repeats 5] [--thread-type AUTO] [--keyint N] [--cache DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 20


def write_bench_video(path: Path, keyint: int | None) -> Path:
    import av

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    texture = 127 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    grain = np.random.default_rng(0).integers(0, 24, (HEIGHT, WIDTH), dtype=np.uint8)
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "23"} if keyint is None else {"crf": "23", "g": str(keyint)}
        for i in range(FPS * SECONDS):
            img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            img[..., 0] = np.roll(texture, 3 * i, axis=1).astype(np.uint8)
            img[..., 1] = np.roll(texture, -2 * i, axis=0).astype(np.uint8)
            img[..., 2] = grain
            x = (8 * i) % (WIDTH - 120)
            img[200:320, x : x + 120] = (255, 40, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(min wall s, median wall s, min CPU s summed over the process's threads)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), statistics.median(wall), min(cpu)


def main() -> None:
    import av

    from zstvg.io import fingerprint, sha256_file
    from zstvg.video.decode import decode_frames
    from zstvg.video.index import grid_frame_idx, uniform_frame_idx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    parser.add_argument(
        "--thread-type", default="AUTO", help="FFmpeg decoder threading: AUTO, FRAME, SLICE or NONE"
    )
    parser.add_argument(
        "--keyint",
        type=int,
        default=None,
        help="max frames between keyframes (default: libx264's 250); smaller "
        "GOPs let the sampler seek past more frames",
    )
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "zstvg-bench"),
        help="folder for the generated video (written once)",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    gop = f"_g{args.keyint}" if args.keyint else ""
    video = write_bench_video(
        Path(args.cache) / f"bench_{WIDTH}x{HEIGHT}_{FPS}fps{gop}.mp4", args.keyint
    )
    print(
        f"video: {video} ({video.stat().st_size / 1e6:.1f} MB, ready in "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    n = FPS * SECONDS
    mllm = uniform_frame_idx((0, n), 20)
    grid = grid_frame_idx((0, n), float(FPS), 5.0, 200)
    union = sorted(set(mllm) | set(grid))
    th = args.thread_type

    def sample(frames: list[int], indexed: bool = True, out: Path | None = None) -> None:
        def sink(f: int, _t: float | None, image) -> None:
            if out is not None:
                image.save(out / f"{f:06d}.jpg", format="JPEG", quality=95)

        decode_frames(video, frames, sink, thread_type=th, indexed=indexed)

    def decode_all() -> None:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = th
            for _ in container.decode(stream):
                pass

    with av.open(str(video)) as container:
        keys = sum(p.is_keyframe for p in container.demux(video=0) if p.size)
    print(f"{n} frames, {keys} keyframes; thread_type={th}; {args.repeats} runs per row")
    fingerprint(video)  # fills the hash cache for the rerun row
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows = [
            ("sample 20 (indexed)", lambda: sample(mllm)),
            ("sample 20 (sequential)", lambda: sample(mllm, indexed=False)),
            ("decode every frame", decode_all),
            ("sample 20 + JPEG", lambda: sample(mllm, out=out)),
            (
                f"sample 20 + 5 fps grid + JPEG ({len(union)} frames)",
                lambda: sample(union, out=out),
            ),
            # The resume key's content identity: a first run hashes the file (SHA-256 of every
            # byte), a rerun with unchanged stat reads the hash cache.
            ("fingerprint, first run (SHA-256)", lambda: sha256_file(video)),
            ("fingerprint, rerun (stat, hash cache)", lambda: fingerprint(video)),
        ]
        print(f"{'':46s} {'min s/video':>12s} {'median':>8s} {'CPU s':>7s}")
        for name, fn in rows:
            best, median, cpu = timed(fn, args.repeats)
            print(f"{name:46s} {best:12.3f} {median:8.3f} {cpu:7.3f}")


if __name__ == "__main__":
    main()
