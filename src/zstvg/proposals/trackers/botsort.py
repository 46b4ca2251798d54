"""BoT-SORT-style box tracker (Aharon et al., 2022), our own implementation, without re-ID.

What it keeps from BoT-SORT: the ByteTrack two-stage association (``bytetrack.py``), the
``[cx, cy, w, h]`` Kalman state with size-proportional noise, BoT-SORT's default thresholds
(track 0.6, new track 0.7, low 0.1, match 0.8) and camera-motion compensation (CMC).
What differs, stated:
- no re-ID appearance features (the IoU-only variant), so no appearance/IoU cost fusion;
- CMC is a translation-only global shift found by phase correlation of consecutive frames on a
  grey thumbnail (at most 128 px a side), instead of BoT-SORT's ECC / sparse-optical-flow
  affine warp. Camera pans, the common motion in HC-STVG movie clips, are translations; zoom
  and rotation are not compensated.
"""

from __future__ import annotations

import numpy as np

from zstvg.config import ProposalsConfig
from zstvg.proposals.trackers.bytetrack import BoxTrack, ByteTrack

_THUMB_MAX_SIDE = 128
# Phase-correlation peak height below which the shift is noise (blank or changed scene): the
# peak is ~1 for a pure translation and ~1/sqrt(pixels) for unrelated images.
_MIN_PEAK = 0.1


def _thumbnail(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey image block-averaged by an integer factor so its longer side is <= 128 px."""
    grey = image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    k = max(1, int(np.ceil(max(grey.shape) / _THUMB_MAX_SIDE)))
    h, w = grey.shape[0] // k * k, grey.shape[1] // k * k
    return grey[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3)), float(k)


def estimate_translation(prev: np.ndarray, cur: np.ndarray) -> tuple[float, float] | None:
    """Global (dx, dy) in pixels that moves ``prev``'s content onto ``cur``; None if unsure."""
    a, stride = _thumbnail(prev)
    b, _ = _thumbnail(cur)
    if a.shape != b.shape:
        return None
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    magnitude = np.abs(cross)
    if magnitude.max() == 0:
        return None
    corr = np.real(np.fft.ifft2(cross / np.maximum(magnitude, 1e-12)))
    peak = np.unravel_index(int(np.argmax(corr)), corr.shape)
    if corr[peak] < _MIN_PEAK:
        return None
    dy, dx = (p - s if p > s // 2 else p for p, s in zip(peak, corr.shape, strict=True))
    return float(dx) * stride, float(dy) * stride


class BotSort(ByteTrack):
    """BoT-SORT without re-ID, with translation-only camera-motion compensation."""

    needs_images = True

    def __init__(
        self,
        cfg: ProposalsConfig | None = None,
        device: str = "cpu",
        *,
        camera_motion_compensation: bool = True,
        **kwargs: float,
    ) -> None:
        defaults = {
            "track_thresh": 0.6,
            "low_thresh": 0.1,
            "new_track_thresh": 0.7,
            "match_thresh": 0.8,
        }
        super().__init__(cfg, device, **{**defaults, **kwargs})  # type: ignore[arg-type]
        self.camera_motion_compensation = camera_motion_compensation

    def reset(self) -> None:
        super().reset()
        self._prev_image: np.ndarray | None = None

    def _compensate_motion(self, image: np.ndarray | None, tracks: list[BoxTrack]) -> None:
        if not self.camera_motion_compensation or image is None:
            return
        prev, self._prev_image = self._prev_image, image
        if prev is None:
            return
        shift = estimate_translation(prev, image)
        if shift is None:
            return
        for t in tracks:
            t.mean[0] += shift[0]
            t.mean[1] += shift[1]
