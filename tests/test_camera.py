"""The camera convention: normalisation, projection, distortion and root solving."""
import numpy as np
import pytest
import torch

from adaptation.camera import (Intrinsics, distort, lifter_keypoints, normalize_pixels, pixels_from_normalized,
                               project, solve_root, undistort)

CAMERA = Intrinsics(fx=500.0, fy=505.0, cx=330.0, cy=235.0, width=640, height=480,
                    distortion=(-0.2, 0.05, 0.001, -0.001, 0.0))


def test_normalisation_is_the_camera_ray():
    pixels = np.array([[330.0, 235.0], [830.0, 235.0], [330.0, 740.0]])
    normalised = normalize_pixels(pixels, CAMERA)
    np.testing.assert_allclose(normalised, [[0, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(pixels_from_normalized(normalised, CAMERA), pixels)
    np.testing.assert_allclose(CAMERA.normalized(), [1, 1, 0, 0])


def test_normalisation_does_not_depend_on_image_size_aspect_or_focal_length():
    points = np.random.default_rng(3).normal(scale=0.3, size=(17, 3)) + [0.2, -0.1, 4]
    cameras = [Intrinsics(500.0, 500.0, 320, 240, 640, 480), Intrinsics(1600.0, 1600.0, 544, 960, 1088, 1920),
               Intrinsics(1145.0, 1145.0, 500, 500, 1000, 1000)]
    rays = [lifter_keypoints(c.pixels_of(points), c) for c in cameras]
    for other in rays[1:]:
        np.testing.assert_allclose(other, rays[0], atol=1e-9)
    np.testing.assert_allclose(rays[0], points[:, :2] / points[:, 2:], atol=1e-9)


def test_projection_is_the_same_in_pixels_and_normalised_units():
    points = np.random.default_rng(0).normal(size=(17, 3)) + [0, 0, 4]
    in_pixels = project(points, CAMERA.as_array()[:2], CAMERA.as_array()[2:])
    in_normalised = project(points, CAMERA.normalized()[:2], CAMERA.normalized()[2:])
    np.testing.assert_allclose(normalize_pixels(in_pixels, CAMERA), in_normalised, atol=1e-12)


def test_in_view_flags_frames_with_a_joint_outside_the_image():
    pixels = np.full((3, 17, 2), 100.0)
    pixels[1, 5] = [640.0, 100.0]          # x == width is outside
    pixels[2, 3] = [10.0, -1.0]
    assert CAMERA.in_view(pixels).tolist() == [True, False, False]


def test_undistort_inverts_distort():
    pixels = np.random.default_rng(1).uniform([20, 20], [620, 460], size=(50, 2))
    np.testing.assert_allclose(undistort(distort(pixels, CAMERA), CAMERA), pixels, atol=1e-3)
    assert np.abs(distort(pixels, CAMERA) - pixels).max() > 1.0


def test_solve_root_recovers_the_translation_from_2d_only():
    rng = np.random.default_rng(2)
    pose = rng.normal(scale=0.3, size=(5, 17, 3))
    pose -= pose[:, :1]
    root = np.array([[0.4, -0.2, 3.0], [-1.0, 0.5, 5.5], [0, 0, 2], [0.2, 0.3, 4], [1, 1, 6]])
    f, c = CAMERA.normalized()[:2], CAMERA.normalized()[2:]
    keypoints = project(pose + root[:, None], f, c)
    np.testing.assert_allclose(solve_root(pose, keypoints, np.tile(f, (5, 1)), np.tile(c, (5, 1))), root, atol=1e-9)
    solved = solve_root(torch.tensor(pose), torch.tensor(keypoints), torch.tensor(np.tile(f, (5, 1))),
                        torch.tensor(np.tile(c, (5, 1))))
    np.testing.assert_allclose(solved.numpy(), root, atol=1e-9)


@pytest.mark.parametrize("k", [[0.0] * 9, [500, 0, 320, 0, 500, 240, 0, 0, 1][:8]])
def test_uncalibrated_camera_info_is_rejected(k):
    with pytest.raises(ValueError, match="K is missing or all zero"):
        Intrinsics.from_camera_info(k, [], 640, 480)


def test_invalid_intrinsics_are_rejected():
    with pytest.raises(ValueError, match="focal"):
        Intrinsics(0.0, 500.0, 320, 240, 640, 480)
    with pytest.raises(ValueError, match="image size"):
        Intrinsics(500.0, 500.0, 320, 240, 0, 480)
