"""Fixed-length windows of camera-view sequences, in the lifter's units.

Training draws random windows; evaluation and inference cover every frame with windows and
stitch the predictions back. Windows never cross sequences; sequences shorter than a window
are padded by repeating their edge frames (VideoPose3D).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from adaptation.camera import lifter_keypoints
from adaptation.dataset import CameraViews
from adaptation.skeleton import ROOT, root_relative

# How predict_sequence covers a sequence: windows stitched end to end, or one window per frame.
WINDOWS = ("stitched", "causal", "centered", "static")


@dataclass
class SequenceArrays:
    keypoints_2d: np.ndarray       # (T, J, 2) normalised, undistorted
    confidence: np.ndarray         # (T, J)
    camera: np.ndarray             # (4,) f_n x, f_n y, c_n x, c_n y
    pose_3d: np.ndarray | None     # (T, J, 3) root-relative metres, or None when unlabelled
    root_3d: np.ndarray | None = None   # (T, 3) camera-frame pelvis, metres (labelled views)


def prepare(views: CameraViews) -> list[SequenceArrays]:
    """Convert every sequence to normalised, undistorted, root-relative arrays."""
    out = []
    for s in views.sequences:
        labelled = s.keypoints_3d is not None
        out.append(SequenceArrays(lifter_keypoints(s.keypoints_2d, s.intrinsics).astype(np.float32),
                                  s.confidence.astype(np.float32), s.intrinsics.normalized().astype(np.float32),
                                  root_relative(s.keypoints_3d.astype(np.float64)).astype(np.float32) if labelled else None,
                                  s.keypoints_3d[:, ROOT].astype(np.float32) if labelled else None))
    return out


def window_starts(length: int, frames: int) -> list[int]:
    """Starts of windows covering [0, length): stride `frames`, the last one flush with the end."""
    if length <= frames:
        return [0]
    starts = list(range(0, length - frames + 1, frames))
    if starts[-1] + frames < length:
        starts.append(length - frames)
    return starts


def cut(array: np.ndarray, start: int, frames: int) -> np.ndarray:
    """array[start:start+frames], edge-padded at the end when the sequence is too short."""
    piece = array[start:start + frames]
    if len(piece) < frames:
        piece = np.concatenate([piece, np.repeat(piece[-1:], frames - len(piece), axis=0)])
    return piece


class RandomWindows:
    """Random F-frame windows over sequences of the given lengths, each sequence drawn with
    probability ~ its length; `draw` gives (sequence index, start) pairs."""

    def __init__(self, lengths: list[int], frames: int, seed: int = 0):
        if not lengths:
            raise ValueError("no sequences to draw windows from")
        self.lengths = [int(n) for n in lengths]
        self.frames = frames
        total = np.array(self.lengths, dtype=np.float64)
        self.weights = total / total.sum()
        self.rng = np.random.default_rng(seed)

    def draw(self, batch: int) -> list[tuple[int, int]]:
        picks = self.rng.choice(len(self.lengths), size=batch, p=self.weights)
        return [(int(i), int(self.rng.integers(0, max(1, self.lengths[i] - self.frames + 1)))) for i in picks]


class ClipSampler(RandomWindows):
    """Random windows of prepared camera-view sequences."""

    def __init__(self, sequences: list[SequenceArrays], frames: int, seed: int = 0):
        super().__init__([len(s.keypoints_2d) for s in sequences], frames, seed)
        self.sequences = sequences

    def sample(self, batch: int) -> dict[str, torch.Tensor]:
        """keypoints_2d (B,F,J,2), confidence (B,F,J), camera (B,4) and, if labelled, pose_3d (B,F,J,3)
        and root_3d (B,F,3)."""
        items: dict[str, list] = {"keypoints_2d": [], "confidence": [], "camera": [], "pose_3d": [], "root_3d": []}
        for index, start in self.draw(batch):
            s = self.sequences[index]
            items["keypoints_2d"].append(cut(s.keypoints_2d, start, self.frames))
            items["confidence"].append(cut(s.confidence, start, self.frames))
            items["camera"].append(s.camera)
            if s.pose_3d is not None:
                items["pose_3d"].append(cut(s.pose_3d, start, self.frames))
                items["root_3d"].append(cut(s.root_3d, start, self.frames))
        return {k: torch.from_numpy(np.stack(v)) for k, v in items.items() if v}


def covering_windows(sequences: list[SequenceArrays], frames: int,
                     fields: tuple[str, ...] = ("keypoints_2d", "pose_3d")) -> dict[str, torch.Tensor]:
    """Every frame of every sequence, in windows (window_starts), for the named SequenceArrays
    fields (the per-sequence `camera` is repeated per window): e.g. the whole validation split."""
    items: dict[str, list] = {field: [] for field in fields}
    for s in sequences:
        for start in window_starts(len(s.keypoints_2d), frames):
            for field in fields:
                value = getattr(s, field)
                items[field].append(value if field == "camera" else cut(value, start, frames))
    return {k: torch.from_numpy(np.stack(v)) for k, v in items.items()}


def predict_sequence(predict_windows, keypoints_2d: np.ndarray, frames: int, batch: int = 256,
                     window: str = "stitched") -> np.ndarray:
    """Cover a (T, J, 2) sequence with windows, run predict_windows((N,F,J,2)) -> (N,F,J,3|...), stitch.
    window 'causal' or 'centered': as the node runs (its window_mode), one window per frame, ending
    at it or centred on it (F//2 frames late), the edge frames repeated to fill it, keeping the
    output of that frame; F times the compute. 'static': each frame alone, its window filled with
    copies of it (a temporal lifter without its temporal context, to measure what that context adds)."""
    length = len(keypoints_2d)
    if window == "static":
        windows = np.repeat(keypoints_2d[:, None], frames, axis=1)
        return np.concatenate([predict_windows(windows[i:i + batch])[:, -1] for i in range(0, length, batch)])
    if window in ("causal", "centered"):
        before = frames - 1 if window == "causal" else frames // 2
        padded = np.concatenate([np.repeat(keypoints_2d[:1], before, axis=0), keypoints_2d,
                                 np.repeat(keypoints_2d[-1:], frames - 1 - before, axis=0)])
        windows = np.stack([padded[t:t + frames] for t in range(length)])
        return np.concatenate([predict_windows(windows[i:i + batch])[:, before] for i in range(0, length, batch)])
    if window != "stitched":
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    starts = window_starts(length, frames)
    windows = np.stack([cut(keypoints_2d, s, frames) for s in starts])
    outputs = np.concatenate([predict_windows(windows[i:i + batch]) for i in range(0, len(windows), batch)])
    result = np.empty((length, *outputs.shape[2:]), dtype=outputs.dtype)
    for start, output in zip(starts, outputs):
        end = min(start + frames, length)
        result[start:end] = output[: end - start]
    return result
