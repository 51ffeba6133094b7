"""Source training of a lifter on labelled camera views (the `train` CLI).

Each step: random windows, optional mirror and bone-length augmentation, MPJPE loss (`lifter_loss`): a fraction
of every batch (`deployed_fraction`) goes through the deployed K=1 sampler from pure noise, the
rest is the denoising objective (a random diffusion step t, the root-relative 3D noised and
predicted back). The controls
(model.architecture mlp, model.objective regression) train through the same loop.
Validation (`val_views`: subjects never trained on, never the test subjects) is scored on every
frame of it every `eval_every` steps in the deployment setting (a sample of windows was too noisy
to choose by); `best.pt` is the checkpoint with the lowest validation MPJPE, `final.pt` the last. Progress bar, checkpoints with resume, a loss-curve PNG,
seeded. CPU or CUDA.
`causal_weight` adds the loss of the node's default use (`causal_loss`): only the newest frame of each
window is published, each from its own window, so the error and the jitter of that frame are what a
robot sees. `init_from` fine-tunes an existing lifter instead of starting from random weights.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from adaptation import augment, checkpoint, diffusion
from adaptation.clips import ClipSampler, covering_windows, prepare
from adaptation.dataset import CameraViews
from adaptation.keypoint_filter import NODE_BETA, NODE_MIN_CUTOFF_HZ, as_fed
from adaptation.metrics import acceleration, joint_errors, mpjpe
from adaptation.model import LifterConfig, build_model
from adaptation.plots import plot_curves
from adaptation.skeleton import flip_pose


@dataclass
class TrainConfig:
    train_views: str = ""                 # labelled camera-view dataset(s), comma separated
    val_views: str = ""                   # validation views (held-out subjects): best.pt is chosen on them
    out_dir: str = "runs/train"
    steps: int = 5000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    flip_augmentation: bool = True
    bone_jitter: float = 0.0              # each window's bone lengths x U(1 -+ this), 2D re-projected (augment.vary_proportions)
    keypoint_shift_m: float = 0.0         # each window's 2D from joints moved by N(0, this) m (augment.shift_keypoints)
    smooth_2d: bool = False               # train and validate on 2D through the node's One-Euro filter (adaptation.keypoint_filter)
    filter_min_cutoff_hz: float = NODE_MIN_CUTOFF_HZ   # that filter's settings (the model card carries them to the node)
    filter_beta: float = NODE_BETA
    deployed_fraction: float = 0.9        # share of each batch trained through the deployed sampler (chosen on validation)
    squared_denoising: bool = False       # the denoising part's loss squared (score matching: its optimum is the posterior mean)
    ema_decay: float = 0.0                # > 0: validate and save an exponential moving average of the weights
    causal_weight: float = 0.0            # > 0: add causal_loss (the newest frame, as the node publishes it) x this
    causal_acceleration: float = 1.0      # the weight of causal_loss's acceleration term (0: the newest frame's position only)
    init_from: str = ""                   # a lifter checkpoint to fine-tune (its weights must fit `model`)
    sampler_steps: int = 1                # K: DDIM steps of the deployed sampler, in training and validation (export with the same K)
    eval_every: int = 500
    seed: int = 0
    device: str = "auto"                  # auto | cpu | cuda
    threads: int = 0                      # CPU threads (0: torch default)
    resume: bool = True                   # continue from out_dir/last.pt if present
    model: LifterConfig = field(default_factory=LifterConfig)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device(name)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress))))


def load_views(paths: str) -> CameraViews:
    views = CameraViews([s for p in paths.split(",") if p for s in CameraViews.load(p).sequences])
    if not views.labelled:
        raise ValueError(f"{paths}: training needs 3D labels (keypoints_3d) in every sequence")
    return views


def mirrored_at_random(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(2D, 3D) of the batch with half of its windows, drawn at random, mirrored (left and right swapped)."""
    kp, pose = batch["keypoints_2d"], batch["pose_3d"]
    mirror = (torch.rand(kp.shape[0], device=kp.device) < 0.5)[:, None, None, None]
    return torch.where(mirror, flip_pose(kp), kp), torch.where(mirror, flip_pose(pose), pose)


def lifter_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], flip: bool,
                deployed_fraction: float = 0.0, k: int = 1, squared_denoising: bool = False) -> torch.Tensor:
    """MPJPE (metres) of the predicted clean pose. A `deployed_fraction` of the windows goes through
    the deployed sampler (K DDIM steps from pure noise, as exported); the rest is the denoising
    objective: predict the pose back from a copy noised at a random step. `squared_denoising` squares
    that part's joint errors (m^2): the mean, not the median, is then the optimum at every step,
    which is what DDIM assumes to sample the posterior."""
    kp, pose = mirrored_at_random(batch) if flip else (batch["keypoints_2d"], batch["pose_3d"])
    deployed = torch.rand(kp.shape[0], device=kp.device) < deployed_fraction
    parts = []                                          # (predicted, target, keep the joint errors squared)
    if deployed.any():
        parts.append((diffusion.Sampler(model, k=k)(kp[deployed], torch.randn_like(pose[deployed])), pose[deployed], False))
    if not deployed.all():
        kp, pose = kp[~deployed], pose[~deployed]
        t = torch.randint(0, diffusion.STEPS, (kp.shape[0],), device=kp.device)
        parts.append((model(kp, diffusion.add_noise(pose, t, torch.randn_like(pose)), t), pose, squared_denoising))
    errors = []                                         # per joint: metres, or m^2 where kept squared
    for predicted, target, keep_squared in parts:
        errors.append((((predicted - target) ** 2).sum(-1) if keep_squared else joint_errors(predicted, target)).flatten())
    return torch.cat(errors).mean()


def causal_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], flip: bool, k: int = 1,
                acceleration_weight: float = 1.0) -> torch.Tensor:
    """The node's causal windows (adaptation.clips 'causal'): each frame is published from the window
    that ends at it. On windows of F+2 frames, the three F-frame windows ending at the last three frames
    go through the deployed sampler with one noise draw (a track keeps its noise); the loss is the joint
    distance of their newest frames to the truth plus, times `acceleration_weight`, that of their
    acceleration (metres, m/frame^2)."""
    kp, pose = mirrored_at_random(batch) if flip else (batch["keypoints_2d"], batch["pose_3d"])
    frames = kp.shape[1] - 2
    windows = torch.cat([kp[:, i:i + frames] for i in range(3)])
    noise = torch.randn_like(pose[:, :frames]).repeat(3, 1, 1, 1)
    newest = diffusion.Sampler(model, k=k)(windows, noise)[:, -1].reshape(3, *pose.shape[:1], *pose.shape[2:])
    truth = pose[:, frames - 1:].transpose(0, 1)                      # (3, B, J, 3), the same frames
    return mpjpe(newest, truth) + acceleration_weight * mpjpe(acceleration(newest), acceleration(truth))


@torch.no_grad()
def validate(model: torch.nn.Module, batch: dict[str, torch.Tensor], chunk: int = 256, k: int = 1) -> float:
    """MPJPE in mm with one hypothesis and K DDIM steps (the deployment setting), fixed noise."""
    model.eval()
    sampler = diffusion.Sampler(model, k=k)
    noise = torch.randn(batch["pose_3d"].shape, generator=torch.Generator().manual_seed(0)).to(batch["pose_3d"].device)
    errors = [float(mpjpe(sampler(batch["keypoints_2d"][i:i + chunk], noise[i:i + chunk]), batch["pose_3d"][i:i + chunk]))
              * len(noise[i:i + chunk]) for i in range(0, len(noise), chunk)]
    model.train()
    return sum(errors) / len(noise) * 1000


def train(config: TrainConfig, command: str = "") -> Path:
    """Run (or resume) a training; returns best.pt (lowest validation MPJPE) or, without
    validation views, final.pt."""
    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"train_config": dataclasses.asdict(config), "command": command}
    window = config.model.frames + (2 if config.causal_weight > 0 else 0)   # causal_loss needs two frames more
    train_set = ClipSampler(prepare(as_fed(load_views(config.train_views), meta)), window, config.seed)
    val_batch = None
    if config.val_views:
        val_views = prepare(as_fed(load_views(config.val_views), meta))
        val_batch = {k: v.to(device) for k, v in covering_windows(val_views, config.model.frames).items()}

    model = build_model(config.model).to(device)
    if config.init_from:
        start_model, _ = checkpoint.load(config.init_from, device=str(device))
        try:        # settings that keep the weights' shapes (dropout, causal attention) may change
            model.load_state_dict(start_model.state_dict())
        except RuntimeError:
            raise ValueError(f"{config.init_from}: its weights ({start_model.config}) do not fit the model "
                             f"asked for ({config.model})") from None
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay)) if config.ema_decay > 0 else None
    kept = ema.module if ema is not None else model      # the weights validated and saved
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    history: dict[str, list] = {"step": [], "loss_mm": [], "val_step": [], "val_mpjpe_mm": [], "val_seconds": []}
    start = 0
    last = out / "last.pt"
    if config.resume and last.is_file():
        state = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_rng"])
        train_set.rng.bit_generator.state = state["numpy_rng"]
        start, history = state["step"], state["history"]
        print(f"train: resuming from {last} at step {start}")

    model.train()
    running = []
    seconds_before = history.get("val_seconds", [0.0])[-1] if history.get("val_seconds") else 0.0
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc="train", unit="step")
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        batch = {k: v.to(device) for k, v in train_set.sample(config.batch_size).items()}
        if config.bone_jitter > 0:
            batch = augment.vary_proportions(batch, config.bone_jitter)
        if config.keypoint_shift_m > 0:
            batch = augment.shift_keypoints(batch, config.keypoint_shift_m)
        last_window = {k: v if k == "camera" else v[:, -config.model.frames:] for k, v in batch.items()}
        loss = lifter_loss(model, last_window, config.flip_augmentation, config.deployed_fraction, config.sampler_steps,
                           config.squared_denoising)
        if config.causal_weight > 0:
            loss = loss + config.causal_weight * causal_loss(model, batch, config.flip_augmentation, config.sampler_steps,
                                                             config.causal_acceleration)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(model)
        running.append((loss.item() ** 0.5 if config.squared_denoising else loss.item()) * 1000)   # mm (RMS if squared)
        done = step + 1
        if done % 50 == 0 or done == config.steps:
            history["step"].append(done)
            history["loss_mm"].append(float(np.mean(running)))
            bar.set_postfix(loss_mm=f"{history['loss_mm'][-1]:.1f}")
            running = []
        if done % config.eval_every == 0 or done == config.steps:
            if val_batch is not None:
                val = validate(kept, val_batch, k=config.sampler_steps)
                if not history["val_mpjpe_mm"] or val < min(history["val_mpjpe_mm"]):
                    checkpoint.save(out / "best.pt", kept, step=done, val_mpjpe_mm=val, **meta)
                history["val_step"].append(done)
                history["val_mpjpe_mm"].append(val)
                history.setdefault("val_seconds", []).append(round(seconds_before + bar.format_dict["elapsed"], 1))
                bar.write(f"step {done}: validation MPJPE {val:.1f} mm (best {min(history['val_mpjpe_mm']):.1f})")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": done,
                        "ema": ema.state_dict() if ema is not None else None,
                        "history": history, "torch_rng": torch.get_rng_state(),
                        "numpy_rng": train_set.rng.bit_generator.state}, out / "last.pt.partial")
            Path(out / "last.pt.partial").replace(last)
            plot_curves(history, out / "loss.png", title=f"training {out.name}")
    final = checkpoint.save(out / "final.pt", kept, step=config.steps, **meta)
    (out / "history.json").write_text(json.dumps(history, indent=1))
    return out / "best.pt" if (out / "best.pt").is_file() else final


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    """One --option per dataclass field (nested dataclasses get a prefix), defaults from the class."""
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            add_dataclass_arguments(parser, type(default), prefix=f"{f.name}.")
        elif isinstance(default, bool):
            parser.add_argument(f"--{prefix}{f.name}", type=lambda v: v.lower() in ("1", "true", "yes"),
                                default=default, metavar="BOOL")
        else:
            parser.add_argument(f"--{prefix}{f.name}", type=type(default), default=default)


def config_from_arguments(args: argparse.Namespace, cls, prefix: str = ""):
    values = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            values[f.name] = config_from_arguments(args, type(default), prefix=f"{f.name}.")
        else:
            values[f.name] = getattr(args, f"{prefix}{f.name}")
    return cls(**values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(argv)
    config = config_from_arguments(args, TrainConfig)
    command = "train " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.time()
    try:
        if not config.train_views:
            raise ValueError("--train_views is required")
        path = train(config, command)
    except (OSError, ValueError) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 1
    print(f"train: done in {time.time() - started:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
