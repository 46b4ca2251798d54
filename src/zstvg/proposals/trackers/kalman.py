"""Constant-velocity Kalman filter on boxes, for the box trackers (ByteTrack, BoT-SORT).

State ``[cx, cy, w, h, vcx, vcy, vw, vh]``: box centre, width, height and their velocities per
frame step; the measurement is ``[cx, cy, w, h]``. Process and measurement noise scale with
the box size (as in SORT-family trackers: a 1-pixel error matters for a 10-pixel box, not for a
500-pixel one), with the weights BoT-SORT uses: position 1/20 and velocity 1/160 of the size.
Pure numpy; one filter object serves every track (the state lives in the track).
"""

from __future__ import annotations

import numpy as np

from zstvg.structures import BoxXYXY

_STD_POSITION = 1.0 / 20
_STD_VELOCITY = 1.0 / 160
# Floor on the size used for the noise, in pixels, so a degenerate 0-size box keeps a finite,
# invertible covariance.
_MIN_SIZE = 1.0


def xyxy_to_cxcywh(box: BoxXYXY | np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dtype=np.float64)


def cxcywh_to_xyxy(state: np.ndarray) -> BoxXYXY:
    cx, cy, w, h = (float(v) for v in state[:4])
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


class KalmanFilter:
    """Linear Kalman filter with a constant-velocity motion model and unit time step."""

    def __init__(self) -> None:
        self._motion = np.eye(8)
        self._motion[:4, 4:] = np.eye(4)
        self._observe = np.eye(4, 8)

    @staticmethod
    def _size_scale(w: float, h: float) -> np.ndarray:
        w, h = max(w, _MIN_SIZE), max(h, _MIN_SIZE)
        return np.array([w, h, w, h], dtype=np.float64)

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of a new track from its first ``[cx, cy, w, h]``; zero velocity."""
        mean = np.concatenate([measurement, np.zeros(4)])
        scale = self._size_scale(measurement[2], measurement[3])
        std = np.concatenate([2 * _STD_POSITION * scale, 10 * _STD_VELOCITY * scale])
        return mean, np.diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame step ahead."""
        scale = self._size_scale(mean[2], mean[3])
        noise = np.diag(np.concatenate([_STD_POSITION * scale, _STD_VELOCITY * scale]) ** 2)
        mean = self._motion @ mean
        cov = self._motion @ cov @ self._motion.T + noise
        return mean, cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct the prediction with a measured ``[cx, cy, w, h]``."""
        scale = self._size_scale(mean[2], mean[3])
        measurement_noise = np.diag((_STD_POSITION * scale) ** 2)
        innovation_cov = self._observe @ cov @ self._observe.T + measurement_noise
        gain = np.linalg.solve(innovation_cov, self._observe @ cov).T
        mean = mean + gain @ (measurement - self._observe @ mean)
        cov = cov - gain @ innovation_cov @ gain.T
        return mean, cov
