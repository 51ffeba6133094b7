"""ONNX export parity, backend selection, and refusal of damaged or mismatched model files."""
import importlib.util
import json
import shutil

import numpy as np
import onnxruntime
import pytest

from adaptation.clips import cut, prepare
from adaptation.export import build_engine, export_model_dir, export_onnx, main as export_main, onnx_parity
from adaptation.model import Denoiser, LifterConfig, build_model
from adaptation.runtime import PREFERENCE, ModelError, open_backend
from adaptation.views import Rig, render

from fixtures import small_mocap

FRAMES = 9


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model = Denoiser(LifterConfig(frames=FRAMES, width=32, depth=2, heads=2, architecture="mixste"))
    return model, export_model_dir(model, tmp_path_factory.mktemp("model") / "tiny", k=2, command="test")


def real_windows(count):
    """Normalised 2D windows of real mocap through the robot rig."""
    sequence = prepare(render(small_mocap(200), Rig.load("robot"), seed=1))[0]
    return np.stack([cut(sequence.keypoints_2d, 10 * i, FRAMES) for i in range(count)])


@pytest.mark.parametrize("batch", [1, 4])
def test_onnx_runtime_matches_pytorch_on_real_windows(model_dir, batch):
    model, directory = model_dir
    windows = real_windows(batch)
    noise = np.random.default_rng(batch).standard_normal((*windows.shape[:-1], 3))
    assert onnx_parity(directory / "lifter.onnx", model, windows, noise, k=2) < 1e-4


def test_a_causal_lifter_stays_causal_in_onnx(tmp_path):
    model = build_model(LifterConfig(frames=FRAMES, width=32, depth=1, heads=2, architecture="pose_tokens", causal=True))
    path = export_onnx(model, tmp_path / "causal.onnx")
    windows = real_windows(2)
    noise = np.random.default_rng(0).standard_normal((*windows.shape[:-1], 3))
    assert onnx_parity(path, model, windows, noise) < 1e-4
    later = windows.copy()
    later[:, 6:] += 0.1
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    run = lambda kp: session.run(None, {"keypoints_2d": kp.astype(np.float32), "noise": noise.astype(np.float32)})[0]
    moved = np.abs(run(later) - run(windows)).max(axis=(0, 2, 3))
    assert (moved[:6] < 1e-5).all() and (moved[6:] > 1e-4).all()


def test_backends_agree_and_auto_picks_one_this_machine_has(model_dir):
    _, directory = model_dir
    assert open_backend(directory).name in PREFERENCE          # whatever this machine offers (GPU or not)
    backend = open_backend(directory, "onnxruntime-cpu")
    torch_backend = open_backend(directory, "torch")
    windows = real_windows(3)
    noise = np.zeros((*windows.shape[:-1], 3))
    np.testing.assert_allclose(backend.lift(windows, noise), torch_backend.lift(windows, noise), atol=1e-4)
    assert backend.timings.calls == 1 and backend.timings.last_ms > 0
    with pytest.raises(ValueError, match=r"keypoints_2d must be \(N, 9, 17, 2\)"):
        backend.lift(windows[:, :5])


def test_a_mirroring_model_is_mirror_symmetric_in_every_backend(model_dir, tmp_path):
    """flip=True (test-time mirroring) travels in model.json and the ONNX graph: every backend gives
    the mirrored pose for the mirrored input, which the plain export does not."""
    from adaptation.skeleton import flip_pose
    model, plain = model_dir
    mirroring = export_model_dir(model, tmp_path / "flip", k=2, flip=True)
    assert json.loads((mirroring / "model.json").read_text())["flip"] is True
    windows = real_windows(2)
    noise = np.zeros((*windows.shape[:-1], 3))
    for name in ("onnxruntime-cpu", "torch"):
        backend = open_backend(mirroring, name)
        pose, mirrored = backend.lift(windows, noise), backend.lift(flip_pose(windows.copy()), noise)
        np.testing.assert_allclose(flip_pose(mirrored.copy()), pose, atol=1e-4)
    plain_backend = open_backend(plain, "onnxruntime-cpu")
    asymmetry = np.abs(flip_pose(plain_backend.lift(flip_pose(windows.copy()), noise).copy()) - plain_backend.lift(windows, noise))
    assert asymmetry.max() > 1e-3


def test_tensorrt_absence_is_reported_and_the_cli_exits_non_zero(model_dir, capsys):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here: its absence cannot be exercised")
    _, directory = model_dir
    with pytest.raises(RuntimeError, match="TensorRT is not installed"):
        build_engine(directory / "lifter.onnx")
    assert export_main(["--onnx", str(directory / "lifter.onnx"), "--tensorrt", "fp16"]) == 1
    assert "TensorRT is not installed" in capsys.readouterr().err


def damaged_copy(directory, tmp_path, change):
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    change(copy)
    return copy


def edit_card(key, value):
    def change(copy):
        card = json.loads((copy / "model.json").read_text())
        card["config"][key] = value
        (copy / "model.json").write_text(json.dumps(card))
    return change


@pytest.mark.parametrize("change, message", [
    (lambda c: (c / "lifter.onnx").write_bytes((c / "lifter.onnx").read_bytes()[:5000]), "lifter.onnx: not a readable ONNX"),
    (edit_card("frames", 27), r"lifter.onnx: input keypoints_2d is .* model.json says windows of 27 frames"),
    (edit_card("joints", 33), "33 joints; this node needs 'h36m17' with 17"),
    (lambda c: (c / "model.json").unlink(), "not a complete model directory"),
])
def test_damaged_or_mismatched_model_files_name_the_file_and_the_problem(model_dir, tmp_path, change, message):
    _, directory = model_dir
    with pytest.raises(ModelError, match=message):
        open_backend(damaged_copy(directory, tmp_path, change))
