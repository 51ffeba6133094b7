"""Per-person temporal windows for the lifter: causal (newest frame) or centred (a half-window late).

The window holds the last F frames of one track's normalised 2D. It resets when time goes
backwards (a bag loop), jumps by more than `max_gap_s`, or the person is lost, so a window never
mixes two people or two moments. `KeypointFilter` smooths a track's 2D before it enters the
window (a One-Euro filter, Casiez et al. 2012): detectors run image by image and jitter.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


def time_jumped(previous_s: float | None, stamp_s: float, max_gap_s: float) -> bool:
    """True when a stream's time went backwards, stood still, or skipped more than max_gap_s."""
    return previous_s is not None and not (0 < stamp_s - previous_s <= max_gap_s)


class KeypointFilter:
    """One-Euro filter on one track's (J, 2) keypoints: a low-pass whose cutoff rises with speed, so
    a still person stops jittering while a fast limb does not lag. Speed is measured in person
    sizes per second (RMS 2D distance of the joints from the pelvis), so the same settings fit
    near and far people and any image size."""

    def __init__(self, min_cutoff_hz: float = 1.5, beta: float = 0.5, derivative_cutoff_hz: float = 1.0):
        if min_cutoff_hz <= 0 or beta < 0 or derivative_cutoff_hz <= 0:
            raise ValueError(f"One-Euro settings must be positive: {min_cutoff_hz}, {beta}, {derivative_cutoff_hz}")
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff_hz, beta, derivative_cutoff_hz
        self.reset()

    def reset(self) -> None:
        self.value: np.ndarray | None = None
        self.derivative: np.ndarray | None = None
        self.stamp_s: float | None = None

    @staticmethod
    def _alpha(cutoff_hz, dt: float):
        tau = 1.0 / (2 * np.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, keypoints: np.ndarray, stamp_s: float) -> np.ndarray:
        if self.value is None or self.stamp_s is None or stamp_s <= self.stamp_s:
            self.value, self.derivative, self.stamp_s = keypoints.astype(np.float64), np.zeros_like(keypoints, np.float64), stamp_s
            return keypoints
        dt = stamp_s - self.stamp_s
        size = max(float(np.sqrt(((keypoints - keypoints[:1]) ** 2).sum(-1).mean())), 1e-6)
        raw_derivative = (keypoints - self.value) / dt
        self.derivative += self._alpha(self.derivative_cutoff, dt) * (raw_derivative - self.derivative)
        speed = np.linalg.norm(self.derivative, axis=-1, keepdims=True) / size            # person sizes per second
        self.value = self.value + self._alpha(self.min_cutoff + self.beta * speed, dt) * (keypoints - self.value)
        self.stamp_s = stamp_s
        return self.value.copy()


def smooth_sequence(keypoints: np.ndarray, fps: float, keypoint_filter: KeypointFilter | None = None) -> np.ndarray:
    """A whole (T, J, 2) track through a fresh KeypointFilter (what the node does frame by frame)."""
    keypoint_filter = keypoint_filter or KeypointFilter()
    return np.stack([keypoint_filter(k, t / fps) for t, k in enumerate(keypoints)])


@dataclass
class WindowFrame:
    stamp_s: float
    keypoints_n: np.ndarray     # (J, 2) normalised, undistorted
    keypoints_px: np.ndarray    # (J, 2) as detected
    confidence: np.ndarray      # (J,)
    context: Any = None         # what the caller needs to publish this frame (header, camera)


class PersonWindow:
    def __init__(self, frames: int, mode: str = "causal", max_gap_s: float = 0.5):
        if mode not in ("causal", "centered"):
            raise ValueError(f"window mode must be 'causal' or 'centered', got {mode!r}")
        self.frames, self.mode, self.max_gap_s = frames, mode, max_gap_s
        self.buffer: deque[WindowFrame] = deque(maxlen=frames)
        self.track_id = 0

    def reset(self) -> None:
        if self.buffer:
            self.track_id += 1
        self.buffer.clear()

    def push(self, frame: WindowFrame) -> bool:
        """Add a frame; returns True when the window was reset first (time jump or loop)."""
        jumped = bool(self.buffer) and time_jumped(self.buffer[-1].stamp_s, frame.stamp_s, self.max_gap_s)
        if jumped:
            self.reset()
        self.buffer.append(frame)
        return jumped

    @property
    def full(self) -> bool:
        return len(self.buffer) == self.frames

    def output_index(self) -> int | None:
        """Index, within the window, of the frame to publish now: the newest (causal), or the one
        F // 2 frames older (centred; None until that many frames have arrived)."""
        if self.mode == "causal":
            return self.frames - 1
        return self.frames - 1 - self.frames // 2 if len(self.buffer) > self.frames // 2 else None

    def window(self) -> tuple[np.ndarray, list[WindowFrame]]:
        """(F, J, 2) normalised 2D and its frames, newest last; while filling, the oldest frame repeats."""
        frames = list(self.buffer)
        frames = [frames[0]] * (self.frames - len(frames)) + frames
        return np.stack([f.keypoints_n for f in frames]), frames
