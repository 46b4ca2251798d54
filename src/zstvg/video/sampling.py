"""Decoding a video's chosen frames into the frames store (the JPEG writer of `sample-frames`)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from zstvg.files.frames import frame_path
from zstvg.files.io import PathLike, atomic_open
from zstvg.video import decode

if TYPE_CHECKING:
    from PIL.Image import Image


def store_frames(
    video_path: PathLike,
    frame_idx: Iterable[int],
    directory: PathLike,
    jpeg_quality: int,
    *,
    indexed: bool = True,
    max_pending: int = 8,
) -> tuple[decode.DecodeReport, int]:
    """Decode the frames and store each as ``<directory>/<frame_idx:06d>.jpg``; returns the
    decode report and the number of files written (raises what decoding or writing raised,
    after every pending write has finished, so the folder is quiet when the caller cleans up).

    JPEG encoding runs on a writer thread while decoding goes on: Pillow's encoder releases the
    GIL, and done one after the other the step kept only 1.3 of 2 cores busy (a 20 s 720p
    video, benchmarks/hot_paths.md). At most ``max_pending`` decoded images wait for the writer
    (8 x 2.7 MB at 720p), so memory does not grow with the video's length.
    """
    directory = Path(directory)
    slots = threading.BoundedSemaphore(max_pending)
    errors: list[BaseException] = []

    def write(f: int, image: Image) -> None:
        try:
            # fsync skipped: a frame lost to a power cut is redone, index.json is written last.
            with atomic_open(frame_path(directory, f), "wb", fsync=False) as fh:
                image.save(fh, format="JPEG", quality=jpeg_quality)
        finally:
            slots.release()

    def done(future: Future[None]) -> None:
        if (exc := future.exception()) is not None:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstvg-jpeg") as pool:

        def submit(f: int, _t: float | None, image: Image) -> None:
            if errors:  # a write failed (disk full): stop decoding now
                raise errors[0]
            slots.acquire()
            pool.submit(write, f, image).add_done_callback(done)

        # looked up on the module at each call: a test fails one video's decode through it
        report = decode.decode_frames(video_path, frame_idx, submit, indexed=indexed)
    if errors:
        raise errors[0]
    return report, len(report.t_sec)
