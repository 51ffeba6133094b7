"""Inference backends behind one interface: TensorRT -> ONNX Runtime CUDA -> ONNX Runtime CPU -> torch.

A backend lifts normalised 2D windows (N, F, 17, 2) with starting noise (N, F, 17, 3) to
root-relative 3D windows (N, F, 17, 3) in metres, and reports its name and timings. `open_backend`
reads a model directory (lifter.onnx, lifter.pt, model.json), checks that the files agree with
each other and with the joint layout, and picks the best backend this machine has.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adaptation.camera import LIFTING_CAMERAS
from adaptation.keypoint_filter import NODE_FILTER, KeypointFilter, node_filter_settings
from adaptation.mount import CameraMount
from adaptation.skeleton import LAYOUT, NUM_JOINTS
from adaptation.uncertainty import UncertaintyCalibration, calibrations_from_card

log = logging.getLogger(__name__)
DEFAULT_MODEL_DIR = Path(__file__).with_name("models") / "default"
LEVEL_MODEL_DIR = DEFAULT_MODEL_DIR.with_name("level")     # the default's recipe in the level camera
PREFERENCE = ("tensorrt", "onnxruntime-cuda", "onnxruntime-cpu", "torch")


class ModelError(ValueError):
    """A model file that is missing, damaged or does not match what the caller expects."""


@dataclass
class Timings:
    calls: int = 0
    total_ms: float = 0.0
    last_ms: float = 0.0
    recent_ms: list[float] = field(default_factory=list)

    def add(self, ms: float) -> None:
        self.calls += 1
        self.total_ms += ms
        self.last_ms = ms
        self.recent_ms = (self.recent_ms + [ms])[-200:]

    @property
    def mean_ms(self) -> float:
        return self.total_ms / max(1, self.calls)


class Backend:
    """Base class: subclasses implement `_run`; `lift` validates, times and returns float32."""

    name = "base"

    def __init__(self, frames: int, model_id: str):
        self.frames = frames
        self.model_id = model_id
        self.timings = Timings()
        self.uncertainty: list[UncertaintyCalibration] = []      # from model.json (one per H), set by open_backend
        self.camera_mount: CameraMount | None = None             # the mount a model was adapted for (model.json)
        self.lifting_camera = "upright"                           # the camera the model reads (model.json config)
        self.keypoint_filter: dict[str, float] = dict(NODE_FILTER)   # the 2D filter in front of it (model.json)

    def lift(self, keypoints_2d: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        """(N, F, J, 2) normalised 2D windows and their starting noise (fresh when None) -> (N, F, J, 3)."""
        expected = (self.frames, NUM_JOINTS, 2)
        if keypoints_2d.ndim != 4 or keypoints_2d.shape[1:] != expected:
            raise ValueError(f"{self.name}: keypoints_2d must be (N, {self.frames}, {NUM_JOINTS}, 2), got {keypoints_2d.shape}")
        if noise is None:
            noise = np.random.default_rng().standard_normal((*keypoints_2d.shape[:-1], 3))
        started = time.perf_counter()
        out = self._run(keypoints_2d.astype(np.float32, copy=False), noise.astype(np.float32, copy=False))
        self.timings.add((time.perf_counter() - started) * 1000)
        return out

    def _run(self, keypoints_2d: np.ndarray, noise: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxRuntimeBackend(Backend):
    def __init__(self, onnx_path: Path, frames: int, model_id: str, cuda: bool = False, threads: int = 0):
        import onnxruntime

        super().__init__(frames, model_id)
        providers = ["CUDAExecutionProvider"] if cuda else []
        if cuda and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise RuntimeError("ONNX Runtime has no CUDA execution provider here")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(onnx_path), options,
                                                        providers=providers + ["CPUExecutionProvider"])
        except Exception as error:  # ORT raises its own exception types
            raise ModelError(f"{onnx_path}: ONNX Runtime cannot load it ({error})") from error
        self.name = "onnxruntime-cuda" if cuda else "onnxruntime-cpu"

    def _run(self, keypoints_2d: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"keypoints_2d": keypoints_2d, "noise": noise})[0]


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, checkpoint_path: Path, k: int, model_id: str, device: str = "cpu", flip: bool = False):
        import torch

        from adaptation import checkpoint
        from adaptation.diffusion import Sampler

        model, _ = checkpoint.load(checkpoint_path, device=device)
        super().__init__(model.config.frames, model_id)
        self.torch, self.device = torch, device
        self.sampler = Sampler(model, k=k, flip=flip).eval()
        self.name = "torch" if device == "cpu" else f"torch-{device}"

    def _run(self, keypoints_2d: np.ndarray, noise: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            out = self.sampler(self.torch.from_numpy(keypoints_2d).to(self.device),
                               self.torch.from_numpy(noise).to(self.device))
        return out.cpu().numpy()


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, onnx_path: Path, frames: int, model_id: str, precision: str = "fp16"):
        import tensorrt
        import torch

        from adaptation.export import build_engine

        super().__init__(frames, model_id)
        engine_path = build_engine(onnx_path, precision)
        runtime = tensorrt.Runtime(tensorrt.Logger(tensorrt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:  # built by another TensorRT or GPU: rebuild instead of crashing
            log.warning("%s does not load with this TensorRT/GPU; rebuilding", engine_path)
            self.engine = runtime.deserialize_cuda_engine(build_engine(onnx_path, precision, force=True).read_bytes())
        self.context = self.engine.create_execution_context()
        self.torch = torch

    def _run(self, keypoints_2d: np.ndarray, noise: np.ndarray) -> np.ndarray:
        torch = self.torch
        inputs = {"keypoints_2d": torch.from_numpy(keypoints_2d).cuda(), "noise": torch.from_numpy(noise).cuda()}
        output = torch.empty(noise.shape, dtype=torch.float32, device="cuda")
        for name, tensor in inputs.items():
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.context.set_tensor_address("pose_3d", output.data_ptr())
        self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
        torch.cuda.current_stream().synchronize()
        return output.cpu().numpy()


def read_card(model_dir: Path) -> dict:
    """model.json of a model directory, checked against the ONNX metadata and the joint layout."""
    card_path = model_dir / "model.json"
    if not card_path.is_file():
        raise ModelError(f"{model_dir}: not a complete model directory (no model.json; an interrupted export?)")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as error:
        raise ModelError(f"{card_path}: not valid JSON ({error})") from error
    if card.get("layout") != LAYOUT or card.get("config", {}).get("joints") != NUM_JOINTS:
        raise ModelError(f"{card_path}: joint layout {card.get('layout')!r} with "
                         f"{card.get('config', {}).get('joints')} joints; this node needs {LAYOUT!r} with {NUM_JOINTS}")
    return card


def check_onnx(onnx_path: Path, frames: int) -> None:
    """Refuse a truncated ONNX file, or one whose window length or joint count differs from the card."""
    import onnx

    try:
        graph = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as error:  # protobuf decode errors
        raise ModelError(f"{onnx_path}: not a readable ONNX model ({error})") from error
    meta = {p.key: p.value for p in graph.metadata_props}
    shape = [d.dim_value or d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    if shape[1:] != [frames, NUM_JOINTS, 2]:
        raise ModelError(f"{onnx_path}: input keypoints_2d is {shape}, but model.json says windows of "
                         f"{frames} frames of {NUM_JOINTS} joints")
    if meta.get("posynda.frames") not in (None, str(frames)):
        raise ModelError(f"{onnx_path}: metadata says {meta['posynda.frames']} frames, model.json says {frames}")


def bundled_model_dir(mount_known: bool) -> Path:
    """The shipped model for a camera: the level model when the camera's mount is known (it lifts
    in the level camera, benchmarks/README.md, "The level camera"), else the default."""
    return LEVEL_MODEL_DIR if mount_known else DEFAULT_MODEL_DIR


def open_backend(model_dir: str | Path | None = None, preference: str = "auto", threads: int = 0) -> Backend:
    """Open the best available backend (or the one named) for a model directory."""
    model_dir = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    card = read_card(model_dir)
    frames, k, model_id = card["config"]["frames"], card.get("ddim_steps", 1), card.get("model_id", model_dir.name)
    onnx_path, pt_path = model_dir / "lifter.onnx", model_dir / "lifter.pt"
    if preference not in ("auto", *PREFERENCE):
        raise ValueError(f"backend must be auto or one of {PREFERENCE}, got {preference!r}")
    if onnx_path.is_file():
        check_onnx(onnx_path, frames)
    try:
        uncertainty = calibrations_from_card(card)
    except (TypeError, ValueError) as error:
        raise ModelError(f"{model_dir / 'model.json'}: bad 'uncertainty' entry ({error})") from error
    entry = card.get("camera_mount")      # written by `adapt`: the mount the model was adapted for
    try:
        mount = CameraMount(*(float(entry[k]) for k in ("height_m", "pitch_deg", "roll_deg")), "model.json") if entry else None
    except (TypeError, KeyError, ValueError) as error:
        raise ModelError(f"{model_dir / 'model.json'}: bad 'camera_mount' entry ({error})") from error
    lifting_camera = card["config"].get("lifting_camera", "upright")     # models exported before it existed: upright
    if lifting_camera not in LIFTING_CAMERAS:
        raise ModelError(f"{model_dir / 'model.json'}: lifting_camera must be one of {LIFTING_CAMERAS}, got {lifting_camera!r}")
    keypoint_filter = node_filter_settings(card)
    try:
        KeypointFilter(**keypoint_filter)
    except (TypeError, ValueError) as error:
        raise ModelError(f"{model_dir / 'model.json'}: bad 2D filter settings (train_config or keypoint_filter: {error})") from error
    candidates = PREFERENCE if preference == "auto" else (preference,)
    failures = []
    for name in candidates:
        try:
            if name == "tensorrt":
                backend = TensorRTBackend(onnx_path, frames, model_id)
            elif name.startswith("onnxruntime"):
                if not onnx_path.is_file():
                    raise ModelError(f"{onnx_path}: missing")
                backend = OnnxRuntimeBackend(onnx_path, frames, model_id, cuda=name.endswith("cuda"), threads=threads)
            else:
                backend = TorchBackend(pt_path, k, model_id, flip=bool(card.get("flip", False)))
            backend.uncertainty, backend.camera_mount, backend.lifting_camera = uncertainty, mount, lifting_camera
            backend.keypoint_filter = keypoint_filter
            return backend
        except ModelError:
            raise
        except (ImportError, RuntimeError, FileNotFoundError) as error:
            failures.append(f"{name}: {error}")
            log.info("backend %s unavailable: %s", name, error)
    raise RuntimeError(f"no lifter backend could be opened for {model_dir}: " + "; ".join(failures))
