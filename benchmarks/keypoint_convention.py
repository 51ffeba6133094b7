"""Where MediaPipe puts shoulders and hips against where the mocap does, and what it costs on real video.

    .venv/bin/python benchmarks/keypoint_convention.py

A detector's "shoulder" is not a mocap shoulder joint centre. The lifter learns the mocap's
placement from the training renders and reads MediaPipe's 2D at run time; the real-video pseudo
truth is MediaPipe's 2D triangulated, so it has MediaPipe's placement.
1. Proportions (medians of shoulder width / torso and hip width / torso; torso = pelvis to thorax):
   the bundled mocap per subject; MediaPipe's own 3D (pose_world_landmarks) on the bundled
   Sports2D clip; the Pose2Sim pseudo truth and MediaPipe's 3D on those frames.
2. A fixed map from MediaPipe's placement to the mocap's: shoulders and hips moved apart (or
   together) about their midpoints by the ratio of the mocap's mean proportion to MediaPipe's on
   the Sports2D clip (never the benchmark). Pelvis, thorax and so every other built joint stay put.
   The shipped models, lifted as the node lifts with each view's mount (H=3, causal windows), on the
   Pose2Sim benchmark (benchmarks/real_video.py), three ways:
   - as it is: MediaPipe's 2D in, the truth in MediaPipe's placement;
   - mapped throughout: the map applied to every detection (the 2D the lifter reads, the triangulated
     truth, MediaPipe's 3D): does the lifter lift mocap-like 2D any better?
   - mapped in and back: the lifter reads mapped 2D, its 3D is mapped back to MediaPipe's placement
     and scored against the truth as it is.
   P-MPJPE only: it is free of scale, so the floor sizing does not enter.
Writes benchmarks/results/keypoint_convention.{json,md}.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

import real_video
from adaptation import checkpoint
from adaptation.clips import prepare
from adaptation.dataset import CameraViews
from adaptation.evaluate import predict_views
from adaptation.metrics import p_mpjpe
from adaptation.skeleton import JOINT_INDEX, root_relative
from adaptation.views import BUNDLED_MOCAP, load_mocap
from posynda_ros.demo import load_clip
from posynda_ros.keypoints import PoseDetector

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
MODELS = {"default": REPO / "adaptation/models/default/lifter.pt", "level": REPO / "adaptation/models/level/lifter.pt"}
PAIRS = {"shoulder": ("l_shoulder", "r_shoulder"), "hip": ("l_hip", "r_hip")}


def proportions(poses: np.ndarray) -> dict[str, float]:
    """Median shoulder and hip width over the torso (pelvis to thorax) of (N, 17, 3) poses."""
    torso = np.linalg.norm(poses[:, JOINT_INDEX["thorax"]] - poses[:, JOINT_INDEX["pelvis"]], axis=-1)
    return {part: float(np.median(np.linalg.norm(poses[:, JOINT_INDEX[a]] - poses[:, JOINT_INDEX[b]], axis=-1) / torso))
            for part, (a, b) in PAIRS.items()}


def widen(joints: np.ndarray, factors: dict[str, float]) -> np.ndarray:
    """Shoulders and hips moved apart about their midpoints by `factors` (any (..., 17, C) array)."""
    out = np.array(joints, dtype=np.float64)
    for part, (a, b) in PAIRS.items():
        left, right = JOINT_INDEX[a], JOINT_INDEX[b]
        middle = (out[..., left, :] + out[..., right, :]) / 2
        out[..., left, :] = middle + factors[part] * (out[..., left, :] - middle)
        out[..., right, :] = middle + factors[part] * (out[..., right, :] - middle)
    return out


def mediapipe_3d_on_clip() -> np.ndarray:
    """MediaPipe's own 3D (H36M-17, metres) of the person it tracks in the bundled Sports2D clip."""
    clip, detector, poses = load_clip(), PoseDetector(), []
    for t, frame in enumerate(clip.frames):
        found = detector.detect(frame, t / clip.fps)
        if found is not None and found.world_m is not None:
            poses.append(found.world_m)
    detector.close()
    return np.array(poses)


def score(factors: dict[str, float] | None, map_back: bool) -> dict:
    """The shipped models on the real-video benchmark; factors: the map (None: as it is), applied to
    every detection (map_back False) or to the lifter's 2D only, its 3D mapped back (map_back True)."""
    throughout = factors is not None and not map_back
    truth = real_video.pseudo_ground_truth(convert=(lambda joints: widen(joints, factors)) if throughout else None)
    sequences, meta = truth["sequences"], truth["meta"]
    prepared = prepare(CameraViews(sequences))
    if factors is not None and map_back:
        for s in prepared:
            s.keypoints_2d[:] = widen(s.keypoints_2d, factors)
    targets = np.concatenate([root_relative(s.keypoints_3d.astype(np.float64)) for s in sequences]) * 1000
    world = np.concatenate([root_relative(m["world"].astype(np.float64)) for m in meta]) * 1000
    out = {"frames": len(targets), "truth": proportions(targets), "MediaPipe world landmarks": p_mpjpe(world, targets)}
    mounts = {c.name: real_video.camera_mount(c) for c in truth["cameras"]}
    for name, path in MODELS.items():
        model, _ = checkpoint.load(path)
        flip = bool(json.loads(path.with_name("model.json").read_text()).get("flip", False))
        poses = [None] * len(sequences)
        for view in truth["views"]:
            group = [i for i, m in enumerate(meta) if m["view"] == view]
            lifted = predict_views(model, [prepared[i] for i in group], hypotheses=3, window="causal", flip=flip, mount=mounts[view])
            for i, p in zip(group, lifted):
                poses[i] = p.pose.astype(np.float64)
        predicted = np.concatenate(poses) * 1000
        if factors is not None and map_back:
            predicted = widen(predicted, {part: 1 / f for part, f in factors.items()})
        out[name] = p_mpjpe(predicted, targets)
        out[f"{name} proportions"] = proportions(predicted)
    print(out, flush=True)
    return out


def main() -> None:
    torch.set_num_threads(1)
    subjects = {subject: proportions(np.concatenate(list(sequences.values())))
                for subject, sequences in load_mocap(BUNDLED_MOCAP).items()}
    mocap = {part: float(np.mean([p[part] for p in subjects.values()])) for part in PAIRS}
    clip = proportions(mediapipe_3d_on_clip())
    factors = {part: mocap[part] / clip[part] for part in PAIRS}
    print({"mocap": subjects, "mediapipe_clip": clip, "factors": factors}, flush=True)
    rows = {"as it is": score(None, False), "mapped throughout": score(factors, False), "mapped in and back": score(factors, True)}
    machine = f"{platform.machine()}, 1 thread, torch {torch.__version__}"
    (RESULTS / "keypoint_convention.json").write_text(json.dumps(
        {"machine": machine, "mocap": subjects, "mediapipe_clip": clip, "factors": factors, "rows": rows}, indent=1))
    lines = ["| source | shoulder width / torso | hip width / torso |", "|---|---|---|"]
    lines += [f"| mocap {s} | {p['shoulder']:.2f} | {p['hip']:.2f} |" for s, p in subjects.items()]
    lines += [f"| mocap, mean over subjects | {mocap['shoulder']:.2f} | {mocap['hip']:.2f} |",
              f"| MediaPipe 3D, Sports2D clip | {clip['shoulder']:.2f} | {clip['hip']:.2f} |"]
    as_is = rows["as it is"]
    lines += [f"| Pose2Sim pseudo truth (triangulated MediaPipe 2D) | {as_is['truth']['shoulder']:.2f} | {as_is['truth']['hip']:.2f} |"]
    lines += [f"| {name} lifted there | {as_is[f'{name} proportions']['shoulder']:.2f} | {as_is[f'{name} proportions']['hip']:.2f} |"
              for name in MODELS]
    lines += ["", f"Map (mocap mean / Sports2D clip): shoulders x{factors['shoulder']:.3f}, hips x{factors['hip']:.3f} about their midpoints.", "",
              "P-MPJPE mm on the real video (shipped models with each view's mount, H=3, causal):", "",
              "| benchmark | frames | MediaPipe world landmarks | " + " | ".join(MODELS) + " |", "|---" * (len(MODELS) + 3) + "|"]
    lines += [f"| {label} | {r['frames']} | {r['MediaPipe world landmarks']:.1f} | " + " | ".join(f"{r[n]:.1f}" for n in MODELS) + " |"
              for label, r in rows.items()]
    (RESULTS / "keypoint_convention.md").write_text(
        "# MediaPipe's joint placement against the mocap's\n\n"
        f"Command: `.venv/bin/python benchmarks/keypoint_convention.py`. Machine: {machine}.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
