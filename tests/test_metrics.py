"""Metric functions against cases computed by hand."""
import numpy as np
import pytest
import torch

from adaptation.metrics import all_metrics, auc, mpjpe, p_mpjpe, pck, procrustes_align
from adaptation.skeleton import JOINT_INDEX, NUM_JOINTS, PCK_JOINTS, trunk_inclination_deg


def pose(seed=0):
    return np.random.default_rng(seed).normal(scale=300.0, size=(NUM_JOINTS, 3))


def test_mpjpe_is_the_mean_euclidean_distance():
    target = np.zeros((2, NUM_JOINTS, 3))
    predicted = target.copy()
    predicted[0, :, 0] = 3.0
    predicted[0, :, 1] = 4.0          # every joint of frame 0 is 5 mm off, frame 1 exact
    assert mpjpe(predicted, target) == pytest.approx(2.5)
    assert float(mpjpe(torch.tensor(predicted), torch.tensor(target))) == pytest.approx(2.5)


def test_p_mpjpe_ignores_rotation_scale_and_translation():
    target = pose()
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    moved = 1.7 * target @ rotation.T + [100.0, -50.0, 2000.0]
    assert p_mpjpe(moved, target) == pytest.approx(0.0, abs=1e-6)
    assert mpjpe(moved, target) > 100


def test_procrustes_never_reflects():
    target = pose(1)
    mirrored = target * [-1.0, 1.0, 1.0]  # only a reflection could align it exactly
    aligned = procrustes_align(mirrored[None], target[None])[0]
    assert np.linalg.norm(aligned - target, axis=-1).mean() > 10.0


def test_pck_counts_the_14_joints_within_150mm():
    target = np.zeros((1, NUM_JOINTS, 3))
    predicted = target.copy()
    scored = list(PCK_JOINTS)
    predicted[0, scored[:7], 2] = 149.0     # 7 of 14 inside
    predicted[0, scored[7:], 2] = 151.0     # 7 outside
    predicted[0, 0, 2] = 1000.0             # the pelvis is not scored
    assert len(scored) == 14
    assert pck(predicted, target) == pytest.approx(50.0)


def test_auc_is_the_mean_pck_over_31_thresholds():
    target = pose(3)[None]
    predicted = target + [52.0, 0.0, 0.0]   # within thresholds 55..150: 20 of 31
    assert auc(predicted, target) == pytest.approx(100 * 20 / 31)
    report = all_metrics(predicted, target)
    assert report["frames"] == 1 and report["pck150"] == 100.0


def test_acceleration_error_by_hand():
    from adaptation.metrics import acceleration_error
    truth = np.zeros((4, NUM_JOINTS, 3))
    predicted = truth.copy()
    predicted[2, :, 0] = 3.0                      # one frame jumps 3 mm sideways
    error, frames = acceleration_error(predicted, truth)
    # second differences at t=1: 0 - 0 + 3 = 3, at t=2: 0 - 6 + 0 = -6 -> mean |.| = 4.5
    assert frames == 2 and error == pytest.approx(4.5)
    assert acceleration_error(predicted[:2], truth[:2]) == (0.0, 0)


def test_rank_correlation():
    from adaptation.metrics import rank_correlation
    a = np.arange(10.0)
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)


def test_trunk_inclination_is_the_tilt_of_pelvis_to_thorax_from_up():
    poses = np.zeros((3, NUM_JOINTS, 3))
    poses[:, JOINT_INDEX["pelvis"]] = [1.0, 2.0, 3.0]
    poses[:, JOINT_INDEX["thorax"]] = [1.0, 2.0, 3.0]
    poses[0, JOINT_INDEX["thorax"]] += [0.0, 0.5, 0.0]       # upright
    poses[1, JOINT_INDEX["thorax"]] += [0.0, 0.5, 0.5]       # bent forward by 45 degrees
    poses[2, JOINT_INDEX["thorax"]] += [0.5, 0.0, 0.0]       # lying on the side
    assert trunk_inclination_deg(poses, np.array([0.0, 1.0, 0.0])) == pytest.approx([0.0, 45.0, 90.0])
