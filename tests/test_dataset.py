"""The camera-view dataset format: rendering into it, reading it back, and refusing bad files."""
import numpy as np
import pytest

from adaptation.camera import project
from adaptation.dataset import CameraViews
from adaptation.skeleton import bone_lengths
from adaptation.views import Rig, add_detector_noise, load_mocap, main as render_main, render

from fixtures import MOCAP, small_mocap


def test_shipped_mocap_loads_in_metres_with_the_joint_convention():
    mocap = load_mocap(MOCAP)
    assert sorted(mocap) == ["cmu_01", "cmu_03", "hdm_bd", "hdm_bk", "hdm_dg"]
    poses = mocap["cmu_03"]["03_01"]
    assert poses.shape[1:] == (17, 3)
    thigh = bone_lengths(poses)[:, 1].mean()  # r_hip -> r_knee
    assert 0.3 < thigh < 0.6


@pytest.mark.parametrize("rig_name", ["studio", "robot", "randomized"])
def test_rendered_views_are_consistent_with_their_cameras(rig_name, tmp_path):
    views = render(small_mocap(), Rig.load(rig_name), seed=0)
    for s in views.sequences:
        assert s.keypoints_3d[..., 2].min() > 0.4, "people stay in front of the camera"
        k = s.intrinsics.as_array()
        np.testing.assert_allclose(project(s.keypoints_3d, k[:2], k[2:]), s.keypoints_2d, atol=1e-2)
    if rig_name == "robot":
        focals = [s.intrinsics.fx for s in views.sequences]
        assert all(380 <= f <= 620 for f in focals)
        assert {(s.intrinsics.width, s.intrinsics.height) for s in views.sequences} == {(640, 480)}
        heights = [-s.keypoints_3d[:, 0, 1].mean() for s in views.sequences]  # camera-frame y is down
        assert all(-1.5 < h < 1.0 for h in heights)
    path = views.save(tmp_path / "views.npz")
    back = CameraViews.load(path)
    assert [s.name for s in back.sequences] == [s.name for s in views.sequences]
    np.testing.assert_array_equal(back.sequences[1].keypoints_2d, views.sequences[1].keypoints_2d)
    assert back.sequences[1].intrinsics == views.sequences[1].intrinsics
    assert not (tmp_path / "views.npz.partial").exists()


def test_detector_noise_has_the_asked_size_and_share_of_outliers():
    height = 500.0
    pixels = np.zeros((4000, 17, 2))
    pixels[..., 1] = np.linspace(0, height, 17)            # a 500 px tall person, every frame
    gross = {}
    for rate in (0.01, 0.05):
        noisy, confidence = add_detector_noise(pixels, 0.02, np.random.default_rng(0), outlier_rate=rate)
        relative = (noisy - pixels) / height
        assert np.median(np.abs(relative)) == pytest.approx(0.6745 * 0.02, rel=0.1)   # N(0, 0.02) per axis
        gross[rate] = np.mean(np.linalg.norm(relative, axis=-1) > 0.15)                # > 7 sigma: outliers only
        assert confidence.shape == pixels.shape[:2] and confidence.min() >= 0
    assert 3 < gross[0.05] / gross[0.01] < 8


def test_render_views_cli_writes_a_dataset_and_reports_bad_subjects(tmp_path, capsys):
    out = tmp_path / "robot.npz"
    assert render_main(["--mocap", str(MOCAP), "--rig", "robot", "--subjects", "cmu_03", "--noise", "0.01",
                        "--out", str(out)]) == 0
    views = CameraViews.load(out)
    assert views.labelled and views.num_frames > 1000
    assert render_main(["--mocap", str(MOCAP), "--rig", "robot", "--subjects", "nobody", "--out", str(out)]) == 1
    assert "unknown subjects ['nobody']" in capsys.readouterr().err


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


def valid_arrays(frames=30):
    views = render(small_mocap(frames), Rig.load("robot"))
    return views


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(keypoints_2d=a["keypoints_2d"][:, :16]), r"expected shape \(\.\.\., 17, C\)"),
    (lambda a: a["keypoints_2d"].__setitem__((3, 4, 0), np.nan), "NaN or infinite"),
    (lambda a: a.update(layout=np.array("coco17")), "joint layout 'coco17' is not supported"),
    (lambda a: a.pop("intrinsics"), r"missing fields \['intrinsics'\]"),
    (lambda a: a.update(sequence_starts=a["sequence_starts"][:-1]), "sequence_starts"),
    (lambda a: a.update(intrinsics=np.zeros_like(a["intrinsics"])), "focal lengths must be finite and > 0"),
])
def test_bad_datasets_are_rejected_with_the_problem_named(tmp_path, change, message):
    path = valid_arrays().save(tmp_path / "good.npz")
    arrays = dict(np.load(path))
    change(arrays)
    bad = write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        CameraViews.load(bad)


def test_empty_and_truncated_files_are_rejected(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz: not a readable"):
        CameraViews.load(tmp_path / "empty.npz")
    good = valid_arrays().save(tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.npz: not a readable"):
        CameraViews.load(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match="no sequences"):
        CameraViews([]).save(tmp_path / "none.npz")


def test_videopose3d_h36m_files_load_into_the_same_joint_order_and_frame(tmp_path):
    """A file in VideoPose3D's data_3d_h36m.npz layout (32 joints, metres, z-up) built from real mocap."""
    from adaptation.views import H36M32_TO_17, load_videopose3d_h36m

    yup = small_mocap(50)["cmu_03"]
    poses = next(iter(yup.values()))
    zup = np.stack([poses[..., 0], -poses[..., 2], poses[..., 1]], -1)      # y-up -> z-up (a proper rotation)
    full = np.zeros((len(poses), 32, 3))
    full[:, H36M32_TO_17] = zup
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=np.array({"S9": {"Walking 1": full}}, dtype=object))
    loaded = load_videopose3d_h36m(tmp_path / "data_3d_h36m.npz")
    np.testing.assert_allclose(loaded["S9"]["Walking_1"], poses, atol=1e-12)
    np.savez(tmp_path / "wrong.npz", positions_3d=np.array({"S9": {"Walking": full[:, :17]}}, dtype=object))
    with pytest.raises(ValueError, match=r"expected \(T, 32, 3\)"):
        load_videopose3d_h36m(tmp_path / "wrong.npz")
