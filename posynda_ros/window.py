"""People followed across images, each with a temporal window for the lifter.

`PeopleTracker` gives each detection a track with a stable id; a track ends when its person is
unseen for `max_gap_s` or time goes backwards or jumps (a bag loop). Each track has a window of
its last F frames of normalised 2D, causal (newest frame) or centred (a half-window late), and a
`KeypointFilter` (adaptation.keypoint_filter) that smooths its 2D before it enters the window:
detectors run image by image and jitter.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from adaptation.keypoint_filter import KeypointFilter


def time_jumped(previous_s: float | None, stamp_s: float, max_gap_s: float) -> bool:
    """True when a stream's time went backwards, stood still, or skipped more than max_gap_s."""
    return previous_s is not None and not (0 < stamp_s - previous_s <= max_gap_s)


@dataclass
class WindowFrame:
    stamp_s: float
    keypoints_n: np.ndarray     # (J, 2) normalised, undistorted (upright with a camera mount: pipeline.py)
    keypoints_px: np.ndarray    # (J, 2) as detected
    confidence: np.ndarray      # (J,)
    context: Any = None         # what the caller needs to publish this frame (header, camera)


class PersonWindow:
    """The last F frames of one track."""

    def __init__(self, frames: int, mode: str = "causal"):
        if mode not in ("causal", "centered"):
            raise ValueError(f"window mode must be 'causal' or 'centered', got {mode!r}")
        self.frames, self.mode = frames, mode
        self.buffer: deque[WindowFrame] = deque(maxlen=frames)

    def push(self, frame: WindowFrame) -> None:
        self.buffer.append(frame)

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
        frames = self._padded()
        return np.stack([f.keypoints_n for f in frames]), frames

    def output_frame(self) -> WindowFrame:
        """The frame at output_index() (which must not be None)."""
        return self._padded()[self.output_index()]

    def _padded(self) -> list[WindowFrame]:
        frames = list(self.buffer)
        return [frames[0]] * (self.frames - len(frames)) + frames


@dataclass
class PersonTrack:
    """One person followed across images: a stable id, their window and 2D filter, and what the
    pipeline keeps per person (starting noise, floor scale, last estimate)."""

    track_id: int
    window: PersonWindow
    keypoint_filter: KeypointFilter
    keypoints_px: np.ndarray            # (J, 2) last detection, for matching the next image
    seen_s: float                       # stamp of the last detection
    noise: np.ndarray | None = None
    scale: Any = None                   # adaptation.floor.PersonScale, with a camera mount
    last_estimate: Any = None


class PeopleTracker:
    """Detections -> tracks with ids that stay stable from image to image.

    Each image's detections are matched to the tracks greedily by 2D distance (mean joint distance
    in units of the track's size, closest pairs first, at most `match_distance`); a detection that
    matches nothing starts a track with a new id. A track unseen for more than `max_gap_s` ends, and
    every track ends when time goes backwards or jumps (a bag loop), so no window mixes two people
    or two moments.
    """

    def __init__(self, frames: int, mode: str = "causal", max_gap_s: float = 0.5, match_distance: float = 0.5,
                 filter_settings: dict[str, float] | None = None):
        PersonWindow(frames, mode)    # check the settings now, not at the first person
        KeypointFilter(**(filter_settings or {}))
        self.frames, self.mode, self.max_gap_s, self.match_distance = frames, mode, max_gap_s, match_distance
        self.filter_settings = filter_settings or {}        # each track's 2D filter (the lifter's, from its model card)
        self.tracks: list[PersonTrack] = []
        self.next_id = 0
        self.stamp_s: float | None = None

    def update(self, keypoints_px: list[np.ndarray], stamp_s: float) -> tuple[list[PersonTrack], list[PersonTrack]]:
        """(the track of each detection, in order; the tracks that ended at this image)."""
        jumped = time_jumped(self.stamp_s, stamp_s, self.max_gap_s)
        self.stamp_s = stamp_s
        ended = [t for t in self.tracks if jumped or stamp_s - t.seen_s > self.max_gap_s]
        self.tracks = [t for t in self.tracks if t not in ended]
        distances = np.array([[person_distance(t.keypoints_px, k) for k in keypoints_px] for t in self.tracks],
                             dtype=float).reshape(len(self.tracks), len(keypoints_px))
        assigned = {di: self.tracks[ti] for ti, di in match_greedily(distances, self.match_distance)}
        for di, keypoints in enumerate(keypoints_px):
            if di not in assigned:
                assigned[di] = PersonTrack(self.next_id, PersonWindow(self.frames, self.mode),
                                           KeypointFilter(**self.filter_settings), keypoints, stamp_s)
                self.tracks.append(assigned[di])
                self.next_id += 1
            assigned[di].keypoints_px, assigned[di].seen_s = keypoints, stamp_s
        return [assigned[di] for di in range(len(keypoints_px))], ended


def match_greedily(distances: np.ndarray, limit: float) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs of a distance matrix, closest first, each at most `limit`."""
    pairs, rows, columns = [], set(), set()
    for distance, row, column in sorted((d, r, c) for (r, c), d in np.ndenumerate(distances)):
        if distance <= limit and row not in rows and column not in columns:
            pairs.append((row, column))
            rows.add(row)
            columns.add(column)
    return pairs


def person_distance(reference_px: np.ndarray, other_px: np.ndarray) -> float:
    """Mean distance of two people's (J, 2) joints in units of the reference's 2D extent."""
    size = max(float(np.ptp(reference_px, axis=0).max()), 1.0)
    return float(np.linalg.norm(other_px - reference_px, axis=-1).mean()) / size


def distinct_people(keypoints_px: list[np.ndarray], scores: list[float], min_distance: float = 0.3) -> list[int]:
    """Indices of the detections to keep, best score first: a detector may report one person twice
    (measured on the bundled clip's backlit man), and the second copy would start a new track."""
    kept: list[int] = []
    for i in sorted(range(len(keypoints_px)), key=lambda i: -scores[i]):
        if all(person_distance(keypoints_px[k], keypoints_px[i]) > min_distance for k in kept):
            kept.append(i)
    return sorted(kept)
