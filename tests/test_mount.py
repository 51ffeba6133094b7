"""The camera mount: URDF / tf / YAML readings agree, the estimate from 2D finds known mounts,
and mounts that contradict the 2D or make no sense are refused with the value named."""
import math

import numpy as np
import pytest
import torch

from adaptation.augment import mounted_source
from adaptation.clips import prepare
from adaptation.camera import Intrinsics, lifter_keypoints, turn_back, turn_keypoints, upright_rotation
from adaptation.dataset import CameraViews, Sequence
from adaptation.mount import OPTICAL_IN_LINK, CameraMount, check_against_tracks, estimate, lifting_rotation_for
from adaptation.views import Rig, load_mocap, render

from fixtures import MOCAP


@pytest.fixture(scope="module")
def mocap():
    data = load_mocap(MOCAP)
    return {"cmu_03": data["cmu_03"]}


def rig_tracks(mocap, name: str) -> list[np.ndarray]:
    return [s.keypoints_2d for s in prepare(render(mocap, Rig.load(name), seed=1, noise=0.01))]


@pytest.mark.parametrize("pitch, roll", [(-15.0, 0.0), (30.0, 4.0), (8.0, -6.0)])
def test_mount_survives_every_representation(pitch, roll):
    mount = CameraMount(0.8, pitch, roll)
    again = CameraMount.from_up(mount.up_in_camera(), 0.8, "test")
    assert (again.pitch_deg, again.roll_deg) == pytest.approx((pitch, roll), abs=1e-9)
    # the same camera as a URDF joint (link x forward, z up) and as the optical frame's pose in the base
    urdf = CameraMount.from_urdf([0.1, 0.0, 0.8], [math.radians(roll), math.radians(pitch), 0.3])
    assert (urdf.height_m, urdf.pitch_deg, urdf.roll_deg) == pytest.approx((0.8, pitch, roll), abs=1e-9)
    parsed = CameraMount.parse(f"height_m: 0.8, pitch_deg: {pitch}, roll_deg: {roll}")
    assert parsed.differs_from(urdf) is None


def test_a_pitched_camera_sees_the_head_above_and_towards_it():
    looking_down = CameraMount(1.5, 30.0)
    clip = torch.zeros(1, 1, 17, 3)
    clip[..., 10, 1] = 1.5                                              # head 1.5 m above the pelvis
    head = mounted_source(clip, looking_down)[0, 0, 10]
    torch.testing.assert_close(head, torch.tensor([0.0, -1.5 * math.cos(math.pi / 6), -1.5 * math.sin(math.pi / 6)]))


@pytest.mark.parametrize("rig", ["low_robot", "head_camera"])
def test_the_mount_estimated_from_2d_alone_is_close_to_the_rig(mocap, rig):
    spec = Rig.load(rig)
    found = estimate(rig_tracks(mocap, rig))
    assert found.source == "estimated"
    assert abs(found.pitch_deg - spec.pitch_deg) < 3 and abs(found.roll_deg - spec.roll_deg) < 3
    assert abs(found.height_m - spec.height_m) < 0.2


def test_people_in_one_image_region_do_not_fix_a_mount(mocap):
    one_track = rig_tracks(mocap, "low_robot")[0][:150]
    with pytest.raises(ValueError, match="cannot estimate the camera mount"):
        estimate([one_track])


@pytest.mark.parametrize("rig, wrong", [("head_camera", (1.9, -30.0, 4.0)), ("head_camera", (1.9, 30.0, -20.0)),
                                         ("low_robot", (0.35, 15.0, 0.0))])
def test_a_mount_the_2d_cannot_come_from_is_refused(mocap, rig, wrong):
    tracks, spec = rig_tracks(mocap, rig), Rig.load(rig)
    check_against_tracks(CameraMount(spec.height_m, spec.pitch_deg, spec.roll_deg), tracks)   # the true one passes
    with pytest.raises(ValueError, match="contradicts the target 2D"):
        check_against_tracks(CameraMount(*wrong), tracks)


@pytest.mark.parametrize("text, message", [
    ("height_m: -0.2, pitch_deg: 0", "height_m"),
    ("height_m: 1, pitch_deg: 95", "pitch_deg"),
    ("height: 1", "needs height_m and pitch_deg"),
    ("missing.yaml", "does not exist"),
    ("xyz: [0, 0], rpy: [0, 0, 0]", "3 numbers"),
])
def test_bad_mounts_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        CameraMount.parse(text)


def test_optical_frame_convention_matches_a_level_camera():
    level = CameraMount.from_optical_frame(OPTICAL_IN_LINK, np.array([0.0, 0.0, 1.2]))
    assert (level.height_m, level.pitch_deg, level.roll_deg) == pytest.approx((1.2, 0.0, 0.0), abs=1e-9)


@pytest.mark.parametrize("lifting_camera", ["upright", "level"])
def test_a_mounted_camera_turned_sees_what_the_turned_camera_at_the_same_place_sees(mocap, lifting_camera):
    """The lifting cameras (adaptation.camera) are exact: 2D of a pitched, rolled camera, distortion and
    all, turned into its upright (no roll) or level (no roll, no pitch) twin equal the 2D that twin takes;
    3D turned back equals the camera's own 3D."""
    world = next(iter(mocap["cmu_03"].values()))[:20]
    mounted = CameraMount(1.6, 20.0, 17.0)
    twin = mounted.turned(lifting_camera)
    assert twin == CameraMount(1.6, 20.0 if lifting_camera == "upright" else 0.0, 0.0, mounted.source)
    placed = world - world[:, :1].mean(0) + [0.0, -0.6, 4.0]          # 4 m in front of the camera, below it
    in_mounted, in_twin = (placed @ m.rotation().T for m in (mounted, twin))
    rotation = mounted.lifting_rotation(lifting_camera)
    camera = Intrinsics(900.0, 900.0, 640.0, 360.0, 1280, 720, (-0.2, 0.05, 0.001, -0.001, 0.0))
    turned = CameraViews([Sequence("s", camera.pixels_of(in_mounted).astype(np.float32), np.ones((20, 17), np.float32),
                                   camera, 30.0, in_mounted.astype(np.float32))]).turned(rotation)
    expected = in_twin[..., :2] / in_twin[..., 2:]                     # what the twin sees, as normalised 2D
    got = turned.sequences[0]
    assert not got.intrinsics.has_distortion
    np.testing.assert_allclose(lifter_keypoints(got.keypoints_2d, got.intrinsics), expected, atol=1e-4)
    np.testing.assert_allclose(got.keypoints_3d, in_twin, atol=1e-5)
    np.testing.assert_allclose(turn_keypoints(lifter_keypoints(camera.pixels_of(in_mounted), camera), rotation), expected, atol=1e-4)
    np.testing.assert_allclose(turn_back(in_twin, rotation), in_mounted, atol=1e-9)
    assert np.abs(lifter_keypoints(camera.pixels_of(in_mounted), camera) - expected).max() > 0.05   # the turn matters


def test_the_upright_turn_is_the_roll_alone_and_a_level_lifter_needs_a_mount():
    np.testing.assert_allclose(CameraMount(1.0, 25.0, -13.0).lifting_rotation("upright"), upright_rotation(-13.0), atol=1e-12)
    np.testing.assert_allclose(lifting_rotation_for(None, "upright"), np.eye(3))
    with pytest.raises(ValueError, match="needs the camera mount"):
        lifting_rotation_for(None, "level")
    with pytest.raises(ValueError, match="pitch within"):
        CameraMount(1.0, 70.0).lifting_rotation("level")

