"""The PoSynDA teacher-student loop (paper, Algorithm 1): adapt a source lifter to a target
camera from target 2D only.

Each step draws a labelled source batch and an unlabelled target batch. The source 3D is
re-projected through the target camera at the target people's places (augment.py); when the target
camera's mount is known (adaptation.mount), the source is world-frame mocap viewed through that
mount, so it also shows the target's viewpoint; the whole loop then runs in the camera the
student reads (adaptation.camera: the upright or level twin of the mounted camera), as the node lifts. With
`pseudo_labels` (off by default, see AdaptConfig), a frozen copy of the current student (the
teacher) samples H hypotheses per target window; per pose, the hypothesis that best reprojects onto
the target 2D becomes the pseudo-label (the root comes from the 2D and the intrinsics, never from
labels). The student - LoRA plus the cross-dataset output bias, all else frozen - trains on the
source half (and the pseudo-labelled target half) through the deployed sampler (K=1 from pure
noise, as exported; `deployed_fraction` < 1 mixes in the denoising objective). Every `eval_every`
steps a criterion computed from held-out target 2D only picks the step to keep (`select_by`). Every
component can be switched off for ablations.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from adaptation.augment import MocapClips, align_to_target, detector_noise, mounted_source, repose
from adaptation.camera import project, solve_root
from adaptation.clips import ClipSampler, covering_windows, prepare
from adaptation.dataset import CameraViews, Sequence
from adaptation.diffusion import Sampler, sample_hypotheses
from adaptation.lora import merge_lora, prepare_for_adaptation
from adaptation.mount import CameraMount
from adaptation.plots import plot_curves
from adaptation.skeleton import BONES, JOINT_INDEX, ROOT, SYMMETRIC_BONES
from adaptation.train import lifter_loss, pick_device

CRITERIA = ("reprojection", "spread", "bones", "tilt", "last")


@dataclass
class AdaptConfig:
    steps: int = 500
    batch_size: int = 16            # windows per half (source and target) per process
    lr: float = 1e-3
    hypotheses: int = 3             # H; 1 = no multi-hypothesis selection
    ddim_steps: int = 1             # K for the teacher
    lora_rank: int = 4              # 0 = fine-tune every weight instead of LoRA
    output_bias: bool = True        # the cross-dataset (J x 3) embedding
    augmentation: bool = True       # target-specified source augmentation F
    mount_augmentation: bool = True # view world-frame source mocap through the target mount (when known)
    repose_pitch_deg: float = 0.0   # without a mount: random elevation change of the source, degrees (0 = off)
    # The augmented source 2D carries the source windows' detector noise (augment.detector_noise)
    # instead of being a clean projection: off, as published; on validation it made no consistent
    # difference (benchmarks/README.md, PoSynDA adaptation). `adapt` turns it on for a base model trained on 2D
    # with another noise than the standard renders' (posynda_ros.adapt_cli.with_base_model_noise).
    source_noise: bool = False
    # Teacher pseudo-labels on the target half: off by default. Measured (benchmarks/README.md, PoSynDA adaptation):
    # 1-4.5 mm worse on the synthetic rigs, and on real video (benchmarks/real_video.py --adapt) the
    # loop ran away within 100-200 steps (poses metres wrong in depth, which reprojection cannot see).
    pseudo_labels: bool = False
    # Mirror half of each batch (source and target alike), as in source training; sound with a mount
    # because the loop runs in the upright or level camera, where a mirror image is a camera it could take.
    mirror: bool = True
    deployed_fraction: float = 1.0  # share of each batch trained through the deployed K=1 sampler
    eval_every: int = 50            # steps between criterion evaluations on held-out target 2D
    select_by: str = "reprojection" # reprojection | spread | bones | tilt (needs a mount) | last: the step kept
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.select_by not in CRITERIA:
            raise ValueError(f"select_by must be one of {CRITERIA}, got {self.select_by!r}")
        if not 0.0 <= self.deployed_fraction <= 1.0:
            raise ValueError(f"deployed_fraction must be in [0, 1], got {self.deployed_fraction}")


def select_by_reprojection(hypotheses: torch.Tensor, keypoints: torch.Tensor, camera: torch.Tensor,
                           confidence: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pose, the hypothesis whose reprojection best fits the 2D (Eq. 4).

    hypotheses (B, H, F, J, 3) root-relative; keypoints (B, F, J, 2) and camera (B, 4) normalised.
    Returns the selected poses (B, F, J, 3) and every hypothesis' error (B, H, F).
    """
    b, h = hypotheses.shape[:2]
    kp = keypoints[:, None].expand(b, h, *keypoints.shape[1:])
    f = camera[:, None, None, :2].expand(b, h, keypoints.shape[1], 2)
    c = camera[:, None, None, 2:].expand(b, h, keypoints.shape[1], 2)
    weights = None if confidence is None else confidence[:, None].expand(b, h, *confidence.shape[1:]).clamp_min(1e-3)
    root = solve_root(hypotheses.double(), kp.double(), f.double(), c.double(),
                      None if weights is None else weights.double()).float()
    placed = hypotheses + root[..., None, :]
    reprojected = project(placed, f[..., None, :], c[..., None, :])
    error = (reprojected - kp).norm(dim=-1).mean(-1)                        # (B, H, F)
    error = torch.where(placed[..., 2].amin(-1) > 0, error, torch.full_like(error, float("inf")))
    best = error.argmin(1)                                                   # (B, F)
    index = best[:, None, :, None, None].expand(b, 1, *hypotheses.shape[2:])
    return hypotheses.gather(1, index)[:, 0], error


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def hold_out_for_criterion(views: CameraViews, fraction: float = 0.2) -> tuple[CameraViews, CameraViews]:
    """(adapt on, score the criterion on): every 1/fraction-th sequence held out, or, with fewer
    sequences than that, the last `fraction` of the first sequence's frames."""
    every = max(2, round(1 / fraction))
    if len(views.sequences) >= every:
        return (CameraViews([s for i, s in enumerate(views.sequences) if i % every != every - 1]),
                CameraViews([s for i, s in enumerate(views.sequences) if i % every == every - 1]))
    first = views.sequences[0]
    cut_at = max(1, int(len(first.keypoints_2d) * (1 - fraction)))

    def part(frames: slice, suffix: str) -> Sequence:
        return Sequence(first.name + suffix, first.keypoints_2d[frames], first.confidence[frames], first.intrinsics, first.fps)

    return (CameraViews([part(slice(0, cut_at), "")] + views.sequences[1:]),
            CameraViews([part(slice(cut_at, None), "/criterion")]))


@torch.no_grad()
def target_criteria(model: torch.nn.Module, windows: dict[str, torch.Tensor], hypotheses: int = 3, seed: int = 0,
                    up: np.ndarray | None = None) -> dict[str, float]:
    """Scores from target 2D only (lower is better), on the deployed output (hypothesis 0):
    `reprojection` (x1000, normalised image units) with the root solved from the 2D; `spread` (mm),
    the mean distance of H hypotheses from their mean; `bones` (mm), how much bone lengths change
    within a window plus left/right asymmetry; with the camera's `up` direction (adaptation.mount),
    `tilt` (degrees) between the mean torso direction and up (people stand: a lifter that leans
    everyone the same way is wrong, whichever way they face)."""
    was_training = model.training
    model.eval()
    hyps = sample_hypotheses(Sampler(model, k=1), windows["keypoints_2d"], max(hypotheses, 2),
                             torch.Generator(device=windows["keypoints_2d"].device).manual_seed(seed))
    _, error = select_by_reprojection(hyps[:, :1], windows["keypoints_2d"], windows["camera"], windows["confidence"])
    pose = hyps[:, 0]
    lengths = torch.stack([(pose[..., c, :] - pose[..., p, :]).norm(dim=-1) for p, c in BONES], -1)   # (B,F,bones)
    pairs = [(BONES.index(l), BONES.index(r)) for l, r in SYMMETRIC_BONES]
    asymmetry = torch.stack([(lengths[..., a] - lengths[..., b]).abs() for a, b in pairs], -1).mean()
    scores = {"reprojection": float(error[torch.isfinite(error)].mean()) * 1000,
              "spread": float((hyps - hyps.mean(1, keepdim=True)).norm(dim=-1).mean()) * 1000,
              "bones": float(lengths.std(1).mean() + asymmetry) * 1000}
    if up is not None:
        torso = pose[..., JOINT_INDEX["thorax"], :] - pose[..., ROOT, :]
        mean_torso = (torso / torso.norm(dim=-1, keepdim=True).clamp_min(1e-6)).mean((0, 1))
        cosine = float(mean_torso @ torch.as_tensor(up, dtype=pose.dtype, device=pose.device) / mean_torso.norm())
        scores["tilt"] = float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
    model.train(was_training)
    return scores


def criterion_windows(views: CameraViews, frames: int, limit: int = 256, seed: int = 0) -> dict[str, torch.Tensor]:
    """Up to `limit` windows covering the held-out target sequences (2D, camera, confidence)."""
    windows = covering_windows(prepare(views.without_labels()), frames, ("keypoints_2d", "confidence", "camera"))
    count = len(windows["camera"])
    if count <= limit:
        return windows
    keep = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False)))
    return {k: v[keep] for k, v in windows.items()}


def adapt(student: torch.nn.Module, source_views: CameraViews, target_views: CameraViews, config: AdaptConfig,
          log_dir: Path | None = None, mount: CameraMount | None = None, source_mocap: list[np.ndarray] | None = None,
          monitor: Callable[[torch.nn.Module], dict[str, float]] | None = None) -> tuple[torch.nn.Module, dict]:
    """Adapt `student` (a source lifter, modified in place) to the target camera; returns the merged model
    and a history. Target 3D labels, if any, are dropped before use. With `mount` and `source_mocap`
    (world-frame sequences) the source is viewed through the target mount, and the adapted model reads
    2D turned into the camera it reads (adaptation.camera: upright or level) as the node feeds it. `monitor(model)` - for
    benchmarks only, never used for any choice - is logged at every criterion evaluation.
    Runs under torchrun (DDP) too."""
    if not source_views.labelled:
        raise ValueError("source views need 3D labels: they are what the augmentation re-projects")
    distributed = dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    device = pick_device(config.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(config.seed + rank)
    frames = student.config.frames
    target_views = target_views.without_labels()
    lifting_camera = student.config.lifting_camera
    mounted = config.augmentation and config.mount_augmentation and mount is not None and bool(source_mocap)
    if lifting_camera == "level" and not mounted:
        raise ValueError("a level-camera model adapts only with the camera mount and the mount augmentation (its "
                         "source must be seen through the level camera): give the mount, keep --augmentation and "
                         "--mount_augmentation on, or adapt an upright-camera model (--base-model)")
    if mount is not None:
        target_views, mount = target_views.turned(mount.lifting_rotation(lifting_camera)), mount.turned(lifting_camera)
    adapt_views, heldout_views = hold_out_for_criterion(target_views)
    source = ClipSampler(prepare(source_views), frames, seed=config.seed + 1000 * rank)
    target = ClipSampler(prepare(adapt_views), frames, seed=config.seed + 1000 * rank + 1)
    heldout = {k: v.to(device) for k, v in criterion_windows(heldout_views, frames, seed=config.seed).items()}
    mocap = MocapClips(source_mocap, frames, seed=config.seed + 1000 * rank + 2) if mounted else None

    student = student.to(device)
    trainable = prepare_for_adaptation(student, config.lora_rank or None, config.output_bias)
    if not trainable:
        raise ValueError("nothing to train: enable LoRA, full fine-tuning (lora_rank 0) or the output bias")
    if config.pseudo_labels:     # the teacher: a frozen copy of the student, refreshed every step
        teacher = copy.deepcopy(student).eval().requires_grad_(False)
        teacher_sampler = Sampler(teacher, k=config.ddim_steps)
    trained = torch.nn.parallel.DistributedDataParallel(student) if distributed else student
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    history: dict[str, list] = {"step": [], "loss_mm": [], "reprojection_error": [], "eval_step": [],
                                "mount_augmentation": mounted}
    if config.select_by == "tilt" and mount is None:
        raise ValueError("select_by 'tilt' needs the camera mount (--mount, /tf_static or an estimate from the 2D)")

    def evaluate_criteria(step: int) -> None:
        scores = target_criteria(student, heldout, config.hypotheses, seed=config.seed,
                                 up=mount.up_in_camera() if mount is not None else None)
        history["eval_step"].append(step)
        for name, value in scores.items():
            history.setdefault(f"criterion_{name}", []).append(value)
        for name, value in (monitor(student) if monitor else {}).items():
            history.setdefault(f"monitor_{name}", []).append(value)

    def current_state() -> list[torch.Tensor]:
        return [p.detach().clone() for p in trainable]

    def score() -> float:
        return 0.0 if config.select_by == "last" else history[f"criterion_{config.select_by}"][-1]

    evaluate_criteria(0)
    best_state, best_score, selected_step = current_state(), score(), 0
    running, reprojection = [], []
    student.train()
    bar = tqdm(range(config.steps), desc="adapt", unit="step", disable=not is_main_process())
    for step in bar:
        src = {k: v.to(device) for k, v in source.sample(config.batch_size).items()}
        tgt = {k: v.to(device) for k, v in target.sample(config.batch_size).items()}
        if config.augmentation:
            noise = detector_noise(src) if config.source_noise else None
            if mounted:
                src["pose_3d"] = mounted_source(mocap.sample(config.batch_size), mount).to(device)
            else:
                src["pose_3d"] = repose(src["pose_3d"], config.repose_pitch_deg)
            src["keypoints_2d"] = align_to_target(src["pose_3d"], tgt["keypoints_2d"], tgt["camera"], noise)
        keypoints, poses = [src["keypoints_2d"]], [src["pose_3d"]]
        if config.pseudo_labels:
            teacher.load_state_dict(student.state_dict())     # the teacher is a frozen copy of the current student
            with torch.no_grad():
                hyps = sample_hypotheses(teacher_sampler, tgt["keypoints_2d"], config.hypotheses)
                pseudo, error = select_by_reprojection(hyps, tgt["keypoints_2d"], tgt["camera"], tgt["confidence"])
            keypoints.append(tgt["keypoints_2d"])
            poses.append(pseudo)
            best_error = error.amin(1)
            reprojection.append(float(best_error[torch.isfinite(best_error)].mean()))
        batch = {"keypoints_2d": torch.cat(keypoints), "pose_3d": torch.cat(poses)}
        loss = lifter_loss(trained, batch, flip=config.mirror, deployed_fraction=config.deployed_fraction)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(loss.item() * 1000)
        done = step + 1
        if done % 25 == 0 or done == config.steps:
            history["step"].append(done)
            history["loss_mm"].append(float(np.mean(running)))
            history["reprojection_error"].append(float(np.mean(reprojection)) if reprojection else float("nan"))
            bar.set_postfix(loss_mm=f"{history['loss_mm'][-1]:.1f}")
            running, reprojection = [], []
        if done % config.eval_every == 0 or done == config.steps:
            evaluate_criteria(done)
            if score() <= best_score:
                best_state, best_score, selected_step = current_state(), score(), done
    with torch.no_grad():
        for p, value in zip(trainable, best_state):
            p.copy_(value)
    history["selected_step"] = selected_step
    if log_dir is not None and is_main_process():
        plot_curves(history, Path(log_dir) / "adapt_loss.png", title="PoSynDA adaptation (source + pseudo-labelled target)")
    return merge_lora(student.cpu()).eval(), history
