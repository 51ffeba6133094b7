"""Denoiser, DDIM sampler, the train and evaluate CLIs, and checkpoint errors."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from adaptation import checkpoint, diffusion
from adaptation.clips import covering_windows, predict_sequence, prepare
from adaptation.dataset import CameraViews
from adaptation.diffusion import Sampler, ddim_timesteps, sample_hypotheses
from adaptation.evaluate import main as evaluate_main
from adaptation.keypoint_filter import smooth_sequence, smoothed_views
from adaptation.model import Denoiser, LifterConfig, build_model
from adaptation.skeleton import flip_pose
from adaptation.train import causal_loss, lifter_loss, main as train_main, validate
from adaptation.views import Rig, render

from fixtures import small_mocap

TINY = LifterConfig(frames=9, width=32, depth=1, heads=2, architecture="mixste")


def test_denoiser_maps_windows_to_windows_and_adds_the_output_bias():
    model = Denoiser(TINY).eval()
    kp, noisy, t = torch.randn(3, 9, 17, 2), torch.randn(3, 9, 17, 3), torch.tensor([0, 500, 999])
    out = model(kp, noisy, t)
    assert out.shape == (3, 9, 17, 3)
    with torch.no_grad():
        model.output_bias[4] = torch.tensor([0.1, 0.2, 0.3])
    shifted = model(kp, noisy, t)
    torch.testing.assert_close(shifted[:, :, 4] - out[:, :, 4], torch.tensor([0.1, 0.2, 0.3]).expand(3, 9, 3))
    torch.testing.assert_close(shifted[:, :, 5], out[:, :, 5])


@pytest.mark.parametrize("architecture", ["mixste", "pose_tokens"])
def test_causal_attention_predicts_each_frame_from_the_past_only(architecture):
    """A change at frame 5 moves frames 5-8 of a causal lifter and none before; with full attention, all."""
    kp, noisy, t = torch.randn(2, 9, 17, 2), torch.randn(2, 9, 17, 3), torch.tensor([0, 999])
    later = kp.clone()
    later[:, 5] += 0.5
    for causal in (True, False):
        model = build_model(dataclasses.replace(TINY, architecture=architecture, causal=causal)).eval()
        moved = (model(later, noisy, t) - model(kp, noisy, t)).abs().amax(dim=(0, 2, 3))   # per frame
        assert (moved[5:] > 1e-4).all()
        assert (moved[:5] < 1e-6).all() if causal else (moved[:5] > 1e-4).all()


def test_ddim_grid_follows_the_method_note():
    assert ddim_timesteps(1) == [(999, -1)]
    assert ddim_timesteps(2) == [(999, 499), (499, -1)]
    with pytest.raises(ValueError):
        ddim_timesteps(0)


@pytest.mark.parametrize("window, sees", [("causal", (-8, 0)), ("centered", (-4, 4)), ("static", (0, 0))])
def test_each_window_mode_sees_only_its_frames(window, sees):
    """Frame t's output may depend on frames t+sees[0] .. t+sees[1] only (a 'window' that is the mean of its frames)."""
    keypoints = np.random.default_rng(0).normal(size=(30, 17, 2))

    def mean_of_window(windows):
        means = np.concatenate([windows, np.zeros_like(windows[..., :1])], axis=-1).mean(axis=1, keepdims=True)
        return np.repeat(means, windows.shape[1], axis=1)

    base = predict_sequence(mean_of_window, keypoints, 9, window=window)
    for offset in range(-10, 11):
        moved = keypoints.copy()
        moved[15 + offset] += 1.0
        changed = not np.allclose(predict_sequence(mean_of_window, moved, 9, window=window)[15], base[15])
        assert changed == (sees[0] <= offset <= sees[1]), (window, offset)


def test_hypotheses_differ_and_flip_is_an_involution():
    sampler = Sampler(Denoiser(TINY).eval(), k=2, flip=True)
    kp = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        out = sample_hypotheses(sampler, kp, hypotheses=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 4, 9, 17, 3)
    assert (out[:, 0] - out[:, 1]).abs().max() > 0
    torch.testing.assert_close(flip_pose(flip_pose(kp)), kp)


def test_stochastic_steps_draw_fresh_noise_from_their_generator():
    denoiser = Denoiser(TINY).eval()
    kp, start = torch.randn(2, 9, 17, 2), torch.randn(2, 9, 17, 3)
    with torch.no_grad():
        ddim = Sampler(denoiser, k=3)(kp, start)
        eta0 = Sampler(denoiser, k=3, eta=0.0, generator=torch.Generator().manual_seed(1))(kp, start)
        one, again, other = (Sampler(denoiser, k=3, eta=1.0, generator=torch.Generator().manual_seed(seed))(kp, start)
                             for seed in (1, 1, 2))
    torch.testing.assert_close(eta0, ddim)                 # eta 0 is the exported deterministic DDIM
    torch.testing.assert_close(one, again)                 # seeded: reproducible
    assert (one - other).abs().max() > 1e-4                # fresh noise at each step changes the pose


def test_denoising_loss_is_the_joint_distance_or_its_square():
    """The two denoising objectives of train --squared_denoising, recomputed from the same draws."""
    model = Denoiser(TINY).eval()
    batch = {"keypoints_2d": torch.randn(4, 9, 17, 2), "pose_3d": 0.3 * torch.randn(4, 9, 17, 3)}

    def by_hand(squared: bool) -> torch.Tensor:
        torch.manual_seed(3)
        torch.rand(4)                                      # the deployed/denoising split lifter_loss draws first
        t = torch.randint(0, diffusion.STEPS, (4,))
        noised = diffusion.add_noise(batch["pose_3d"], t, torch.randn_like(batch["pose_3d"]))
        error = ((model(batch["keypoints_2d"], noised, t) - batch["pose_3d"]) ** 2).sum(-1)
        return error.mean() if squared else error.sqrt().mean()

    with torch.no_grad():
        for squared in (False, True):
            torch.manual_seed(3)
            loss = lifter_loss(model, batch, flip=False, deployed_fraction=0.0, squared_denoising=squared)
            torch.testing.assert_close(loss, by_hand(squared), atol=1e-6, rtol=1e-5)


class DelayedLifter(torch.nn.Module):
    """Reads the 3D off the 2D (x, y; z = 0), `delay` frames late: an oracle at delay 0."""

    def __init__(self, delay: int):
        super().__init__()
        self.delay = delay

    def forward(self, keypoints_2d, noisy_3d, t):
        late = torch.cat([keypoints_2d[:, :1].expand(-1, self.delay, -1, -1), keypoints_2d[:, :keypoints_2d.shape[1] - self.delay]], 1)
        return torch.cat([late, torch.zeros_like(late[..., :1])], -1)


def test_causal_loss_scores_the_newest_frame_of_each_window_and_its_acceleration():
    """train --causal_weight: zero for a lifter that is right at the newest frame (mirrored or not);
    one frame late it costs the step to the next frame plus the change of that step."""
    torch.manual_seed(0)
    pose = torch.cumsum(0.05 * torch.randn(4, 11, 17, 3), dim=1) * torch.tensor([1.0, 1.0, 0.0])   # moving, z = 0
    batch = {"keypoints_2d": pose[..., :2].clone(), "pose_3d": pose}
    for flip in (False, True):
        assert causal_loss(DelayedLifter(0), batch, flip=flip) < 1e-5
    newest, late = pose[:, 8:], pose[:, 7:10]
    acceleration = lambda p: p[:, 2] - 2 * p[:, 1] + p[:, 0]
    by_hand = (newest - late).norm(dim=-1).mean() + (acceleration(newest) - acceleration(late)).norm(dim=-1).mean()
    torch.testing.assert_close(causal_loss(DelayedLifter(1), batch, flip=False), by_hand, atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def views_path(tmp_path_factory):
    return render(small_mocap(200), Rig.load("robot"), seed=0, noise=0.01).save(
        tmp_path_factory.mktemp("views") / "robot.npz")


def test_train_resume_and_evaluate_end_to_end(views_path, tmp_path, capsys):
    common = ["--train_views", str(views_path), "--val_views", str(views_path), "--out_dir", str(tmp_path),
              "--batch_size", "8", "--eval_every", "10", "--model.frames", "9", "--model.width", "32",
              "--model.depth", "1", "--model.heads", "2"]
    assert train_main(common + ["--steps", "20"]) == 0
    first = json.loads((tmp_path / "history.json").read_text())
    assert train_main(common + ["--steps", "40"]) == 0          # resumes from last.pt at step 20
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["val_step"] == [10, 20, 30, 40] and first["val_step"] == [10, 20]
    assert history["loss_mm"][-1] < history["loss_mm"][0]
    assert (tmp_path / "loss.png").stat().st_size > 10_000
    model, meta = checkpoint.load(tmp_path / "final.pt")
    assert model.config.frames == 9 and meta["step"] == 40 and meta["command"].startswith("train ")
    fine_tune = common + ["--out_dir", str(tmp_path / "tuned"), "--steps", "2", "--init_from", str(tmp_path / "final.pt")]
    assert train_main(fine_tune + ["--causal_weight", "1"]) == 0   # with the causal loss (windows of F+2 frames)
    capsys.readouterr()
    assert train_main(fine_tune + ["--model.width", "64"]) == 1    # a checkpoint of another size
    assert "do not fit the model asked for" in capsys.readouterr().err

    report_path = tmp_path / "report.json"
    assert evaluate_main(["--model", str(tmp_path / "final.pt"), "--views", str(views_path),
                          "--hypotheses", "2", "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    overall = report["overall"]
    assert overall["frames"] == sum(s["frames"] for s in report["sequences"].values())
    assert 0 < overall["p_mpjpe_mm"] <= overall["mpjpe_mm"] < 2000
    assert 0 <= overall["auc"] <= overall["pck150"] <= 100


def test_smooth_2d_trains_and_validates_on_the_2d_the_node_feeds(views_path, tmp_path):
    views = CameraViews.load(views_path)
    filtered = smoothed_views(views)
    for raw, smooth in zip(views.sequences, filtered.sequences):
        np.testing.assert_allclose(smooth.keypoints_2d, smooth_sequence(raw.keypoints_2d, raw.fps), atol=1e-4)
        assert smooth.keypoints_3d is raw.keypoints_3d and smooth.intrinsics == raw.intrinsics
    assert not np.allclose(views.sequences[0].keypoints_2d, filtered.sequences[0].keypoints_2d)
    assert train_main(["--train_views", str(views_path), "--val_views", str(views_path), "--out_dir", str(tmp_path),
                       "--batch_size", "8", "--steps", "10", "--eval_every", "10", "--model.frames", "9",
                       "--model.width", "32", "--model.depth", "1", "--model.heads", "2", "--smooth_2d", "true"]) == 0
    model, meta = checkpoint.load(tmp_path / "best.pt")
    assert meta["train_config"]["smooth_2d"] is True

    def validation_mm(data: CameraViews) -> float:
        return validate(model, covering_windows(prepare(data), 9))
    assert meta["val_mpjpe_mm"] == pytest.approx(validation_mm(filtered), abs=0.01)
    assert meta["val_mpjpe_mm"] != pytest.approx(validation_mm(views), abs=0.01)


def test_training_on_unlabelled_views_fails_with_a_message(views_path, tmp_path, capsys):
    from adaptation.dataset import CameraViews
    unlabelled = CameraViews.load(views_path).without_labels().save(tmp_path / "2d_only.npz")
    assert train_main(["--train_views", str(unlabelled), "--out_dir", str(tmp_path), "--steps", "1"]) == 1
    assert "needs 3D labels" in capsys.readouterr().err


def test_damaged_checkpoints_are_reported_with_their_path(tmp_path):
    path = checkpoint.save(tmp_path / "ok.pt", Denoiser(TINY))
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="cut.pt: not a readable lifter checkpoint"):
        checkpoint.load(tmp_path / "cut.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a posynda lifter checkpoint"):
        checkpoint.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        checkpoint.load(tmp_path / "missing.pt")
    assert np.isfinite(checkpoint.load(path)[0].output_bias.detach().numpy()).all()


def test_brief_training_beats_a_constant_mean_pose(tmp_path):
    """Fails if learning breaks: a small diffusion lifter (the default architecture), 300 steps, on views of other cameras."""
    from adaptation.dataset import CameraViews
    from adaptation.evaluate import evaluate
    from adaptation.metrics import mpjpe
    from adaptation.skeleton import root_relative
    mocap = small_mocap(300)
    train_path = render(mocap, Rig.load("randomized"), seed=0, noise=0.01).save(tmp_path / "train.npz")
    test = render(mocap, Rig.load("randomized"), seed=1, noise=0.01)
    assert train_main(["--train_views", str(train_path), "--out_dir", str(tmp_path / "run"), "--steps", "300",
                       "--batch_size", "16", "--eval_every", "300", "--model.frames", "9", "--model.width", "128",
                       "--model.depth", "1", "--model.heads", "2", "--seed", "0"]) == 0
    model, _ = checkpoint.load(tmp_path / "run" / "final.pt")
    learned = evaluate(model, test)["overall"]["mpjpe_mm"]
    train_poses = np.concatenate([root_relative(s.keypoints_3d) for s in CameraViews.load(train_path).sequences])
    test_poses = np.concatenate([root_relative(s.keypoints_3d) for s in test.sequences])
    constant = float(mpjpe(np.broadcast_to(train_poses.mean(0), test_poses.shape), test_poses)) * 1000
    assert learned < 0.8 * constant, (learned, constant)


def test_the_controls_train_and_load_through_the_same_tools(views_path, tmp_path):
    for architecture, objective in (("mlp", "regression"), ("mixste", "regression")):
        out = tmp_path / architecture
        assert train_main(["--train_views", str(views_path), "--out_dir", str(out), "--steps", "5", "--batch_size", "4",
                           "--model.frames", "9", "--model.width", "32", "--model.depth", "1", "--model.heads", "2",
                           "--model.architecture", architecture, "--model.objective", objective]) == 0
        model, _ = checkpoint.load(out / "final.pt")
        kp = torch.randn(2, 9, 17, 2)
        with torch.no_grad():
            one, two = (Sampler(model, k=1)(kp, torch.randn(2, 9, 17, 3)) for _ in range(2))
        torch.testing.assert_close(one, two)                 # deterministic: the noise is ignored
        assert one[..., 0, :].abs().max() == 0               # the pelvis is exactly 0


def test_unknown_architecture_or_objective_is_named():
    with pytest.raises(ValueError, match="architecture"):
        LifterConfig(architecture="lstm")
    with pytest.raises(ValueError, match="objective"):
        LifterConfig(objective="gan")


def test_keypoint_shift_moves_each_joint_by_one_offset_per_window_and_keeps_the_3d():
    from adaptation.augment import shift_keypoints
    from adaptation.camera import project
    torch.manual_seed(0)
    pose = (0.3 * torch.randn(4, 1, 17, 3)).expand(4, 9, 17, 3)          # a person standing still
    root = torch.tensor([0.0, 0.0, 4.0]).expand(4, 9, 3)
    batch = {"pose_3d": pose, "root_3d": root, "keypoints_2d": project(pose + root[..., None, :], 1.0, 0.0)}
    shifted = shift_keypoints(batch, 0.03)
    torch.testing.assert_close(shifted["pose_3d"], pose)
    moved = shifted["keypoints_2d"] - batch["keypoints_2d"]
    torch.testing.assert_close(moved[:, 1:], moved[:, :1].expand_as(moved[:, 1:]))   # one offset per window
    assert not torch.allclose(moved[0], moved[1])                                    # another in the next
    metres = (moved.norm(dim=-1) * (pose[..., 2] + 4.0)).mean()                      # ~ sigma sqrt(pi / 2)
    assert 0.02 < metres < 0.05, metres
    torch.testing.assert_close(shift_keypoints(batch, 0.0)["keypoints_2d"], batch["keypoints_2d"])
