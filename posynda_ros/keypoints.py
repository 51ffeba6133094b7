"""MediaPipe Pose -> Human3.6M-17 2D keypoints with per-joint confidence.

`PoseDetector`: MediaPipe's legacy Pose solution (model_complexity=1, whose model ships inside the
mediapipe 0.10.21 wheel) in video (tracking) mode, one person. `MultiPoseDetector`: the Tasks
PoseLandmarker with several people per image, run on a .task bundle that `pose_task_bundle`
builds from the same two models inside the wheel (no download). Its 33 landmarks map to
Human3.6M-17 as below; joints MediaPipe lacks are built from others, with factors measured on
the open mocap (README, "Keypoint mapping"):
  pelvis = mid-hips;  thorax = mid-shoulders;  spine = pelvis + 0.46 (thorax - pelvis);
  neck_nose = mid-ears;  head (top) = neck_nose + 0.51 (neck_nose - thorax).
A built joint's confidence is the lowest of the landmarks it uses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adaptation.skeleton import JOINT_INDEX, NUM_JOINTS
from posynda_ros.handedness import facing_away
from posynda_ros.window import time_jumped

# MediaPipe Pose landmark indices.
MP = {"nose": 0, "l_eye": 2, "r_eye": 5, "l_ear": 7, "r_ear": 8, "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14,
      "l_wrist": 15, "r_wrist": 16, "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26,
      "l_ankle": 27, "r_ankle": 28}
MP_LANDMARKS = 33
SPINE_FRACTION = 0.46
HEAD_EXTENSION = 0.51
# Joints that are one landmark each.
DIRECT = {name: MP[name] for name in ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "l_shoulder",
                                      "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")}


def h36m_from_mediapipe(landmarks: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(33, C) landmarks (any unit; 2D pixels or 3D world metres) and (33,) visibility -> (17, C)
    joints and (17,) confidence."""
    if landmarks.ndim != 2 or landmarks.shape[0] != MP_LANDMARKS or visibility.shape != (MP_LANDMARKS,):
        raise ValueError(f"expected (33, C) MediaPipe landmarks and (33,) visibility, got {landmarks.shape}, {visibility.shape}")
    joints = np.zeros((NUM_JOINTS, landmarks.shape[1]), dtype=np.float64)
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
    world_m: np.ndarray | None = None   # (17, 3) MediaPipe's own 3D (pose_world_landmarks), metres, hip-centred
    back_turned: bool = False           # face unseen, shoulders seen (posynda_ros.handedness)


def _detection(landmarks, world_landmarks, width: int, height: int) -> Detection:
    """MediaPipe landmark lists (normalised image + world) -> a Human3.6M-17 Detection."""
    pixels = np.array([[m.x * width, m.y * height] for m in landmarks])
    visibility = np.array([m.visibility for m in landmarks])
    keypoints, confidence = h36m_from_mediapipe(pixels, visibility)
    world = None
    if world_landmarks:
        world, _ = h36m_from_mediapipe(np.array([[m.x, m.y, m.z] for m in world_landmarks]), visibility)
    face = visibility[[MP["nose"], MP["l_eye"], MP["r_eye"]]].max()
    shoulders = visibility[[MP["l_shoulder"], MP["r_shoulder"]]].min()
    return Detection(keypoints, confidence, float(visibility.mean()), world, facing_away(face, shoulders))


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) == 0:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")


BUNDLE_CACHE = Path(os.environ.get("POSYNDA_CACHE", Path.home() / ".cache" / "posynda_ros"))


def pose_task_bundle(cache_dir: Path = BUNDLE_CACHE) -> Path:
    """The Tasks PoseLandmarker bundle built from the two models inside the mediapipe wheel.

    The Tasks API reads each model's input normalisation from TFLite metadata, which the wheel's
    legacy models lack: the detector takes [-1, 1] and the landmark model [0, 1] (as the legacy
    graphs feed them). Built once per mediapipe version, written atomically.
    """
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils

    path = cache_dir / f"pose_landmarker_full-mediapipe{mediapipe.__version__}.task"
    if path.is_file():
        return path
    modules = Path(mediapipe.__file__).parent / "modules"

    def with_metadata(model: Path, name: str, mean: float, std: float) -> bytes:
        writer = metadata_writer.MetadataWriter.create(bytearray(model.read_bytes()))
        writer.add_general_info(name, f"MediaPipe {name} from the mediapipe {mediapipe.__version__} wheel")
        writer.add_image_input(norm_mean=[mean], norm_std=[std])
        return bytes(writer.populate()[0])

    files = {"pose_detector.tflite": with_metadata(modules / "pose_detection" / "pose_detection.tflite", "pose_detector", 127.5, 127.5),
             "pose_landmarks_detector.tflite": with_metadata(modules / "pose_landmark" / "pose_landmark_full.tflite",
                                                             "pose_landmarks_detector", 0.0, 255.0)}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    model_asset_bundle_utils.create_model_asset_bundle(files, str(partial))
    os.replace(partial, path)
    return path


class MultiPoseDetector:
    """MediaPipe Tasks PoseLandmarker, up to `num_poses` people per image.

    video=True (the node): VIDEO mode follows people from image to image and looks for new ones.
    Measured on the bundled clip (half size): with a person-detection threshold of 0.3 and presence
    and tracking thresholds of 0.5 it holds the man on the box and the woman from when she walks
    in (and through their crossing) in every image; with 0.5 everywhere it found her 30 images
    later or not at all, and IMAGE mode missed one of them in half the images. Its stamps must
    increase: a stamp that goes backwards or jumps more than `max_gap_s` starts a fresh landmarker.
    video=False: each image on its own (unordered images).
    """

    def __init__(self, num_poses: int = 4, min_score: float = 0.5, video: bool = True, max_gap_s: float = 1.0,
                 min_detection_score: float = 0.3):
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision

        if num_poses < 1:
            raise ValueError(f"num_poses must be >= 1, got {num_poses}")
        self._image = mediapipe.Image
        self._format = mediapipe.ImageFormat.SRGB
        self.video, self.max_gap_s = video, max_gap_s
        self._options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(pose_task_bundle())),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE, num_poses=num_poses,
            min_pose_detection_confidence=min_detection_score, min_pose_presence_confidence=min_score,
            min_tracking_confidence=min_score)
        self._create = vision.PoseLandmarker.create_from_options
        self._landmarker = self._create(self._options)
        self._last_stamp: float | None = None
        self._first_stamp = 0.0

    def close(self) -> None:
        self._landmarker.close()

    def people(self, rgb: np.ndarray, stamp_s: float = 0.0) -> list[Detection]:
        """Every person found in an RGB uint8 image (H, W, 3) taken at `stamp_s` (video mode)."""
        _check_rgb(rgb)
        image = self._image(image_format=self._format, data=np.ascontiguousarray(rgb))
        if not self.video:
            result = self._landmarker.detect(image)
        else:
            if time_jumped(self._last_stamp, stamp_s, self.max_gap_s):
                self._landmarker.close()
                self._landmarker = self._create(self._options)
                self._last_stamp = None
            if self._last_stamp is None:
                self._first_stamp = stamp_s
            self._last_stamp = stamp_s
            result = self._landmarker.detect_for_video(image, round((stamp_s - self._first_stamp) * 1000))
        height, width = rgb.shape[:2]
        worlds = result.pose_world_landmarks or [None] * len(result.pose_landmarks)
        return [_detection(marks, world, width, height) for marks, world in zip(result.pose_landmarks, worlds)]


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
        _check_rgb(rgb)
        if self._pose is None or time_jumped(self._last_stamp, stamp_s, self.max_gap_s):
            self.reset()
        self._last_stamp = stamp_s
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        world = result.pose_world_landmarks.landmark if result.pose_world_landmarks else None
        return _detection(result.pose_landmarks.landmark, world, rgb.shape[1], rgb.shape[0])

    def people(self, rgb: np.ndarray, stamp_s: float) -> list[Detection]:
        """`detect` as a list (empty or one person), the interface it shares with MultiPoseDetector."""
        found = self.detect(rgb, stamp_s)
        return [] if found is None else [found]
