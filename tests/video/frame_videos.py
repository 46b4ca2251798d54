"""Real video files for the frame tests, written with PyAV; each frame encodes its own index.

Frame ``i`` shows the 8 bits of ``i`` as white (1) / black (0) 8x8 blocks along the top row,
over a mid-grey background, so a test reads back which native frame a decoded image really is
(robust to lossy coding, unlike a 1-pixel marker).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

BLOCK = 8  # pixels per bit block
N_BITS = 8  # indices 0..255


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    img = np.full((height, width, 3), 96, np.uint8)
    for bit in range(N_BITS):
        if (i >> bit) & 1:
            img[0:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 255
        else:
            img[0:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 0
    return img


def read_index(img: np.ndarray) -> int:
    """The frame index drawn by :func:`frame_image`, read from a decoded RGB image."""
    img = np.asarray(img)
    value = 0
    for bit in range(N_BITS):
        block = img[1 : BLOCK - 1, bit * BLOCK + 1 : (bit + 1) * BLOCK - 1]
        if block.mean() > 128:
            value |= 1 << bit
    return value


def write_video(
    path: Path,
    n_frames: int,
    *,
    fps: int = 25,
    width: int = 64,
    height: int = 48,
    codec: str = "libx264",
    gop: int | None = None,
    bframes: int | None = None,
    pts_ms: Sequence[int] | None = None,
    rotation_deg: int = 0,
    hflip: bool = False,
    vflip: bool = False,
) -> Path:
    """Write ``n_frames`` index-coded frames; ``pts_ms`` gives irregular timestamps (VFR);
    ``rotation_deg`` a display matrix turning them counter-clockwise (a phone video), ``hflip``
    and ``vflip`` one mirroring them after the turn (a selfie camera)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {}
        if codec == "libx264":
            options = {"preset": "ultrafast" if bframes == 0 else "fast", "crf": "18"}
            if bframes is not None:
                options["bf"] = str(bframes)
        if gop is not None:
            stream.codec_context.gop_size = gop
            if codec == "libx264":
                options.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
        stream.options = options
        if rotation_deg or hflip or vflip:
            stream.set_display_rotation(rotation_deg, hflip=hflip, vflip=vflip)
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            if pts_ms is not None:
                frame.pts = pts_ms[i]
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
