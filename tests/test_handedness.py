"""Left/right: the joint tables against the joint names, and the repair of mirrored labels on real mocap."""
import numpy as np
import pytest

from adaptation.camera import Intrinsics
from adaptation.skeleton import JOINT_INDEX, JOINT_NAMES, ROOT, flip_pose, swap_left_right
from adaptation.camera import look_rotation
from posynda_ros.handedness import left_on_image_right, repair

from fixtures import small_mocap

CAMERA = Intrinsics(600.0, 600.0, 320, 240, 640, 480)
# Built from the names alone, so that a wrong LEFT/RIGHT table in skeleton.py cannot agree with it.
MIRROR = [JOINT_INDEX[n.replace("l_", "r_", 1) if n.startswith("l_") else n.replace("r_", "l_", 1) if n.startswith("r_") else n]
          for n in JOINT_NAMES]


def test_swap_and_flip_follow_the_joint_names():
    values = np.random.default_rng(0).normal(size=(17, 3))
    np.testing.assert_array_equal(swap_left_right(values), values[MIRROR])
    mirrored = values[MIRROR].copy()
    mirrored[:, 0] *= -1
    np.testing.assert_array_equal(flip_pose(values), mirrored)


def view(pose_world: np.ndarray, from_behind: bool) -> np.ndarray:
    """Pixels of a real mocap pose (y up, metres) seen from 3 m in front of or behind the person."""
    left = pose_world[JOINT_INDEX["l_hip"]] - pose_world[JOINT_INDEX["r_hip"]]
    forward = np.cross(left, [0.0, 1.0, 0.0])
    forward /= np.linalg.norm(forward)
    pelvis = pose_world[ROOT]
    position = pelvis + (-3.0 if from_behind else 3.0) * forward + [0.0, 0.3, 0.0]
    rotation = look_rotation(pelvis - position)
    return CAMERA.pixels_of((pose_world - position) @ rotation.T)


@pytest.fixture(scope="module")
def walk():
    sequence = next(iter(small_mocap(60)["cmu_03"].values()))
    return sequence


def test_facing_check_repairs_a_back_view_labelled_as_a_front_view(walk):
    confidence = np.linspace(0.5, 1.0, 17)
    back = view(walk[30], from_behind=True)
    assert not left_on_image_right(back) and left_on_image_right(view(walk[30], from_behind=False))
    kept, kept_confidence, fired = repair(back, confidence, back_turned=True, previous_px=None)
    assert fired == "" and np.array_equal(kept, back)
    repaired, repaired_confidence, fired = repair(back[MIRROR], confidence[MIRROR], back_turned=True, previous_px=None)
    assert fired == "facing"
    np.testing.assert_allclose(repaired, back)
    np.testing.assert_allclose(repaired_confidence, confidence)


def test_continuity_check_repairs_a_label_flip_within_a_track(walk):
    previous, current = view(walk[29], from_behind=False), view(walk[30], from_behind=False)
    repaired, _, fired = repair(current[MIRROR], np.ones(17), back_turned=False, previous_px=previous)
    assert fired == "continuity"
    np.testing.assert_allclose(repaired, current)
    kept, _, fired = repair(current, np.ones(17), back_turned=False, previous_px=previous)
    assert fired == "" and np.array_equal(kept, current)
