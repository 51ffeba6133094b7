"""Multi-view geometry on the bundled real calibration (Pose2Sim, Qualisys .qca)."""
from pathlib import Path

import numpy as np
import pytest

from adaptation.multiview import match_people, read_qca, triangulate

CALIBRATION = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "pose2sim_multiperson" / "Calib.qca.txt"


@pytest.fixture(scope="module")
def cameras():
    return read_qca(CALIBRATION)


def test_qca_is_read_in_pixels_with_the_cameras_looking_at_the_capture_area(cameras):
    assert [c.name for c in cameras] == ["cam01", "cam02", "cam03", "cam04"]
    for c in cameras:
        assert (c.intrinsics.width, c.intrinsics.height) == (1088, 1920)
        assert 1600 < c.intrinsics.fx < 1750 and 450 < c.intrinsics.cx < 600    # 1/64 px converted
        np.testing.assert_allclose(c.rotation @ c.rotation.T, np.eye(3), atol=1e-6)
        centre_of_area = np.array([0.0, 0.0, 1.0])                             # world z up, metres
        assert c.to_camera(centre_of_area)[2] > 1.0                            # in front of every camera


def test_triangulation_recovers_points_seen_through_distortion(cameras):
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.8, -0.8, 0.1], [0.8, 0.8, 1.8], size=(17, 3))
    pixels = np.stack([c.pixels_of(points) for c in cameras])
    np.testing.assert_allclose(triangulate(cameras, pixels, np.ones((4, 17))), points, atol=1e-4)
    weights = np.ones((4, 17))
    weights[1:, 0] = 0                                      # joint 0 seen by one view only
    assert np.isnan(triangulate(cameras, pixels, weights)[0]).all()


def test_two_people_are_matched_across_views(cameras):
    rng = np.random.default_rng(1)
    people = [rng.normal(scale=0.3, size=(17, 3)) + centre for centre in ([0.8, 0.0, 1.0], [-0.8, 0.5, 1.0])]
    detections = []
    for v, c in enumerate(cameras):
        seen = [(c.pixels_of(p) + rng.normal(scale=2.0, size=(17, 2)), np.ones(17)) for p in people]
        detections.append(seen[::-1] if v % 2 else seen)    # views list the people in different orders
    matched = match_people(cameras, detections, max_error_px=20.0)
    assert len(matched) == 2
    for person in matched:
        truth = min(people, key=lambda p: np.linalg.norm(p - person.points_world))
        assert np.linalg.norm(truth - person.points_world, axis=-1).mean() < 0.02 and person.reprojection_px < 5
        assert len(person.detections) == 4
