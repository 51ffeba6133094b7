"""The PoSynDA teacher-student loop (paper, Algorithm 1): adapt a source lifter to a target
camera from target 2D only.

Each step draws a labelled source batch and an unlabelled target batch. The source 3D is
re-projected through the target camera at the target people's places (augment.py). A frozen
copy of the current student (the teacher) samples H hypotheses per target window; per pose, the
hypothesis that best reprojects onto the target 2D becomes the pseudo-label (the root comes from
the 2D and the intrinsics, never from labels). The student - LoRA on the attention projections
plus the cross-dataset output bias, all else frozen - trains on both halves with the diffusion
MPJPE loss. Every component can be switched off for ablations.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from adaptation.augment import align_to_target, repose
from adaptation.camera import project, solve_root
from adaptation.clips import ClipSampler, prepare
from adaptation.dataset import CameraViews
from adaptation.diffusion import Sampler, sample_hypotheses
from adaptation.lora import merge_lora, prepare_for_adaptation
from adaptation.model import Denoiser
from adaptation.plots import plot_curves
from adaptation.train import diffusion_loss, pick_device


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
    repose_pitch_deg: float = 0.0   # re-posing: random elevation change of the source, degrees (0 = off, as in the paper)
    pseudo_labels: bool = True      # teacher pseudo-labels on the target half
    seed: int = 0
    device: str = "auto"


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


def adapt(student: Denoiser, source_views: CameraViews, target_views: CameraViews, config: AdaptConfig,
          log_dir: Path | None = None) -> tuple[Denoiser, dict]:
    """Adapt `student` (a source lifter, modified in place) to the target camera; returns the merged model
    and a history. Target 3D labels, if any, are dropped before use. Runs under torchrun (DDP) too."""
    if not source_views.labelled:
        raise ValueError("source views need 3D labels: they are what the augmentation re-projects")
    distributed = dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    device = pick_device(config.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(config.seed + rank)
    frames = student.config.frames
    source = ClipSampler(prepare(source_views), frames, seed=config.seed + 1000 * rank)
    target = ClipSampler(prepare(target_views.without_labels()), frames, seed=config.seed + 1000 * rank + 1)

    student = student.to(device)
    trainable = prepare_for_adaptation(student, config.lora_rank or None, config.output_bias)
    if not trainable:
        raise ValueError("nothing to train: enable LoRA, full fine-tuning (lora_rank 0) or the output bias")
    teacher = copy.deepcopy(student).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher_sampler = Sampler(teacher, k=config.ddim_steps)
    trained = torch.nn.parallel.DistributedDataParallel(student) if distributed else student
    optimizer = torch.optim.Adam(trainable, lr=config.lr)
    history: dict[str, list] = {"step": [], "loss_mm": [], "reprojection_error": []}
    running, reprojection = [], []
    student.train()
    bar = tqdm(range(config.steps), desc="adapt", unit="step", disable=not is_main_process())
    for step in bar:
        src = {k: v.to(device) for k, v in source.sample(config.batch_size).items()}
        tgt = {k: v.to(device) for k, v in target.sample(config.batch_size).items()}
        if config.augmentation:
            src["pose_3d"] = repose(src["pose_3d"], config.repose_pitch_deg)
            src["keypoints_2d"] = align_to_target(src["pose_3d"], tgt["keypoints_2d"], tgt["camera"])
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
        loss = diffusion_loss(trained, batch, flip=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(loss.item() * 1000)
        if (step + 1) % 25 == 0 or step + 1 == config.steps:
            history["step"].append(step + 1)
            history["loss_mm"].append(float(np.mean(running)))
            history["reprojection_error"].append(float(np.mean(reprojection)) if reprojection else float("nan"))
            bar.set_postfix(loss_mm=f"{history['loss_mm'][-1]:.1f}")
            running, reprojection = [], []
    if log_dir is not None and is_main_process():
        plot_curves(history, Path(log_dir) / "adapt_loss.png", title="PoSynDA adaptation (source + pseudo-labelled target)")
    return merge_lora(student.cpu()).eval(), history

