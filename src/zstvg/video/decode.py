"""Decode selected frames of one video with PyAV, streaming (the whole video is never in memory).

Frame identity is the decoder's output order: native frame ``f`` is the ``f``-th frame (0-based)
the decoder returns when the video is decoded from its start. That is what HC-STVG and VidSTG
frame numbers mean (their frames were extracted by decoding every frame), and it stays
well defined for variable-frame-rate videos, where ``round(t * fps)`` does not.

Two ways to get there, same answer:

- **indexed** (the default): one demux pass reads every packet header (no decoding; ~5 ms for
  a 20 s 720p video) and ranks the packets by presentation timestamp (pts), so the ``f``-th
  smallest pts is frame ``f`` and keyframe positions are known. Decoding then seeks to the
  keyframe before each group of needed frames, skips groups of pictures that hold no needed
  frame, and tells the decoder to skip non-reference pictures that are not needed
  (``skip_frame = "NONREF"``: nothing else depends on them). Frames are recognised by pts.
  It is used only when the ranking provably equals the output order: every packet has a
  unique pts, none is flagged discard/corrupt, the stream opens on a keyframe and no packet
  is shown before it (no leading open-GOP pictures). Any surprise while decoding (a seek that
  lands after its keyframe, as MPEG-TS seeks do; a frame whose pts is not in the index; a
  needed frame the decoder never returns) is logged and falls back to:
- **sequential**: decode from the start and count frames; only needed frames are converted
  to RGB. Always correct, slower.

Only kept frames are converted to RGB; each is handed to a callback at once, so memory holds
about one frame regardless of the video's length.

Frames are delivered **upright**, as ffmpeg and players show them: a phone video stored 320x240
with a 90° display matrix (the MP4 ``rotate`` tag) comes out 240x320, turned by the matrix's
angle, and a selfie camera's mirrored matrix mirrored (:class:`Orientation`); sizes in
:class:`DecodeReport` are the upright ones, ``rotation_deg`` and ``mirrored`` record the matrix.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import av.container
    import av.video.frame
    import av.video.stream
    import numpy as np
    from PIL.Image import Image as PILImage

log = logging.getLogger(__name__)

# Receives each kept frame once, in increasing frame_idx order: (frame_idx, t_sec, RGB image).
# After a fallback to sequential decoding (logged) a frame may be delivered again; the later
# call carries the authoritative pixels.
FrameSink = Callable[[int, float | None, "PILImage"], None]


class VideoDecodeError(RuntimeError):
    """The video file is missing, unreadable or corrupt; the message names the file."""


class _IndexMismatch(Exception):
    """The packet index disagrees with what the decoder returns; decode sequentially instead."""


@dataclass
class DecodeReport:
    """What one :func:`decode_frames` call found.

    ``n_frames`` is the number of frames the video decodes to (its true length, which may differ
    from the annotation's); ``missing_frame_idx`` are requested frames the video does not have
    (past its end, or pictures the decoder could not produce); ``t_sec`` holds, for every
    delivered frame, its presentation time in seconds from the first frame (pts-based, so
    exact for variable frame rate; None only for a stream with neither timestamps nor a rate).
    """

    path: str
    method: str  # "indexed" or "sequential"
    n_frames: int
    fps: float | None  # the stream's average frame rate (nominal; None when unknown)
    width: int
    height: int
    t_sec: dict[int, float | None] = field(default_factory=dict)
    missing_frame_idx: list[int] = field(default_factory=list)
    n_decoded: int = 0  # pictures the decoder produced, kept or not (the work done)
    n_seeks: int = 0
    # counter-clockwise degrees the display matrix turns the coded picture by (0, 90, 180, -90);
    # width and height above are after the turn
    rotation_deg: int = 0
    # the display matrix also mirrors the picture (a selfie camera): the frames are the mirror
    # image of the coded ones, as players show them
    mirrored: bool = False
    # where fps came from, as in VideoProbe: "average_rate", "guessed_rate", "duration" (n_frames
    # over the container's duration) or "none"
    fps_source: str = "average_rate"


@dataclass(frozen=True)
class VideoProbe:
    """What :func:`probe_video` reads before decoding: the frame count and rate and where each
    came from, and the upright frame size.

    ``n_frames_source``: ``"stream_header"`` (the container's frame count, MP4/AVI) or
    ``"packet_count"`` (MKV, WebM and others store none: one demux pass counts the packets, one
    per picture). ``fps_source``: ``"average_rate"``, ``"guessed_rate"`` or ``"duration"``
    (``n_frames`` over the container's duration).
    """

    path: str
    fps: float
    fps_source: str
    n_frames: int
    n_frames_source: str
    width: int
    height: int
    rotation_deg: int
    mirrored: bool = False


@dataclass(frozen=True)
class _PacketIndex:
    pts: list[int]  # pts of frame f, ascending
    rank: dict[int, int]  # pts -> frame_idx
    keyframes: list[int]  # frame_idx of every keyframe, ascending


def _open(
    path: Path, thread_type: str
) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    import av

    if not path.is_file():
        raise VideoDecodeError(f"video file not found: {path}")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoDecodeError(f"{path}: cannot open video: {exc}") from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: no video stream in the file")
    stream = container.streams.video[0]
    stream.thread_type = thread_type
    return container, stream


def _stream_fps(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, n_frames: int
) -> tuple[float | None, str]:
    """The frame rate and where it came from: the stream's average rate, FFmpeg's guess, or
    ``n_frames`` over the container's duration (for a stream that states neither)."""
    if stream.average_rate:
        return float(stream.average_rate), "average_rate"
    if stream.guessed_rate:
        return float(stream.guessed_rate), "guessed_rate"
    if container.duration and n_frames > 0:  # microseconds
        return n_frames / (container.duration / 1e6), "duration"
    return None, "none"


@dataclass(frozen=True)
class Orientation:
    """What turns a decoded picture upright, as ffmpeg's autorotate and players show it: swap
    its axes (a quarter turn or a transpose), then mirror its columns and/or rows."""

    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    @property
    def mirrored(self) -> bool:
        """The upright picture is a mirror image of the coded one (a selfie camera's flip)."""
        return self.transpose != (self.flip_x != self.flip_y)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The upright picture of ``rgb`` (height, width, channels)."""
        import numpy as np

        if self.transpose:
            rgb = rgb.swapaxes(0, 1)
        if self.flip_x:
            rgb = rgb[:, ::-1]
        if self.flip_y:
            rgb = rgb[::-1]
        return np.ascontiguousarray(rgb)  # no copy when upright

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The upright (width, height) of a coded width x height picture."""
        return (height, width) if self.transpose else (width, height)


UPRIGHT = Orientation()


def orientation(path: Path, frame: av.video.frame.VideoFrame) -> Orientation:
    """The :class:`Orientation` of ``frame``'s display matrix; :data:`UPRIGHT` without one.

    The matrix's 2x2 part, ``[[a, b], [c, d]]`` (16.16 fixed point), of a quarter turn or flip
    holds one non-zero entry per row: b = c = 0 mirrors columns where a < 0 and rows where
    d < 0 (a 180° turn is both); a = d = 0 transposes, then mirrors columns where c < 0 and rows
    where b < 0 (90° counter-clockwise: b < 0; a selfie camera's 90° + mirror: b < 0, c < 0).
    These are the pictures ffmpeg 5.1's autorotate makes from all eight (tested where ffmpeg is
    installed). Any other matrix (a turn that is no multiple of 90°) raises
    :class:`VideoDecodeError`."""
    import numpy as np

    # PyAV's stub types side_data as a TypedDict of motion vectors only; it maps every type
    side_data: Any = frame.side_data
    if "DISPLAYMATRIX" not in side_data:
        return UPRIGHT
    # 3x3 int32, a b u / c d v / x y w
    m = np.frombuffer(memoryview(side_data["DISPLAYMATRIX"]), "<i4").astype(np.int64)
    a, b, c, d = (int(v) for v in m[[0, 1, 3, 4]])
    if b == c == 0 and a and d:
        return Orientation(False, a < 0, d < 0)
    if a == d == 0 and b and c:
        return Orientation(True, c < 0, b < 0)
    raise VideoDecodeError(
        f"{path}: display matrix rotates by {frame.rotation}°; only multiples of 90 are supported"
    )


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Frame count, frame rate and upright size of the first video stream, for callers that
    must plan frames before decoding (``ground-video``). Reads the packet headers when the
    container has no frame count and decodes the first frame for its display matrix.
    Raises :class:`VideoDecodeError` naming the file when any of them cannot be had."""
    import av

    path = Path(path)
    container, stream = _open(path, "AUTO")
    try:
        n_frames, n_source = int(stream.frames or 0), "stream_header"
        if n_frames <= 0:
            n_frames, n_source = sum(1 for p in container.demux(stream) if p.size), "packet_count"
            container.seek(0)
        if n_frames <= 0:
            raise VideoDecodeError(f"{path}: the video stream holds no frames")
        fps, fps_source = _stream_fps(container, stream, n_frames)
        if fps is None:
            raise VideoDecodeError(f"{path}: no frame rate in the stream and no duration")
        first = next(container.decode(stream), None)
        if first is None:
            raise VideoDecodeError(f"{path}: the video decodes to no frames")
        turn = orientation(path, first)
        width, height = turn.size(first.width, first.height)
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(f"{path}: corrupt video: {exc}") from None
    finally:
        container.close()
    return VideoProbe(str(path), fps, fps_source, n_frames, n_source, width, height,
                      int(first.rotation), turn.mirrored)  # fmt: skip


def _index_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> _PacketIndex | None:
    """Rank packets by pts; None when the ranking may not equal the decoder's output order."""
    pts: list[int] = []
    keys: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 and packet.pts is None:
            continue  # the end-of-stream marker PyAV appends
        if packet.pts is None or packet.is_discard or packet.is_corrupt:
            return None
        if not pts and not packet.is_keyframe:
            return None  # pictures before the first keyframe are dropped by the decoder
        pts.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
    if not pts or len(set(pts)) != len(pts) or min(pts) < pts[0]:
        return None  # empty, duplicate pts, or leading pictures shown before the first keyframe
    ordered = sorted(pts)
    rank = {p: i for i, p in enumerate(ordered)}
    return _PacketIndex(ordered, rank, sorted(rank[k] for k in keys))


# A seek flushes and refills the (frame-threaded) decoder: ~6.5 ms at 720p on 2 cores, the time
# of decoding ~5 frames. Seeking past fewer frames than this loses (5 fps grid on a 15-frame GOP:
# 43 seeks of 2 frames each made the step 1.48 s; one run, 1.21 s; benchmarks/hot_paths.md).
MIN_FRAMES_SKIPPED_PER_SEEK = 8


def _plan_segments(index: _PacketIndex, wanted: list[int]) -> list[tuple[int, int]]:
    """(keyframe to seek to, last wanted frame) per decoding run over sorted ``wanted``.

    A new run (one seek) starts when the keyframe before the next wanted frame lies more than
    :data:`MIN_FRAMES_SKIPPED_PER_SEEK` frames after the last wanted frame of the current run:
    seeking then skips decoding everything in between, and that is worth the seek.
    """
    segments: list[tuple[int, int]] = []
    for f in wanted:
        key = index.keyframes[bisect.bisect_right(index.keyframes, f) - 1]
        if segments and key <= segments[-1][1] + MIN_FRAMES_SKIPPED_PER_SEEK:
            segments[-1] = (segments[-1][0], f)
        else:
            segments.append((key, f))
    return segments


def _time_base(stream: av.video.stream.VideoStream) -> Fraction:
    return Fraction(stream.time_base) if stream.time_base else Fraction(0)


def _decode_indexed(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    index: _PacketIndex,
    wanted: list[int],
    deliver: Callable[[int, av.video.frame.VideoFrame, float | None], None],
    report: DecodeReport,
) -> None:
    time_base = _time_base(stream)
    todo = set(wanted)
    codec = stream.codec_context
    for key, last in _plan_segments(index, wanted):
        # Earlier runs delivered all their frames (or raised), so every pending frame is >= key.
        left = sum(1 for f in todo if f <= last)
        if left == 0:
            continue  # an earlier run already passed through this one's frames
        container.seek(index.pts[key], stream=stream, backward=True, any_frame=False)
        report.n_seeks += 1
        landed = False
        for packet in container.demux(stream):
            if packet.pts is not None:
                rank = index.rank.get(packet.pts)
                if not landed:
                    if rank is None or rank > key:
                        raise _IndexMismatch(f"seek to frame {key} landed at pts {packet.pts}")
                    landed = True
                codec.skip_frame = "DEFAULT" if rank in todo else "NONREF"
            for frame in codec.decode(packet):
                report.n_decoded += 1
                pts = frame.pts
                if pts is None or (f := index.rank.get(pts)) is None:
                    raise _IndexMismatch(f"decoded frame with pts {pts} not in the index")
                if f in todo:
                    todo.discard(f)
                    left -= f <= last
                    deliver(f, frame, float((pts - index.pts[0]) * time_base))
            if left == 0:
                break
        codec.skip_frame = "DEFAULT"
        if left:
            unfinished = sorted(f for f in todo if f <= last)
            raise _IndexMismatch(f"decoder never returned frames {unfinished[:5]}")


def _decode_sequential(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    wanted: list[int],
    deliver: Callable[[int, av.video.frame.VideoFrame, float | None], None],
    report: DecodeReport,
) -> int:
    """Decode every frame from the start; returns the number of frames (the video's length)."""
    fps = report.fps or 0.0
    todo = set(wanted)
    first_time: float | None = None
    count = 0
    for frame in container.decode(stream):
        report.n_decoded += 1
        # PyAV's stub types VideoFrame.time as float; it is None for a frame without a pts.
        time: float | None = frame.time
        if first_time is None:
            first_time = time
        if count in todo:
            todo.discard(count)
            if time is not None and first_time is not None:
                t: float | None = time - first_time
            else:
                t = count / fps if fps else None
            deliver(count, frame, t)
        count += 1
    return count


def decode_frames(
    path: str | os.PathLike[str],
    frame_idx: Iterable[int],
    on_frame: FrameSink,
    *,
    thread_type: str = "AUTO",
    indexed: bool = True,
) -> DecodeReport:
    """Decode ``path`` once and hand the requested native frames to ``on_frame`` as RGB images.

    ``frame_idx``: native 0-based frame indices, any order, duplicates ignored. Frames past the
    end of the video are listed in ``report.missing_frame_idx`` (the call still succeeds).
    ``thread_type``: FFmpeg decoder threading ("AUTO" = frame + slice threads).
    ``indexed=False`` forces sequential decoding (the reference the fast path is tested against).
    Raises :class:`VideoDecodeError` for a missing, unreadable or corrupt file.
    """
    import av
    from av.video.reformatter import VideoReformatter
    from PIL import Image

    path = Path(path)
    wanted = sorted({int(f) for f in frame_idx})
    if wanted and wanted[0] < 0:
        raise ValueError(f"frame_idx: got {wanted[0]}; expected 0-based indices >= 0")

    def run(use_index: bool) -> DecodeReport:
        container, stream = _open(path, thread_type)
        ctx = stream.codec_context
        report = DecodeReport(str(path), "sequential", 0, None, ctx.width, ctx.height)
        # the stream's own rate, before decoding: sequential decoding times pts-less frames by it
        report.fps, report.fps_source = _stream_fps(container, stream, 0)

        # One converter for all kept frames: VideoFrame.to_image() builds a new swscale context
        # per frame, ~9 ms of a ~10 ms conversion at 1280x720; reusing one costs ~1 ms a frame.
        reformatter = VideoReformatter()

        def deliver(f: int, frame: av.video.frame.VideoFrame, t: float | None) -> None:
            report.t_sec[f] = t
            rgb: np.ndarray = reformatter.reformat(frame, format="rgb24").to_ndarray()
            report.rotation_deg = int(frame.rotation)
            turn = orientation(path, frame)
            report.mirrored = turn.mirrored
            rgb = turn.apply(rgb)
            report.height, report.width = rgb.shape[:2]
            on_frame(f, t, Image.fromarray(rgb))

        try:
            index = _index_packets(container, stream) if use_index else None
            if index is None and use_index:
                # The demux pass consumed the file; reopening is the portable way to rewind.
                container.close()
                container, stream = _open(path, thread_type)
            if index is not None:
                report.method = "indexed"
                report.n_frames = len(index.pts)
                present = [f for f in wanted if f < report.n_frames]
                if present:
                    _decode_indexed(container, stream, index, present, deliver, report)
            else:
                report.n_frames = _decode_sequential(container, stream, wanted, deliver, report)
            if report.fps is None:  # no rate in the stream: the length over the duration
                report.fps, report.fps_source = _stream_fps(container, stream, report.n_frames)
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(
                f"{path}: corrupt video (decoding failed after {report.n_decoded} frames): {exc}"
            ) from None
        finally:
            container.close()
        report.missing_frame_idx = [f for f in wanted if f not in report.t_sec]
        if report.n_frames == 0:
            raise VideoDecodeError(f"{path}: the video decodes to no frames")
        return report

    if indexed:
        try:
            return run(True)
        except _IndexMismatch as exc:
            log.warning("%s: %s; decoding sequentially instead", path, exc)
    return run(False)
