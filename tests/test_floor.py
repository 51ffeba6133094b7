"""Sizing people from the floor: a lifter that thinks everyone is 15% larger is mended by a known
camera mount, on real mocap of people standing on a flat floor, rendered through a robot's head camera."""
import numpy as np
import pytest

from adaptation.camera import lifter_keypoints, solve_root
from adaptation.floor import PersonScale, floor_scale
from adaptation.mount import CameraMount
from adaptation.skeleton import ROOT, root_relative
from adaptation.views import Rig, load_mocap, render

from fixtures import MOCAP

WRONG_SIZE = 1.15


def test_a_known_mount_recovers_the_size_and_depth_of_people():
    # HDM05 subjects on a flat floor (CMU 03 climbs on objects: a floor the method does not assume)
    mocap = {subject: dict(list(poses.items())[:1]) for subject, poses in load_mocap(MOCAP).items() if subject in ("hdm_bd", "hdm_dg")}
    rig = Rig.load("head_camera")
    for sequence in render(mocap, rig, seed=3).sequences:
        subject, name, _ = sequence.name.split("/")
        # the rig's height is above the sequence's lowest joint; the mount's is above the floor (y = 0)
        mount = CameraMount(rig.height_m + float(mocap[subject][name][..., 1].min()), rig.pitch_deg, rig.roll_deg)
        pose = WRONG_SIZE * root_relative(sequence.keypoints_3d.astype(np.float64))     # a lifter's size error
        keypoints = lifter_keypoints(sequence.keypoints_2d, sequence.intrinsics)
        root = solve_root(pose, keypoints, np.ones((1, 2)), np.zeros((1, 2)))
        assert np.median(root[:, 2] / sequence.keypoints_3d[:, ROOT, 2]) == pytest.approx(WRONG_SIZE, abs=0.01)
        person = PersonScale(mount)
        size = person.along(pose, root, sequence.confidence)[-1]
        assert size * WRONG_SIZE == pytest.approx(1.0, abs=0.04), sequence.name
        depth = size * root[:, 2] / sequence.keypoints_3d[:, ROOT, 2]
        assert np.abs(depth - 1).mean() < 0.04, sequence.name


def test_unseen_ankles_and_impossible_sizes_leave_the_learned_size():
    mount = CameraMount(1.5, 0.0)                       # looking straight ahead
    pose = np.zeros((17, 3))
    root = np.array([0.0, 0.0, 3.0])                   # every joint on the optical axis: no ankle below the camera
    assert np.isnan(floor_scale(pose, root, mount))
    person = PersonScale(mount)
    assert person.update(pose, root, np.ones(17)) == 1.0
    pose[[3, 6], 1] = 0.3                                # ankles 0.3 m below the camera: a 4.7x giant
    assert person.update(pose, root, np.ones(17)) == 1.0
    pose[[3, 6], 1] = 1.0                                # 1.0 m below: 1.4x the mocap's size, but both ankles unseen
    assert person.update(pose, root, np.full(17, 0.1)) == 1.0
    assert person.update(pose, root, np.ones(17)) == pytest.approx((1.5 - 0.1) / 1.0)


def test_ankles_seen_at_a_grazing_angle_leave_the_learned_size():
    mount = CameraMount(1.5, 0.0)
    pose = np.zeros((17, 3))
    pose[[3, 6], 1] = 1.0                                # ankles 1.0 m below the camera
    far, near = np.array([0.0, 0.0, 10.0]), np.array([0.0, 0.0, 3.0])   # rays 5.7 and 18.4 degrees below the horizon
    person = PersonScale(mount, min_ankle_ray_deg=10.0)
    assert person.update(pose, far, np.ones(17)) == 1.0
    assert person.update(pose, near, np.ones(17)) == pytest.approx((1.5 - 0.1) / 1.0)
    assert PersonScale(mount, min_ankle_ray_deg=5.0).update(pose, far, np.ones(17)) == pytest.approx((1.5 - 0.1) / 1.0)
