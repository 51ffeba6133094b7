"""Image -> 3D skeletons, without ROS: detect, window, lift, place the root. The node wraps this.

    RGB image + intrinsics -> MediaPipe 2D (+ confidence) -> left/right repaired -> undistort,
    normalise -> One-Euro smoothed -> window (F frames) -> lifter backend (H hypotheses) ->
    root-relative 3D -> root from 2D + intrinsics -> estimate

When the person is no longer detected, their last estimate is repeated once with TRACK_LOST.
Steady output: the starting noise of the H hypotheses is drawn once per track and reused for
every window of it (fresh noise every frame made the output jitter). The published uncertainty
is the model's calibration (adaptation.uncertainty) applied to the hypotheses' spread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from posynda_ros.msg import Skeleton3D

from adaptation.camera import Intrinsics, lifter_keypoints, solve_root
from adaptation.runtime import Backend
from adaptation.skeleton import NUM_JOINTS
from adaptation.uncertainty import for_hypotheses, summarize_hypotheses
from posynda_ros.handedness import repair
from posynda_ros.keypoints import PoseDetector
from posynda_ros.messages import SkeletonEstimate
from posynda_ros.window import KeypointFilter, PersonWindow, WindowFrame, time_jumped

STAGES = ("detect", "lift", "place")


@dataclass
class PipelineResult:
    estimates: list[SkeletonEstimate]
    context: Any                       # the context of the frame these estimates describe
    stage_ms: dict[str, float] = field(default_factory=dict)


class LiftPipeline:
    def __init__(self, backend: Backend, hypotheses: int = 3, window_mode: str = "causal",
                 max_gap_s: float = 0.5, min_score: float = 0.5, seed: int = 0):
        if hypotheses < 1:
            raise ValueError(f"hypotheses must be >= 1, got {hypotheses}")
        self.backend = backend
        self.hypotheses = hypotheses
        self.detector = PoseDetector(max_gap_s=max_gap_s, min_score=min_score)
        self.window = PersonWindow(backend.frames, window_mode, max_gap_s)
        self.rng = np.random.default_rng(seed)
        self.noise: tuple[int, np.ndarray] | None = None      # (track id, (H, F, J, 3)) for the current track
        self.keypoint_filter = KeypointFilter()
        self.repairs = {"facing": 0}
        self.last_estimate: SkeletonEstimate | None = None    # repeated once as TRACK_LOST when the person goes

    def close(self) -> None:
        self.detector.close()

    def process(self, rgb: np.ndarray, stamp_s: float, intrinsics: Intrinsics, context: Any = None) -> PipelineResult:
        """Lift one image; `context` (e.g. the ROS header) is returned with the frame it belongs to."""
        timings = {}
        started = time.perf_counter()
        detection = self.detector.detect(rgb, stamp_s)
        timings["detect"] = (time.perf_counter() - started) * 1000
        if detection is None:
            self.window.reset()
            self.keypoint_filter.reset()
            lost, self.last_estimate = self.last_estimate, None
            if lost is None:
                return PipelineResult([], context, timings)
            return PipelineResult([replace(lost, track_state=Skeleton3D.TRACK_LOST)], context, timings)
        # Facing check only: continuity was measured to break more labels than it mends (handedness.py).
        keypoints_px, confidence, fired = repair(detection.keypoints_px, detection.confidence,
                                                 detection.back_turned, previous_px=None)
        if fired:
            self.repairs[fired] += 1
        if self.window.buffer and time_jumped(self.window.buffer[-1].stamp_s, stamp_s, self.window.max_gap_s):
            self.keypoint_filter.reset()                  # the window resets too (PersonWindow.push)
        normalised = self.keypoint_filter(lifter_keypoints(keypoints_px, intrinsics), stamp_s).astype(np.float32)
        self.window.push(WindowFrame(stamp_s, normalised, keypoints_px, confidence,
                                     (context, intrinsics, detection.score)))
        index = self.window.output_index()
        if index is None:                       # a centred window is still filling
            return PipelineResult([], None, timings)
        window, frames = self.window.window()
        started = time.perf_counter()
        hypotheses = self.backend.lift(np.repeat(window[None], self.hypotheses, axis=0), self._track_noise())[:, index]
        timings["lift"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        frame = frames[index]
        frame_context, frame_intrinsics, score = frame.context
        estimate = self.last_estimate = self._place(hypotheses, frame, frame_intrinsics, score)
        timings["place"] = (time.perf_counter() - started) * 1000
        return PipelineResult([estimate], frame_context, timings)

    def _track_noise(self) -> np.ndarray:
        """The starting noise of the current track, drawn when the track starts."""
        if self.noise is None or self.noise[0] != self.window.track_id:
            shape = (self.hypotheses, self.backend.frames, NUM_JOINTS, 3)
            self.noise = (self.window.track_id, self.rng.standard_normal(shape).astype(np.float32))
        return self.noise[1]

    def _place(self, hypotheses: np.ndarray, frame: WindowFrame, intrinsics: Intrinsics, score: float) -> SkeletonEstimate:
        """Mean pose, calibrated per-joint uncertainty, and the root solved from the 2D and the intrinsics."""
        pose, spread = summarize_hypotheses(hypotheses.astype(np.float64))               # (J, 3), (J,)
        calibration = for_hypotheses(self.backend.uncertainty, self.hypotheses)
        uncertainty = calibration.apply(spread) if calibration else spread
        camera = intrinsics.normalized()
        root = solve_root(pose, frame.keypoints_n.astype(np.float64), camera[:2], camera[2:],
                          np.clip(frame.confidence, 1e-3, 1.0))
        placed = np.isfinite(root).all() and root[2] > 0.1
        return SkeletonEstimate(
            positions_m=pose + root if placed else pose,
            confidence=frame.confidence,
            uncertainty_m=uncertainty,
            keypoints_px=frame.keypoints_px,
            position_mode=Skeleton3D.POSITION_CAMERA_FRAME if placed else Skeleton3D.POSITION_ROOT_RELATIVE,
            track_id=self.window.track_id,
            track_state=Skeleton3D.TRACK_CONFIRMED if self.window.full else Skeleton3D.TRACK_TENTATIVE,
            score=score,
        )
