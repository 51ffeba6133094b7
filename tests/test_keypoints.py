"""MediaPipe -> Human3.6M-17: the documented mapping, and real MediaPipe on real images."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from adaptation.skeleton import JOINT_INDEX
from posynda_ros.keypoints import MP, PoseDetector, h36m_from_mediapipe

DATA = Path(__file__).parent / "data"
COCO_TO_H36M = {"left_shoulder": "l_shoulder", "right_shoulder": "r_shoulder", "left_elbow": "l_elbow",
                "right_elbow": "r_elbow", "left_wrist": "l_wrist", "right_wrist": "r_wrist", "left_hip": "l_hip",
                "right_hip": "r_hip", "left_knee": "l_knee", "right_knee": "r_knee", "left_ankle": "l_ankle",
                "right_ankle": "r_ankle"}


def test_mapping_builds_the_missing_joints_as_documented():
    rng = np.random.default_rng(0)
    landmarks, visibility = rng.uniform(0, 100, (33, 2)), rng.uniform(0.5, 1.0, 33)
    joints, confidence = h36m_from_mediapipe(landmarks, visibility)
    pelvis = (landmarks[MP["l_hip"]] + landmarks[MP["r_hip"]]) / 2
    thorax = (landmarks[MP["l_shoulder"]] + landmarks[MP["r_shoulder"]]) / 2
    neck = (landmarks[MP["l_ear"]] + landmarks[MP["r_ear"]]) / 2
    np.testing.assert_allclose(joints[JOINT_INDEX["pelvis"]], pelvis)
    np.testing.assert_allclose(joints[JOINT_INDEX["spine"]], pelvis + 0.46 * (thorax - pelvis))
    np.testing.assert_allclose(joints[JOINT_INDEX["head"]], neck + 0.51 * (neck - thorax))
    np.testing.assert_allclose(joints[JOINT_INDEX["l_wrist"]], landmarks[MP["l_wrist"]])
    assert confidence[JOINT_INDEX["pelvis"]] == min(visibility[MP["l_hip"]], visibility[MP["r_hip"]])
    with pytest.raises(ValueError, match="33"):
        h36m_from_mediapipe(landmarks[:17], visibility[:17])


def load_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_real_mediapipe_on_a_real_photo_agrees_with_coco_ground_truth():
    meta = json.loads((DATA / "coco_val2017_000000000785_keypoints.json").read_text())
    annotation = meta["annotations"][0]
    truth = np.array(annotation["keypoints"], dtype=float).reshape(17, 3)[:, :2]
    detector = PoseDetector()
    detection = detector.detect(load_rgb(DATA / "coco_val2017_000000000785_skier.jpg"), 0.0)
    assert detection is not None and detection.score > 0.5
    tolerance = 0.1 * annotation["bbox"][3]  # 10% of the person's height
    for coco_name, h36m_name in COCO_TO_H36M.items():
        error = np.linalg.norm(detection.keypoints_px[JOINT_INDEX[h36m_name]] - truth[meta["keypoint_names"].index(coco_name)])
        assert error < tolerance, f"{h36m_name} is {error:.0f} px from COCO's {coco_name}"
    detector.close()


def test_nobody_in_view_gives_none_and_time_jumps_reset_the_tracker():
    detector = PoseDetector()
    empty = np.full((240, 320, 3), 127, dtype=np.uint8)
    assert detector.detect(empty, 10.0) is None
    assert detector.detect(empty, 10.033) is None and detector.resets == 1
    detector.detect(empty, 5.0)           # a bag loop: time went backwards
    detector.detect(empty, 50.0)          # a gap of 45 s
    assert detector.resets == 3
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((0, 10, 3), np.uint8), 51.0)
    detector.close()
