"""3D pose metrics: MPJPE, P-MPJPE, PCK@150 mm and AUC (MPI-INF-3DHP, 14 joints), acceleration
error (smoothness against the truth) and rank correlation (for uncertainty calibration).

Inputs are (..., J, 3) arrays in one unit (the evaluation reports millimetres). `mpjpe` also
accepts torch tensors, since it is the training loss.
"""
from __future__ import annotations

import numpy as np

from adaptation.skeleton import PCK_JOINTS

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)


def joint_errors(predicted, target):
    """Euclidean distance per joint (the last axis dropped). For torch, a tiny epsilon keeps the
    gradient finite where the distance is exactly 0 (the zeroed pelvis)."""
    return (((predicted - target) ** 2).sum(-1) + 1e-12).sqrt() if hasattr(predicted, "sqrt") \
        else np.linalg.norm(predicted - target, axis=-1)


def mpjpe(predicted, target):
    """Mean per-joint position error: mean Euclidean distance over joints (and batch)."""
    return joint_errors(predicted, target).mean()


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per pose, the similarity transform (rotation, scale, translation) of `predicted` closest to `target`.

    Rotations only (the reflection a plain SVD may return is removed).
    """
    mu_p = predicted.mean(-2, keepdims=True)
    mu_t = target.mean(-2, keepdims=True)
    p, t = predicted - mu_p, target - mu_t
    norm_p = np.linalg.norm(p, axis=(-2, -1), keepdims=True) + 1e-12
    norm_t = np.linalg.norm(t, axis=(-2, -1), keepdims=True) + 1e-12
    p, t = p / norm_p, t / norm_t
    u, s, vt = np.linalg.svd(np.swapaxes(p, -1, -2) @ t)
    sign = np.sign(np.linalg.det(u @ vt))                   # -1 where the best fit is a reflection
    s[..., -1] *= sign
    u[..., :, -1] *= sign[..., None]
    rotation = u @ vt
    scale = s.sum(-1)[..., None, None] * norm_t / norm_p
    return scale * (p * norm_p) @ rotation + mu_t


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after per-pose Procrustes alignment."""
    return float(np.linalg.norm(procrustes_align(predicted, target) - target, axis=-1).mean())


def pck(predicted: np.ndarray, target: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> float:
    """Percentage of the 14 PCK joints within `threshold` (same unit as the poses), in %."""
    errors = np.linalg.norm(predicted - target, axis=-1)[..., list(PCK_JOINTS)]
    return float((errors <= threshold).mean() * 100)


def auc(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean PCK over thresholds 0, 5, ..., 150 mm, in % (poses in mm)."""
    return float(np.mean([pck(predicted, target, th) for th in AUC_THRESHOLDS_MM]))


def all_metrics(predicted_mm: np.ndarray, target_mm: np.ndarray) -> dict[str, float]:
    """Every metric for root-relative poses in millimetres, frame-weighted."""
    return {
        "mpjpe_mm": float(mpjpe(predicted_mm, target_mm)),
        "p_mpjpe_mm": p_mpjpe(predicted_mm, target_mm),
        "pck150": pck(predicted_mm, target_mm),
        "auc": auc(predicted_mm, target_mm),
        "frames": int(np.prod(predicted_mm.shape[:-2])),
    }


def acceleration(poses):
    """Per-joint second difference of a sequence (T, ..., 3) -> (T-2, ..., 3), units per frame^2
    (numpy or torch)."""
    return poses[2:] - 2 * poses[1:-1] + poses[:-2]


def acceleration_error(predicted: np.ndarray, target: np.ndarray) -> tuple[float, int]:
    """Mean norm of the acceleration difference (HMR/VIBE's 'accel error') of one sequence (T, J, 3),
    and how many frames it averages (T-2; 0 for sequences under 3 frames)."""
    if len(predicted) < 3:
        return 0.0, 0
    return float(np.linalg.norm(acceleration(predicted) - acceleration(target), axis=-1).mean()), len(predicted) - 2


def sequences_acceleration_error(predicted: list[np.ndarray], target: list[np.ndarray]) -> float:
    """acceleration_error over several sequences, each weighted by the frames it averages (nan if none has 3)."""
    errors = [acceleration_error(p, t) for p, t in zip(predicted, target)]
    frames = sum(n for _, n in errors)
    return sum(e * n for e, n in errors) / frames if frames else float("nan")


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long 1D arrays (ties broken by order)."""
    ranks_a = np.argsort(np.argsort(a)).astype(np.float64)
    ranks_b = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])
