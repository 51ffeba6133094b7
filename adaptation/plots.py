"""Pictures people would rather see than read: training curves and 3D skeletons."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from adaptation.skeleton import BONES, LEFT, RIGHT  # noqa: E402


def plot_curves(history: dict[str, list], path: str | os.PathLike, title: str = "") -> Path:
    """Training loss (and validation MPJPE or adaptation criteria, if any) against step, in mm."""
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(history["step"], history["loss_mm"], label="training loss (MPJPE of denoised pose, mm)")
    if history.get("val_step"):
        axis.plot(history["val_step"], history["val_mpjpe_mm"], "o-", label="MPJPE on --val_views (mm, H=1, K=1; monitored, not selected on)")
    for key in sorted(k for k in history if k.startswith(("criterion_", "monitor_"))):   # adaptation
        axis.plot(history["eval_step"], history[key], ".-", label=key.replace("_", " "))
    axis.set_xlabel("step")
    axis.set_ylabel("mm")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    return _finish(figure, axis, path, title)


def _finish(figure, axis, path: str | os.PathLike, title: str) -> Path:
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def draw_skeleton(axis, pose: np.ndarray, color: str = "C0", label: str | None = None) -> None:
    """One (17, 3) camera-frame pose on a 3D axis, drawn with y down as in the image."""
    for parent, child in BONES:
        side = "C3" if child in RIGHT else "C2" if child in LEFT else color
        xs, ys, zs = zip(pose[parent], pose[child])
        axis.plot(xs, zs, [-y for y in ys], color=side if label is None else color, lw=2)
    if label:
        axis.plot([], [], color=color, label=label)


def plot_skeletons(poses: dict[str, np.ndarray], path: str | os.PathLike, title: str = "") -> Path:
    """Several (17, 3) poses overlaid (e.g. prediction vs ground truth), x right, z depth, y up."""
    figure = plt.figure(figsize=(5, 5))
    axis = figure.add_subplot(projection="3d")
    for index, (name, pose) in enumerate(poses.items()):
        draw_skeleton(axis, pose, color=f"C{index}", label=name)
    axis.set_xlabel("x (m)")
    axis.set_ylabel("z (m)")
    axis.set_zlabel("-y (m)")
    return _finish(figure, axis, path, title)
