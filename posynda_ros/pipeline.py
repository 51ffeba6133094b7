"""Image -> 3D skeletons, without ROS: detect, window, lift, place the root. The node wraps this.

    RGB image + intrinsics -> MediaPipe 2D of each person (+ confidence) -> track (stable id) ->
    left/right repaired -> undistort, normalise -> One-Euro smoothed -> the track's window
    (F frames) -> lifter backend (H hypotheses, every person in one call) -> root-relative 3D ->
    root from 2D + intrinsics -> with a known camera mount, the person's size from the floor -> estimate

When a track ends (its person unseen for max_gap_s, or time jumped), its last estimate is
repeated once with TRACK_LOST.
Steady output: the starting noise of the H hypotheses is drawn once per track and reused for
every window of it (fresh noise every frame made the output jitter). The published uncertainty
is the model's calibration (adaptation.uncertainty) applied to the hypotheses' spread.
Metric size: without a camera mount a person has the lifter's learned size; with one, pose, root
and uncertainty are scaled by the track's floor scale (adaptation.floor).
With a camera mount the lifter works in the camera it reads (adaptation.camera: the camera's upright
twin, or its level twin for a level model; the 2D turned in, the 3D turned back), as `adapt` trains it.
A level model needs the mount.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from posynda_ros.msg import Skeleton3D

from adaptation.camera import Intrinsics, lifter_keypoints, solve_root, turn_back, turn_keypoints
from adaptation.floor import PersonScale
from adaptation.mount import CameraMount, lifting_rotation_for
from adaptation.runtime import Backend
from adaptation.skeleton import NUM_JOINTS
from adaptation.uncertainty import for_hypotheses, summarize_hypotheses
from posynda_ros.handedness import repair
from posynda_ros.keypoints import MultiPoseDetector, PoseDetector
from posynda_ros.messages import SkeletonEstimate
from posynda_ros.window import PeopleTracker, PersonTrack, WindowFrame, distinct_people

STAGES = ("detect", "lift", "place")


@dataclass
class PipelineResult:
    estimates: list[SkeletonEstimate]
    context: Any                       # the context of the frame these estimates describe
    stage_ms: dict[str, float] = field(default_factory=dict)


class LiftPipeline:
    def __init__(self, backend: Backend, hypotheses: int = 3, window_mode: str = "causal",
                 max_gap_s: float = 0.5, min_score: float = 0.5, max_people: int = 1, seed: int = 0,
                 mount: CameraMount | None = None):
        if hypotheses < 1:
            raise ValueError(f"hypotheses must be >= 1, got {hypotheses}")
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        self.backend = backend
        self.hypotheses = hypotheses
        self.mount = mount               # None: people keep the lifter's learned size
        self.lifting_rotation = lifting_rotation_for(mount, backend.lifting_camera)   # refuses a level model without one
        self.last_size: float | None = None   # the last floor scale applied (diagnostics: a wrong mount shows here)
        # One person: MediaPipe Pose's own tracker (today's speed); several: the Tasks landmarker.
        self.detector = (PoseDetector(max_gap_s=max_gap_s, min_score=min_score) if max_people == 1 else
                         MultiPoseDetector(max_people, min_score=min_score, max_gap_s=max_gap_s))
        self.tracker = PeopleTracker(backend.frames, window_mode, max_gap_s, filter_settings=backend.keypoint_filter)
        self.rng = np.random.default_rng(seed)
        self.repairs = {"facing": 0}

    def close(self) -> None:
        self.detector.close()

    def process(self, rgb: np.ndarray, stamp_s: float, intrinsics: Intrinsics, context: Any = None) -> PipelineResult:
        """Lift one image; `context` (e.g. the ROS header) is returned with the frame it belongs to.
        Estimates: one per person seen (track order), then one TRACK_LOST per track that ended."""
        timings = {}
        started = time.perf_counter()
        detections = self.detector.people(rgb, stamp_s)
        detections = [detections[i] for i in distinct_people([d.keypoints_px for d in detections], [d.score for d in detections])]
        timings["detect"] = (time.perf_counter() - started) * 1000
        tracks, ended = self.tracker.update([d.keypoints_px for d in detections], stamp_s)
        lost = [replace(t.last_estimate, track_state=Skeleton3D.TRACK_LOST) for t in ended if t.last_estimate is not None]
        ready = []
        for track, detection in zip(tracks, detections):
            # Facing check only: continuity was measured to break more labels than it mends (handedness.py).
            keypoints_px, confidence, fired = repair(detection.keypoints_px, detection.confidence,
                                                     detection.back_turned, previous_px=None)
            if fired:
                self.repairs[fired] += 1
            normalised = track.keypoint_filter(lifter_keypoints(keypoints_px, intrinsics), stamp_s).astype(np.float32)
            if self.mount is not None:
                normalised = turn_keypoints(normalised, self.lifting_rotation)
            track.window.push(WindowFrame(stamp_s, normalised, keypoints_px, confidence,
                                          (context, intrinsics, detection.score)))
            if track.window.output_index() is not None:     # None: a centred window is still filling
                ready.append(track)
        if ready:   # centred windows of people missed in some images end at older images: publish one image's people
            newest = max(t.window.output_frame().stamp_s for t in ready)
            ready = [t for t in ready if t.window.output_frame().stamp_s == newest]
        else:   # nobody seen: this image's (possibly empty) list; a centred window filling: nothing yet
            return PipelineResult(lost, None if tracks and not lost else context, timings)
        started = time.perf_counter()
        windows = np.concatenate([np.repeat(t.window.window()[0][None], self.hypotheses, axis=0) for t in ready])
        lifted = self.backend.lift(windows, np.concatenate([self._track_noise(t) for t in ready]))
        timings["lift"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        estimates = []
        for track, hypotheses in zip(ready, lifted.reshape(len(ready), self.hypotheses, *lifted.shape[1:])):
            frame = track.window.output_frame()
            _, frame_intrinsics, score = frame.context
            track.last_estimate = self._place(hypotheses[:, track.window.output_index()], frame, frame_intrinsics, score, track)
            estimates.append(track.last_estimate)
        timings["place"] = (time.perf_counter() - started) * 1000
        return PipelineResult(estimates + lost, ready[0].window.output_frame().context[0], timings)

    def _track_noise(self, track: PersonTrack) -> np.ndarray:
        """The starting noise of a track's H hypotheses, drawn when the track starts."""
        if track.noise is None:
            shape = (self.hypotheses, self.backend.frames, NUM_JOINTS, 3)
            track.noise = self.rng.standard_normal(shape).astype(np.float32)
        return track.noise

    def _place(self, hypotheses: np.ndarray, frame: WindowFrame, intrinsics: Intrinsics, score: float,
               track: PersonTrack) -> SkeletonEstimate:
        """Mean pose, calibrated per-joint uncertainty, the root solved from the 2D and the intrinsics,
        and with a camera mount all three scaled to the person's size on the floor."""
        pose, spread = summarize_hypotheses(hypotheses.astype(np.float64))               # (J, 3), (J,)
        calibration = for_hypotheses(self.backend.uncertainty, self.hypotheses)
        uncertainty = calibration.apply(spread) if calibration else spread
        camera = intrinsics.normalized()
        root = solve_root(pose, frame.keypoints_n.astype(np.float64), camera[:2], camera[2:],
                          np.clip(frame.confidence, 1e-3, 1.0))
        placed = np.isfinite(root).all() and root[2] > 0.1
        if self.mount is not None:      # from the lifting camera back to the camera's own frame
            pose, root = turn_back(pose, self.lifting_rotation), turn_back(root, self.lifting_rotation)
        if placed and self.mount is not None:
            track.scale = track.scale or PersonScale(self.mount)
            size = self.last_size = track.scale.update(pose, root, frame.confidence)
            pose, root, uncertainty = pose * size, root * size, uncertainty * size
        return SkeletonEstimate(
            positions_m=pose + root if placed else pose,
            confidence=frame.confidence,
            uncertainty_m=uncertainty,
            keypoints_px=frame.keypoints_px,
            position_mode=Skeleton3D.POSITION_CAMERA_FRAME if placed else Skeleton3D.POSITION_ROOT_RELATIVE,
            track_id=track.track_id,
            track_state=Skeleton3D.TRACK_CONFIRMED if track.window.full else Skeleton3D.TRACK_TENTATIVE,
            score=score,
        )
