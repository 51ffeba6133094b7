"""The node's filters, as one place: a One-Euro filter (Casiez et al. 2012) on each track's
keypoints. Detectors run image by image and jitter; the node smooths every track's 2D before it
enters the lifter's window. Training (`train --smooth_2d`) and the benchmarks pass their 2D
through the same filter, so a lifter sees its 2D as the node will feed it. (On the lifter's 3D
output it lagged more than it steadied: benchmarks/pose_smoothing.py.)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from adaptation.dataset import CameraViews


NODE_MIN_CUTOFF_HZ = 1.5    # the node's One-Euro settings for a lifter whose card names none (every model before
NODE_BETA = 0.5             # session 19); a model trained behind other settings carries its own (filter_settings)
NODE_FILTER = {"min_cutoff_hz": NODE_MIN_CUTOFF_HZ, "beta": NODE_BETA}


class KeypointFilter:
    """One-Euro filter on one track's (J, D) keypoints (2D, or root-relative 3D): a low-pass whose
    cutoff rises with speed, so a still person stops jittering while a fast limb does not lag. Speed
    is measured in person sizes per second (RMS distance of the joints from the pelvis, joint 0), so
    the same settings fit near and far people and any image size."""

    def __init__(self, min_cutoff_hz: float = NODE_MIN_CUTOFF_HZ, beta: float = NODE_BETA, derivative_cutoff_hz: float = 1.0):
        if min_cutoff_hz <= 0 or beta < 0 or derivative_cutoff_hz <= 0:
            raise ValueError(f"One-Euro settings must be positive: {min_cutoff_hz}, {beta}, {derivative_cutoff_hz}")
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff_hz, beta, derivative_cutoff_hz
        self.reset()

    def describe(self) -> str:
        return f"{self.min_cutoff:g} Hz minimum cutoff, beta {self.beta:g}"

    def reset(self) -> None:
        self.value: np.ndarray | None = None
        self.derivative: np.ndarray | None = None
        self.stamp_s: float | None = None

    @staticmethod
    def _alpha(cutoff_hz, dt: float):
        tau = 1.0 / (2 * np.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, keypoints: np.ndarray, stamp_s: float) -> np.ndarray:
        if self.value is None or self.stamp_s is None or stamp_s <= self.stamp_s:
            self.value, self.derivative, self.stamp_s = keypoints.astype(np.float64), np.zeros_like(keypoints, np.float64), stamp_s
            return keypoints
        dt = stamp_s - self.stamp_s
        size = max(float(np.sqrt(((keypoints - keypoints[:1]) ** 2).sum(-1).mean())), 1e-6)
        raw_derivative = (keypoints - self.value) / dt
        self.derivative += self._alpha(self.derivative_cutoff, dt) * (raw_derivative - self.derivative)
        speed = np.linalg.norm(self.derivative, axis=-1, keepdims=True) / size            # person sizes per second
        self.value = self.value + self._alpha(self.min_cutoff + self.beta * speed, dt) * (keypoints - self.value)
        self.stamp_s = stamp_s
        return self.value.copy()


def smooth_sequence(keypoints: np.ndarray, fps: float, **settings: float) -> np.ndarray:
    """A whole (T, J, D) track through a fresh KeypointFilter(**settings) (what the node does frame by frame)."""
    keypoint_filter = KeypointFilter(**settings)
    return np.stack([keypoint_filter(k, t / fps) for t, k in enumerate(keypoints)])


def filter_settings(meta: dict) -> dict[str, float] | None:
    """The KeypointFilter settings a lifter - its checkpoint metadata or model card - was trained behind
    (`train --smooth_2d`, `--filter_min_cutoff_hz`, `--filter_beta`; an adapted model's card names its
    base model's as `keypoint_filter`), so is to be fed, adapted and scored through; None for raw 2D."""
    if "keypoint_filter" in meta:
        return meta["keypoint_filter"]
    config = meta.get("train_config", {})
    if not config.get("smooth_2d"):
        return None
    return {"min_cutoff_hz": float(config.get("filter_min_cutoff_hz", NODE_MIN_CUTOFF_HZ)),
            "beta": float(config.get("filter_beta", NODE_BETA))}


def node_filter_settings(meta: dict) -> dict[str, float]:
    """What the node runs in front of a lifter: the filter it was trained behind, else the node's defaults
    (the node smooths every track's 2D, whatever the model); always both settings, so equal filters compare equal."""
    return dict(filter_settings(meta) or NODE_FILTER)


def as_fed(views: CameraViews, meta: dict) -> CameraViews:
    """Views as a lifter with this metadata or card was trained on them: through its filter, or raw."""
    settings = filter_settings(meta)
    return smoothed_views(views, **settings) if settings is not None else views


def smoothed_views(views: CameraViews, **settings: float) -> CameraViews:
    """Every sequence's 2D through a fresh KeypointFilter(**settings) at its own frame rate, as the node would see it."""
    return CameraViews([dataclasses.replace(s, keypoints_2d=smooth_sequence(s.keypoints_2d, s.fps, **settings).astype(s.keypoints_2d.dtype))
                        for s in views.sequences])
