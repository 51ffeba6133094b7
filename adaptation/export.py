"""Export the lifter to ONNX (and TensorRT where it exists), with parity checks and an engine cache.

The exported graph is `diffusion.Sampler` with its K DDIM steps unrolled; LoRA must already be
merged into the weights and the cross-dataset bias is part of the denoiser. Inputs: the
normalised 2D window `keypoints_2d` (N, F, 17, 2) and the starting `noise` (N, F, 17, 3), so
the caller picks the number of hypotheses by batching; output: `pose_3d` (N, F, 17, 3),
root-relative metres. The model's settings travel in the ONNX metadata.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.diffusion import Sampler
from adaptation.skeleton import LAYOUT, NUM_JOINTS

log = logging.getLogger(__name__)
INPUTS = ("keypoints_2d", "noise")
OUTPUT = "pose_3d"
ENGINE_CACHE = Path(os.environ.get("POSYNDA_ENGINE_CACHE", Path.home() / ".cache" / "posynda_ros" / "engines"))


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, k: int = 1, model_id: str = "",
                flip: bool = False) -> Path:
    """Write the K-step sampler of `model` to `path` (atomically) and return it; with `flip` the graph
    also lifts the mirrored input and averages (test-time mirroring, twice the cost)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sampler = Sampler(model.eval(), k=k, flip=flip).eval()
    frames = model.config.frames
    example = (torch.randn(2, frames, NUM_JOINTS, 2), torch.randn(2, frames, NUM_JOINTS, 3))
    batch = torch.export.Dim("batch", min=1, max=1024)
    partial = path.with_name(path.name + ".partial")
    program = torch.onnx.export(sampler, example, dynamo=True, input_names=list(INPUTS), output_names=[OUTPUT],
                                dynamic_shapes={"keypoints_2d": {0: batch}, "noise": {0: batch}}, verbose=False)
    program.model.metadata_props.update({
        "posynda.format": "posynda-lifter-onnx/1", "posynda.layout": LAYOUT, "posynda.frames": str(frames),
        "posynda.joints": str(NUM_JOINTS), "posynda.ddim_steps": str(k), "posynda.flip": str(flip).lower(), "posynda.model_id": model_id,
        "posynda.config": json.dumps(model.config.to_dict()),
    })
    program.save(str(partial), external_data=False)
    os.replace(partial, path)
    return path


def onnx_parity(onnx_path: str | os.PathLike, model: torch.nn.Module, keypoints_2d: np.ndarray, noise: np.ndarray,
                k: int = 1, flip: bool = False) -> float:
    """Max absolute difference (metres) between ONNX Runtime (CPU) and PyTorch on the same inputs."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (ort_out,) = session.run(None, {"keypoints_2d": keypoints_2d.astype(np.float32), "noise": noise.astype(np.float32)})
    with torch.no_grad():
        torch_out = Sampler(model.eval(), k=k, flip=flip)(torch.from_numpy(keypoints_2d).float(), torch.from_numpy(noise).float())
    return float(np.abs(ort_out - torch_out.numpy()).max())


# --- TensorRT ---------------------------------------------------------------------------------

def engine_cache_key(onnx_path: Path, precision: str, max_batch: int) -> str:
    """hash(ONNX) + TensorRT version + GPU + precision + shapes: an engine is reused only if all match."""
    import tensorrt

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "nogpu"
    parts = [hashlib.sha256(onnx_path.read_bytes()).hexdigest()[:16], f"trt{tensorrt.__version__}",
             gpu.replace(" ", "_"), precision, f"b{max_batch}"]
    return "-".join(parts)


def build_engine(onnx_path: str | os.PathLike, precision: str = "fp16", max_batch: int = 8,
                 cache_dir: Path = ENGINE_CACHE, force: bool = False) -> Path:
    """Build (or reuse from the cache) a TensorRT engine for the ONNX lifter.

    Raises RuntimeError when tensorrt or a CUDA GPU is missing, so callers can fall back.
    """
    try:
        import tensorrt
    except ImportError as error:
        raise RuntimeError("TensorRT is not installed (pip package 'tensorrt'); use ONNX Runtime instead") from error
    if not torch.cuda.is_available():
        raise RuntimeError("TensorRT needs a CUDA GPU and none is visible")
    if precision not in ("fp16", "fp32"):
        raise ValueError(f"precision must be fp16 or fp32, got {precision!r}")
    onnx_path = Path(onnx_path)
    engine_path = Path(cache_dir) / f"{onnx_path.stem}-{engine_cache_key(onnx_path, precision, max_batch)}.engine"
    if engine_path.is_file() and not force:
        return engine_path
    log.warning("building a TensorRT %s engine for %s; this can take minutes (cached at %s)",
                precision, onnx_path, engine_path)
    logger = tensorrt.Logger(tensorrt.Logger.WARNING)
    builder = tensorrt.Builder(logger)
    network = builder.create_network(0)
    parser = tensorrt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"{onnx_path}: TensorRT could not parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    if precision == "fp16":
        config.set_flag(tensorrt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)[1:]
        profile.set_shape(tensor.name, [1, *shape], [1, *shape], [max_batch, *shape])
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"{onnx_path}: TensorRT engine build failed")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    partial = engine_path.with_name(engine_path.name + ".partial")
    partial.write_bytes(bytes(serialized))
    os.replace(partial, engine_path)
    return engine_path


def export_model_dir(model: torch.nn.Module, out_dir: str | os.PathLike, k: int = 1, flip: bool = False, **card) -> Path:
    """A model directory: lifter.pt (checkpoint), lifter.onnx and model.json (the card, with K and flip).
    The model id is the directory's name (its final name when written as '<name>.partial') + a weight hash."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.save(out / "lifter.pt", model, **card)
    name = out.name.removesuffix(".partial")
    model_id = card.get("model_id") or f"{name}-{hashlib.sha256((out / 'lifter.pt').read_bytes()).hexdigest()[:8]}"
    export_onnx(model, out / "lifter.onnx", k=k, model_id=model_id, flip=flip)
    card = checkpoint.json_safe({**card, "model_id": model_id, "ddim_steps": k, "flip": flip, "config": model.config.to_dict(), "layout": LAYOUT})
    partial = out / "model.json.partial"
    partial.write_text(json.dumps(card, indent=1))
    os.replace(partial, out / "model.json")   # written last: its presence marks a complete directory
    return out


def main(argv: list[str] | None = None) -> int:
    """`export_model`: checkpoint -> model directory (ONNX + card), optional TensorRT prebuild."""
    parser = argparse.ArgumentParser(prog="export_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="lifter checkpoint (.pt); default: the shipped model")
    parser.add_argument("--out", help="model directory to write (lifter.pt, lifter.onnx, model.json)")
    parser.add_argument("--steps", type=int, default=1, help="K: DDIM steps unrolled into the graph")
    parser.add_argument("--flip", action="store_true", help="also lift the mirrored input and average (2x cost)")
    parser.add_argument("--tensorrt", choices=["fp16", "fp32"], help="also prebuild a TensorRT engine")
    parser.add_argument("--onnx", help="prebuild a TensorRT engine for this existing ONNX file only")
    parser.add_argument("--source-rig", help="rig the model was trained through (recorded for `adapt`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        if args.onnx:
            print(f"export_model: engine {build_engine(args.onnx, args.tensorrt or 'fp16')}")
            return 0
        if not args.out:
            raise ValueError("--out is required unless --onnx is given")
        model, meta = checkpoint.load(args.model)
        card = {k: v for k, v in meta.items() if k != "model_id"}
        if args.source_rig:
            card["source_rig"] = args.source_rig
        out = export_model_dir(model, args.out, k=args.steps, flip=args.flip, **card)
        frames = model.config.frames
        rng = np.random.default_rng(0)
        error = onnx_parity(out / "lifter.onnx", model, rng.uniform(-0.5, 0.5, (4, frames, NUM_JOINTS, 2)),
                            rng.normal(size=(4, frames, NUM_JOINTS, 3)), k=args.steps, flip=args.flip)
        print(f"export_model: {out} (ONNX vs PyTorch max abs error {error:.2e} m)")
        if args.tensorrt:
            print(f"export_model: engine {build_engine(out / 'lifter.onnx', args.tensorrt)}")
    except (OSError, ValueError, RuntimeError) as error:
        print(f"export_model: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
