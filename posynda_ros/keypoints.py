"""MediaPipe Pose -> Human3.6M-17 2D keypoints with per-joint confidence.

MediaPipe's legacy Pose solution (model_complexity=1, whose model ships inside the
mediapipe 0.10.21 wheel) runs in video (tracking) mode on one person. Its 33 landmarks map to
Human3.6M-17 as below; joints MediaPipe lacks are built from others, with factors measured on
the open mocap (README, "Keypoint mapping"):
  pelvis = mid-hips;  thorax = mid-shoulders;  spine = pelvis + 0.46 (thorax - pelvis);
  neck_nose = mid-ears;  head (top) = neck_nose + 0.51 (neck_nose - thorax).
A built joint's confidence is the lowest of the landmarks it uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adaptation.skeleton import JOINT_INDEX, NUM_JOINTS
from posynda_ros.window import time_jumped

# MediaPipe Pose landmark indices.
MP = {"nose": 0, "l_ear": 7, "r_ear": 8, "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14,
      "l_wrist": 15, "r_wrist": 16, "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26,
      "l_ankle": 27, "r_ankle": 28}
MP_LANDMARKS = 33
SPINE_FRACTION = 0.46
HEAD_EXTENSION = 0.51
# Joints that are one landmark each.
DIRECT = {name: MP[name] for name in ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "l_shoulder",
                                      "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")}


def h36m_from_mediapipe(landmarks: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(33, 2) landmarks (any unit) and (33,) visibility -> (17, 2) joints and (17,) confidence."""
    if landmarks.shape != (MP_LANDMARKS, 2) or visibility.shape != (MP_LANDMARKS,):
        raise ValueError(f"expected (33, 2) MediaPipe landmarks and (33,) visibility, got {landmarks.shape}, {visibility.shape}")
    joints = np.zeros((NUM_JOINTS, 2), dtype=np.float64)
    confidence = np.zeros(NUM_JOINTS, dtype=np.float64)

    def mid(a: str, b: str) -> tuple[np.ndarray, float]:
        return (landmarks[MP[a]] + landmarks[MP[b]]) / 2, min(visibility[MP[a]], visibility[MP[b]])

    for name, index in DIRECT.items():
        joints[JOINT_INDEX[name]], confidence[JOINT_INDEX[name]] = landmarks[index], visibility[index]
    pelvis, c_pelvis = mid("l_hip", "r_hip")
    thorax, c_thorax = mid("l_shoulder", "r_shoulder")
    neck, c_neck = mid("l_ear", "r_ear")
    built = {
        "pelvis": (pelvis, c_pelvis),
        "thorax": (thorax, c_thorax),
        "spine": (pelvis + SPINE_FRACTION * (thorax - pelvis), min(c_pelvis, c_thorax)),
        "neck_nose": (neck, c_neck),
        "head": (neck + HEAD_EXTENSION * (neck - thorax), min(c_neck, c_thorax)),
    }
    for name, (point, conf) in built.items():
        joints[JOINT_INDEX[name]], confidence[JOINT_INDEX[name]] = point, conf
    return joints, np.clip(confidence, 0.0, 1.0)


@dataclass
class Detection:
    keypoints_px: np.ndarray   # (17, 2) pixels
    confidence: np.ndarray     # (17,)
    score: float               # mean landmark visibility


class PoseDetector:
    """MediaPipe Pose in video mode for one person, reset on time jumps.

    MediaPipe's video mode assumes frames arrive in time order without long gaps; a stamp that
    goes backwards (a bag loop) or jumps more than `max_gap_s` starts a fresh tracker instead.
    """

    def __init__(self, max_gap_s: float = 1.0, min_score: float = 0.5):
        import mediapipe  # imported here so that pure-numpy users of this module do not pay for it

        self._pose_class = mediapipe.solutions.pose.Pose
        self.max_gap_s = max_gap_s
        self.min_score = min_score
        self._pose = None
        self._last_stamp: float | None = None
        self.resets = 0

    def reset(self) -> None:
        if self._pose is not None:
            self._pose.close()
        self._pose = self._pose_class(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                      min_detection_confidence=self.min_score, min_tracking_confidence=0.5)
        self.resets += 1

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def detect(self, rgb: np.ndarray, stamp_s: float) -> Detection | None:
        """Keypoints of the person in an RGB uint8 image (H, W, 3), or None when nobody is seen."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) == 0:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
        if self._pose is None or time_jumped(self._last_stamp, stamp_s, self.max_gap_s):
            self.reset()
        self._last_stamp = stamp_s
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        height, width = rgb.shape[:2]
        marks = result.pose_landmarks.landmark
        landmarks = np.array([[m.x * width, m.y * height] for m in marks])
        visibility = np.array([m.visibility for m in marks])
        keypoints, confidence = h36m_from_mediapipe(landmarks, visibility)
        return Detection(keypoints, confidence, float(visibility.mean()))
