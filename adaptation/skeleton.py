"""Human3.6M-17 joints in VideoPose3D order: the one joint convention of the project.

Every array of joints in the code base is (..., 17, C) in this order. Other layouts
(MediaPipe's 33 landmarks, 3DHP) are converted at the edges by their own modules.
"""
from __future__ import annotations

import numpy as np

LAYOUT = "h36m17"

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
    "spine", "thorax", "neck_nose", "head",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
ROOT = JOINT_INDEX["pelvis"]

# Parent of each joint in the kinematic tree (-1 for the root).
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

LEFT: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
RIGHT: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

# Mirror permutation: joint i of a mirrored pose is joint FLIP_PERMUTATION[i] of the original.
FLIP_PERMUTATION: tuple[int, ...] = tuple(
    RIGHT[LEFT.index(i)] if i in LEFT else LEFT[RIGHT.index(i)] if i in RIGHT else i
    for i in range(NUM_JOINTS)
)

# (left bone, its right twin) pairs, in BONES' (parent, child) form.
SYMMETRIC_BONES: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = tuple(
    (bone, (FLIP_PERMUTATION[bone[0]], FLIP_PERMUTATION[bone[1]])) for bone in BONES if bone[1] in LEFT
)

# The 14 joints scored by PCK/AUC (MPI-INF-3DHP protocol): no pelvis, spine or head top.
PCK_JOINTS: tuple[int, ...] = tuple(
    i for i in range(NUM_JOINTS) if JOINT_NAMES[i] not in ("pelvis", "spine", "head")
)


def check_joints(array: np.ndarray, name: str = "array", channels: int | None = None) -> None:
    """Raise ValueError naming `name` unless `array` is (..., 17, C) with finite values."""
    if array.ndim < 2 or array.shape[-2] != NUM_JOINTS:
        raise ValueError(
            f"{name}: expected shape (..., {NUM_JOINTS}, C) in the {LAYOUT} layout, got {array.shape}"
        )
    if channels is not None and array.shape[-1] != channels:
        raise ValueError(f"{name}: expected {channels} channels per joint, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=-1).sum())
        raise ValueError(f"{name}: {bad} joints hold NaN or infinite values")


def root_relative(pose: np.ndarray) -> np.ndarray:
    """Subtract the pelvis from every joint (works for numpy arrays and torch tensors)."""
    return pose - pose[..., ROOT : ROOT + 1, :]


def flip_pose(pose, x_axis: int = 0):
    """Mirror a pose (numpy or torch, (..., 17, C)): negate x and swap left/right joints."""
    mirrored = pose[..., list(FLIP_PERMUTATION), :]  # advanced indexing copies
    mirrored[..., x_axis] = -mirrored[..., x_axis]
    return mirrored


def swap_left_right(values):
    """Exchange the left and right joints of (..., 17, C) values (labels only; no mirroring)."""
    return values[..., list(FLIP_PERMUTATION), :]


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """Length of each bone in BONES order, (..., 16)."""
    parents = [p for p, _ in BONES]
    children = [c for _, c in BONES]
    return np.linalg.norm(pose[..., children, :] - pose[..., parents, :], axis=-1)


def trunk_inclination_deg(poses: np.ndarray, up: np.ndarray) -> np.ndarray:
    """How far the pelvis->thorax direction of (..., J, 3) poses tilts from `up`, in any direction (degrees)."""
    torso = poses[..., JOINT_INDEX["thorax"], :] - poses[..., ROOT, :]
    return np.degrees(np.arccos(np.clip(torso @ up / np.linalg.norm(torso, axis=-1), -1.0, 1.0)))


def rescale_bones(pose, scales):
    """Poses (..., 17, 3) with each bone's length multiplied by `scales` (..., 16, in BONES order),
    directions and root kept: a person of other proportions in the same posture. numpy or torch."""
    out = pose * 0
    for b, (parent, child) in enumerate(BONES):   # every parent precedes its children in BONES
        out[..., child, :] = out[..., parent, :] + scales[..., b, None] * (pose[..., child, :] - pose[..., parent, :])
    return out + pose[..., ROOT : ROOT + 1, :]
