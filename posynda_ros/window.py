"""Per-person temporal windows for the lifter: causal (newest frame) or centred (a half-window late).

The window holds the last F frames of one track's normalised 2D. It resets when time goes
backwards (a bag loop), jumps by more than `max_gap_s`, or the person is lost, so a window never
mixes two people or two moments.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


def time_jumped(previous_s: float | None, stamp_s: float, max_gap_s: float) -> bool:
    """True when a stream's time went backwards, stood still, or skipped more than max_gap_s."""
    return previous_s is not None and not (0 < stamp_s - previous_s <= max_gap_s)


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
