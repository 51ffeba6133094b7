"""PoSynDA pieces (augmentation, reprojection selection, LoRA) and `adapt` end to end on real data."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from adaptation import checkpoint
from adaptation.adapt import AdaptConfig, adapt, select_by_reprojection
from adaptation.augment import align_to_target, detector_noise, repose, size_2d
from adaptation.camera import Intrinsics, project
from adaptation.dataset import CameraViews, Sequence
from adaptation.export import export_model_dir
from adaptation.lora import LoRALinear, merge_lora, prepare_for_adaptation
from adaptation.model import Denoiser, LifterConfig
from adaptation.runtime import open_backend
from adaptation.views import Rig, render
from posynda_ros.adapt_cli import main as adapt_main, source_views_for, with_base_model_noise
from posynda_ros.bags import write_camera_bag

from fixtures import small_mocap
from video import CENTRE, FOCAL, SIZE, read_frames

CAMERA = torch.tensor([[2 * 500 / 640, 2 * 500 / 640, 2 * 320 / 640 - 1, 2 * 240 / 640 - 0.75]])


def test_augmentation_puts_the_source_pelvis_on_the_target_pelvis_at_the_target_scale():
    rng = np.random.default_rng(0)
    source = torch.tensor(rng.normal(scale=0.25, size=(1, 4, 17, 3)), dtype=torch.float32)
    source = source - source[..., :1, :]
    target_3d = torch.tensor(rng.normal(scale=0.25, size=(1, 4, 17, 3)), dtype=torch.float32) + torch.tensor([0.5, 0.2, 4.0])
    target_2d = project(target_3d, CAMERA[:, None, None, :2], CAMERA[:, None, None, 2:])
    synthetic = align_to_target(source, target_2d, CAMERA)
    torch.testing.assert_close(synthetic[..., 0, :], target_2d[..., 0, :])           # same pelvis pixel
    size = lambda kp: ((kp.amax(-2) - kp.amin(-2)).sum(-1) / 2)                    # noqa: E731
    ratio = size(synthetic) / size(target_2d)
    assert ((ratio > 0.6) & (ratio < 1.6)).all(), "same apparent size, up to the pose's shape"


def test_carried_detector_noise_keeps_its_size_relative_to_the_person():
    rng = np.random.default_rng(2)
    pose = torch.tensor(rng.normal(scale=0.25, size=(1, 4, 17, 3)), dtype=torch.float32)
    pose = pose - pose[..., :1, :]
    root = torch.tensor([[0.0, 0.0, 3.0]]).expand(1, 4, 3)
    clean = project(pose + root[..., None, :], 1.0, 0.0)
    jitter = torch.tensor(rng.normal(scale=0.01, size=clean.shape), dtype=torch.float32)
    source = {"pose_3d": pose, "root_3d": root, "keypoints_2d": clean + jitter}
    noise = detector_noise(source)
    # The same pose seen twice as far away: the carried noise shrinks with the person.
    target_2d = project(pose + 2 * root[..., None, :], CAMERA[:, None, None, :2], CAMERA[:, None, None, 2:])
    noisy = align_to_target(pose, target_2d, CAMERA, noise)
    carried = noisy - align_to_target(pose, target_2d, CAMERA)
    ratio = carried.norm(dim=-1).mean() / jitter.norm(dim=-1).mean()
    expected = size_2d(target_2d).mean() / size_2d(clean).mean()
    torch.testing.assert_close(ratio, expected, rtol=0.05, atol=0)
    torch.testing.assert_close(detector_noise({**source, "keypoints_2d": clean}), torch.zeros_like(clean))


def test_a_base_model_trained_on_noisier_2d_is_adapted_on_source_2d_with_its_noise():
    def residual(views: CameraViews) -> float:       # median 2D error over the person's 2D height
        s = views.sequences[0]
        error = np.linalg.norm(s.keypoints_2d - s.intrinsics.pixels_of(s.keypoints_3d), axis=-1)
        return float(np.median(error / np.ptp(s.keypoints_2d[..., 1], axis=-1, keepdims=True)))

    noisier = {"training_2d_noise": {"noise": 0.025, "outlier_rate": 0.05}}
    assert residual(source_views_for(noisier, seed=0)) > 2 * residual(source_views_for({}, seed=0))
    config = AdaptConfig()
    assert with_base_model_noise(config, {}) == config            # a card from before the field: standard renders
    assert not with_base_model_noise(config, {"training_2d_noise": {"noise": 0.01, "outlier_rate": 0.01}}).source_noise
    assert with_base_model_noise(config, noisier).source_noise


def test_reposing_tilts_whole_clips_about_the_camera_x_axis_within_the_range():
    pose = torch.randn(64, 5, 17, 3)
    pose = pose - pose[..., :1, :]
    tilted = repose(pose, 25.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(tilted.norm(dim=-1), pose.norm(dim=-1))        # a rotation: lengths kept
    torch.testing.assert_close(tilted[..., 0], pose[..., 0])                  # about x: x unchanged
    angle = torch.atan2(tilted[:, :, 1:, 2], tilted[:, :, 1:, 1]) - torch.atan2(pose[:, :, 1:, 2], pose[:, :, 1:, 1])
    angle = torch.rad2deg(torch.remainder(angle + torch.pi, 2 * torch.pi) - torch.pi)
    assert angle.abs().max() <= 25.0 + 1e-3 and angle.std(dim=(1, 2)).max() < 1e-2   # one angle per clip
    assert repose(pose, 0.0) is pose


def test_reprojection_selection_picks_the_hypothesis_that_explains_the_2d():
    rng = np.random.default_rng(1)
    truth = torch.tensor(rng.normal(scale=0.25, size=(2, 3, 17, 3)), dtype=torch.float32)
    truth = truth - truth[..., :1, :]
    keypoints = project(truth + torch.tensor([0.1, 0.3, 3.5]), CAMERA[:, None, None, :2], CAMERA[:, None, None, 2:])
    camera = CAMERA.expand(2, 4)
    wrong = truth.flip(-1)                                     # a different pose, same root
    hypotheses = torch.stack([wrong, truth, wrong * 1.3], dim=1)
    hypotheses[1, 1, 2] = wrong[1, 2]                          # one pose where no hypothesis is right...
    hypotheses[1, 2, 2] = truth[1, 2]                          # ...except the third
    selected, error = select_by_reprojection(hypotheses, keypoints, camera)
    torch.testing.assert_close(selected, truth, atol=1e-5, rtol=0)
    assert error.shape == (2, 3, 3) and float(error.amin(1).max()) < 1e-4


def test_lora_starts_as_the_source_model_trains_only_adapters_and_bias_and_merges_exactly():
    torch.manual_seed(0)
    model = Denoiser(LifterConfig(frames=9, width=32, depth=2, heads=2, architecture="mixste")).eval()
    inputs = (torch.randn(2, 9, 17, 2), torch.randn(2, 9, 17, 3), torch.tensor([999, 10]))
    before = model(*inputs)
    trainable = prepare_for_adaptation(model, lora_rank=4, train_bias=True)
    torch.testing.assert_close(model(*inputs), before)
    adapters = [m for m in model.modules() if isinstance(m, LoRALinear)]
    assert len(adapters) == 2 * 2 * 2                          # qkv and proj, spatial and temporal, 2 blocks
    assert sum(p.numel() for p in trainable) == sum(m.lora_a.numel() + m.lora_b.numel() for m in adapters) + 17 * 3
    with torch.no_grad():
        for m in adapters:
            m.lora_b.normal_(std=0.1)
        model.output_bias.fill_(0.05)
    adapted = model(*inputs)
    assert (adapted - before).abs().max() > 1e-3
    torch.testing.assert_close(merge_lora(model)(*inputs), adapted, atol=1e-5, rtol=1e-5)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    model = Denoiser(LifterConfig(frames=9, width=32, depth=1, heads=2, architecture="mixste"))
    return export_model_dir(model, tmp_path_factory.mktemp("base") / "model", source_rig="robot")


@pytest.fixture(scope="module")
def source_views(tmp_path_factory):
    return render(small_mocap(150), Rig.load("studio"), seed=0).save(tmp_path_factory.mktemp("source") / "studio.npz")


@pytest.fixture(scope="module")
def demo_bag(tmp_path_factory):
    """A real MCAP bag: 24 frames of the bundled clip (a person walking) with camera_info."""
    camera = Intrinsics(FOCAL, FOCAL, CENTRE[0], CENTRE[1], SIZE[0], SIZE[1])
    frames = [(1000.0 + i / 10, rgb) for i, rgb in enumerate(read_frames(24, start=10, step=3))]
    return write_camera_bag(tmp_path_factory.mktemp("bags") / "demo", frames, camera, storage="mcap")


def quick(base_model, source_views, out):
    return ["--base-model", str(base_model), "--source-views", str(source_views), "--out", str(out),
            "--steps", "4", "--batch_size", "4", "--hypotheses", "2"]


def test_adapt_from_a_real_bag_writes_a_model_the_lifter_runs(base_model, source_views, demo_bag, tmp_path, capsys):
    out = tmp_path / "adapted"
    assert adapt_main([str(demo_bag)] + quick(base_model, source_views, out)) == 0
    output = capsys.readouterr()
    assert "camera mount unknown (cannot estimate the camera mount from 2" in output.err   # no /tf_static, 24 frames
    assert "kept (--select_by reprojection)" in output.out or "the output is the base model" in output.out
    assert {p.name for p in out.iterdir()} >= {"lifter.pt", "lifter.onnx", "model.json", "report.json",
                                               "target_views.npz", "adapt_loss.png"}
    assert not out.with_name("adapted.partial").exists()
    card = json.loads((out / "model.json").read_text())
    assert card["adapted_to_cameras"][0]["fx"] == pytest.approx(FOCAL) and card["target_frames"] >= 15
    assert card["model_id"].startswith("adapted-"), card["model_id"]       # named for the folder, not its .partial
    target = CameraViews.load(out / "target_views.npz")
    assert not target.labelled and target.sequences[0].intrinsics.width == SIZE[0]
    backend = open_backend(out)
    pose = backend.lift(np.zeros((2, 9, 17, 2), np.float32))
    assert pose.shape == (2, 9, 17, 3) and np.isfinite(pose).all()
    assert open_backend(out, "torch").name == "torch"            # lifter.pt loads with weights_only too


def test_the_adapted_model_reads_2d_through_its_base_models_filter(source_views, demo_bag, tmp_path):
    """A base model trained behind other One-Euro settings is adapted on target 2D through them, and the
    adapted card names them, so the node feeds the adapted lifter as it was adapted."""
    settings = {"min_cutoff_hz": 6.0, "beta": 2.0}
    filtered_base = export_model_dir(Denoiser(LifterConfig(frames=9, width=32, depth=1, heads=2, architecture="mixste")),
                                     tmp_path / "base", source_rig="robot", train_config={
                                         "smooth_2d": True, "filter_min_cutoff_hz": 6.0, "filter_beta": 2.0})
    node_base = export_model_dir(Denoiser(LifterConfig(frames=9, width=32, depth=1, heads=2, architecture="mixste")),
                                 tmp_path / "node_base", source_rig="robot", train_config={"smooth_2d": True})
    for base, out in ((filtered_base, tmp_path / "filtered"), (node_base, tmp_path / "node")):
        assert adapt_main([str(demo_bag)] + quick(base, source_views, out)) == 0
    assert json.loads((tmp_path / "filtered" / "model.json").read_text())["keypoint_filter"] == settings
    assert open_backend(tmp_path / "filtered").keypoint_filter == settings
    assert open_backend(tmp_path / "node").keypoint_filter == {"min_cutoff_hz": 1.5, "beta": 0.5}
    faster, node = (np.concatenate([s.keypoints_2d for s in CameraViews.load(tmp_path / d / "target_views.npz").sequences])
                    for d in ("filtered", "node"))
    assert faster.shape == node.shape and np.abs(faster - node).max() > 0.5      # pixels: the same detections, filtered otherwise


def test_every_file_adapt_writes_loads_in_every_consumer(base_model, source_views, tmp_path):
    """The lifter.pt of `adapt --views` once held numpy values that torch.load(weights_only) refused."""
    from adaptation import checkpoint
    from adaptation.evaluate import main as evaluate_main
    labelled = render(small_mocap(90), Rig.load("robot"), seed=6)
    labelled_path = labelled.save(tmp_path / "labelled.npz")
    target = labelled.without_labels().save(tmp_path / "target.npz")
    first, second = tmp_path / "first", tmp_path / "second"
    assert adapt_main(["--views", str(target)] + quick(base_model, source_views, first)) == 0
    model, meta = checkpoint.load(first / "lifter.pt")
    assert meta["adapted_to_cameras"] and model.config.frames == 9
    assert evaluate_main(["--model", str(first / "lifter.pt"), "--views", str(labelled_path)]) == 0
    for name in ("torch", "onnxruntime-cpu"):
        assert open_backend(first, name).lift(np.zeros((1, 9, 17, 2), np.float32)).shape == (1, 9, 17, 3)
    assert adapt_main(["--views", str(target)] + quick(first, source_views, second)) == 0      # as --base-model
    assert json.loads((second / "model.json").read_text())["base_model"] == str(first / "lifter.pt")


def mount_bag(path, pitch_deg: float, height_m: float = 1.2):
    """A bag holding only camera_info and /tf_static: base_footprint -> camera_link (pitched) -> optical frame."""
    half = math.radians(pitch_deg) / 2
    camera = Intrinsics(FOCAL, FOCAL, CENTRE[0], CENTRE[1], SIZE[0], SIZE[1])
    return write_camera_bag(path, [], camera, static_transforms=[
        ("base_footprint", "camera_link", [0.1, 0.0, height_m], [0.0, math.sin(half), 0.0, math.cos(half)]),
        ("camera_link", "camera_optical_frame", [0.0, 0.0, 0.0], [-0.5, 0.5, -0.5, 0.5])])


def test_with_a_known_mount_and_no_base_model_the_shipped_level_model_is_adapted(source_views, demo_bag, tmp_path):
    """The product's choice: a camera whose mount is known gets the level model, adapted in the level
    camera, and the node then lifts with it in that camera."""
    out = tmp_path / "adapted"
    bags = [str(demo_bag), str(mount_bag(tmp_path / "tf", pitch_deg=20.0))]
    assert adapt_main(bags + ["--source-views", str(source_views), "--out", str(out),
                              "--steps", "2", "--batch_size", "4", "--hypotheses", "1", "--eval_every", "2"]) == 0
    card = json.loads((out / "model.json").read_text())
    assert card["base_model"].endswith("models/level/lifter.pt") and card["config"]["lifting_camera"] == "level"
    backend = open_backend(out, "onnxruntime-cpu")
    assert backend.lifting_camera == "level" and backend.camera_mount.pitch_deg == pytest.approx(20.0)


def test_a_bag_with_tf_static_gives_the_mount_the_source_is_viewed_through(base_model, source_views, demo_bag, tmp_path, capsys):
    out = tmp_path / "adapted"
    bags = [str(demo_bag), str(mount_bag(tmp_path / "tf", pitch_deg=5.0))]
    assert adapt_main(bags + quick(base_model, source_views, out)) == 0
    assert "camera mount from /tf_static base_footprint -> camera_optical_frame: height 1.20 m, pitch 5.0" in capsys.readouterr().out
    card = json.loads((out / "model.json").read_text())
    assert card["camera_mount"]["pitch_deg"] == pytest.approx(5.0) and card["camera_mount"]["height_m"] == pytest.approx(1.2)
    mount = open_backend(out, "onnxruntime-cpu").camera_mount          # the node sizes people from the floor with it
    assert (mount.height_m, mount.pitch_deg, mount.source) == (pytest.approx(1.2), pytest.approx(5.0), "model.json")
    report = json.loads((out / "report.json").read_text())
    assert report["history"]["mount_augmentation"] is True


def test_without_tf_static_the_mount_is_estimated_from_the_2d_and_logged(base_model, source_views, tmp_path, capsys):
    from fixtures import MOCAP
    from adaptation.views import load_mocap
    people = {"cmu_03": load_mocap(MOCAP)["cmu_03"]}         # 2522 frames of varied motion, seen by two cameras
    target = render(people, Rig.load("head_camera"), seed=2, noise=0.01).without_labels().save(tmp_path / "t.npz")
    out = tmp_path / "adapted"
    assert adapt_main(["--views", str(target)] + quick(base_model, source_views, out)) == 0
    assert "camera mount from estimated: height" in capsys.readouterr().out
    mount = json.loads((out / "model.json").read_text())["camera_mount"]
    assert mount["source"] == "estimated" and abs(mount["pitch_deg"] - 30.0) < 3 and abs(mount["height_m"] - 1.9) < 0.3


@pytest.mark.parametrize("case, message", [
    ("nonsense", "camera mount pitch_deg must be within (-89, 89) degrees, got 95.0"),
    ("contradicts_tf", "contradictory camera mount: --mount and /tf_static base_footprint -> camera_optical_frame disagree (pitch 40.0 vs 5.0 deg)"),
    ("contradicts_2d", "contradicts the target 2D"),
])
def test_a_wrong_or_contradictory_mount_exits_and_writes_nothing(case, message, base_model, source_views, demo_bag,
                                                                tmp_path, capsys):
    out = tmp_path / "out"
    if case == "contradicts_2d":       # head-camera views (30 deg down), told the camera looks 30 deg up
        target = render(small_mocap(150), Rig.load("head_camera"), seed=2).without_labels().save(tmp_path / "t.npz")
        inputs = ["--views", str(target), "--mount", "height_m: 1.9, pitch_deg: -30"]
    else:
        inputs = [str(demo_bag), str(mount_bag(tmp_path / "tf", pitch_deg=5.0)),
                  "--mount", "height_m: 1.2, pitch_deg: " + ("95" if case == "nonsense" else "40")]
    assert adapt_main(inputs + quick(base_model, source_views, out)) == 1
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_name("out.partial").exists()


def test_target_3d_labels_never_reach_the_adapted_weights(base_model, source_views):
    """Random values in the target's 3D leave the adapted weights bit-identical: labels are never read,
    not even by the teacher's pseudo-labels (the public code's leak)."""
    views = render(small_mocap(60), Rig.load("robot"), seed=3)
    source = CameraViews.load(source_views)
    weights = []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        noisy = CameraViews([Sequence(s.name, s.keypoints_2d, s.confidence, s.intrinsics, s.fps,
                                      rng.normal(size=s.keypoints_2d.shape[:1] + (17, 3)).astype(np.float32))
                             for s in views.sequences])
        model, _ = checkpoint.load(base_model / "lifter.pt")
        adapted, _ = adapt(model, source, noisy, AdaptConfig(steps=3, batch_size=4, hypotheses=2, eval_every=1,
                                                              pseudo_labels=True, source_noise=True, select_by="last",
                                                              device="cpu"))
        weights.append(adapted.state_dict())
    base, _ = checkpoint.load(base_model / "lifter.pt")
    assert any(not torch.equal(weights[0][k], v) for k, v in base.state_dict().items())   # it did adapt
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_adaptation_reduces_a_synthetic_camera_shift(tmp_path):
    """A lifter trained on studio views (1.5 m, level) meets a head camera (1.9 m, 30 deg down, wide
    lens): adapting from its 2D and its mount must cut the error there by a fifth at least."""
    from adaptation.evaluate import evaluate
    from adaptation.mount import CameraMount
    from adaptation.train import main as train_main
    mocap = small_mocap(300)
    source = render(mocap, Rig.load("studio"), seed=0, noise=0.01)
    assert train_main(["--train_views", str(source.save(tmp_path / "studio.npz")), "--out_dir", str(tmp_path / "run"),
                       "--steps", "300", "--batch_size", "16", "--eval_every", "300", "--seed", "0",
                       "--model.architecture", "pose_tokens", "--model.width", "128", "--model.depth", "1",
                       "--model.heads", "2"]) == 0
    target = render(mocap, Rig.load("head_camera"), seed=1, noise=0.01)
    model, _ = checkpoint.load(tmp_path / "run" / "final.pt")
    before = evaluate(model, target)["overall"]["mpjpe_mm"]
    rig = Rig.load("head_camera")
    adapted, _ = adapt(model, source, target.without_labels(),
                       AdaptConfig(steps=100, batch_size=16, eval_every=100, select_by="last", device="cpu"),
                       mount=CameraMount(rig.height_m, rig.pitch_deg, rig.roll_deg, "rig"),
                       source_mocap=[clip for subject in mocap.values() for clip in subject.values()])
    after = evaluate(adapted, target, mount=CameraMount(rig.height_m, rig.pitch_deg, rig.roll_deg))["overall"]["mpjpe_mm"]  # as the node
    assert after < 0.8 * before, (before, after)


def empty_frames(count=6):
    return [(10.0 + i / 10, np.full((120, 160, 3), 127, np.uint8)) for i in range(count)]


@pytest.mark.parametrize("case, message", [
    ("topic", "image topic '/wrong' is not in"),
    ("no_info", "no camera_info topic"),
    ("zero_k", "K is missing or all zero"),
    ("nobody", "no person detected in 6 images"),
])
def test_bad_bags_fail_with_a_clear_message(case, message, base_model, source_views, tmp_path, capsys):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    camera = Intrinsics(200.0, 200.0, 80.0, 60.0, 160, 120)
    bag = tmp_path / "bag"
    if case == "no_info":
        store = get_typestore(Stores.ROS2_KILTED)
        with Writer(bag, version=9) as writer:
            writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=store)
    else:  # intrinsics None: camera_info with an all-zero K, as an uncalibrated driver publishes
        write_camera_bag(bag, empty_frames(), None if case == "zero_k" else camera, storage="sqlite3")
    extra = ["--image-topic", "/wrong"] if case == "topic" else []
    assert adapt_main([str(bag)] + extra + quick(base_model, source_views, tmp_path / "out")) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_interrupted_adaptation_never_leaves_a_complete_looking_directory(base_model, tmp_path, capsys):
    views = render(small_mocap(60), Rig.load("robot"), seed=3)
    target = views.without_labels().save(tmp_path / "target.npz")
    unlabelled_source = views.without_labels().save(tmp_path / "source.npz")   # fails after work has started
    out = tmp_path / "out"
    args = ["--views", str(target), "--base-model", str(base_model), "--source-views", str(unlabelled_source),
            "--out", str(out), "--steps", "2"]
    assert adapt_main(args) == 1
    assert "source views need 3D labels" in capsys.readouterr().err
    assert not out.exists()


def test_adapt_runs_data_parallel_with_two_gloo_processes(base_model, source_views, tmp_path):
    target = render(small_mocap(90), Rig.load("robot"), seed=5).without_labels().save(tmp_path / "target.npz")
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29571",
               "-m", "posynda_ros.adapt_cli", "--views", str(target), *quick(base_model, source_views, out)[:-6],
               "--steps", "3", "--batch_size", "4", "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (out / "model.json").is_file() and open_backend(out).name == "onnxruntime-cpu"
