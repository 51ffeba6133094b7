"""Single-view 3D on real, calibrated multi-view video, against triangulated pseudo ground truth.

    .venv/bin/python benchmarks/real_video.py [--models name=path.pt ...] [--hypotheses 3]

Data (bundled, BSD-3): benchmarks/data/pose2sim_multiperson, the Pose2Sim Demo_MultiPerson: 4
synchronised, calibrated 1088x1920 views at 60 fps, 100 frames, several people.
1. MediaPipe PoseLandmarker (several people per image) in every frame of every view.
2. Per frame, people matched across views by how well they triangulate (adaptation.multiview),
   then triangulated from every view that sees them: the pseudo ground truth (its reprojection
   error is reported, and how far apart two disjoint pairs of views triangulate the same people:
   the truth's own error). People are linked over time by their pelvis.
3. For each camera and person, every run of frames where that view sees them and all 17 joints
   were triangulated is lifted from that single view, as the node would (causal windows, or
   centred with --window centered; --window static lifts each frame alone, to measure what the
   temporal context adds; noise fixed per track, 2D One-Euro smoothed, 60 fps as
   recorded), and scored root-relative in that camera's frame, beside MediaPipe's own 3D for the
   same detections (pose_world_landmarks, hip-centred), raw and through the same One-Euro filter.
Pelvis depth: the lifter's root placed from its 3D, the 2D and the intrinsics (camera.solve_root).
4. Each model is scored twice: as it comes (no camera mount: the size it learned), and with the
   camera mount as the node uses one (the mount as a robot reads it from /tf_static, height above
   the floor, pitch and roll, from the calibration): lifted in the camera's upright (or, for a level
   model, level) twin (adaptation.camera) and sized from the floor (adaptation.floor). A level model
   runs only with the mount.
5. With --adapt, each model is also adapted to each camera by the product's `adapt` (PoSynDA, its
   defaults): that mount and that view's own unlabelled 2D (every detection, linked into tracks by
   the node's tracker); never the triangulated 3D. Adapted models are cached. An adapted model
   carries its mount, so the node lifts upright and sizes people from the floor with it; scored so,
   and lifted upright with the size it learned.
Writes benchmarks/results/real_video.{json,md} and real_video.png.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import shlex
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

from adaptation import checkpoint
from adaptation.camera import solve_root
from adaptation.clips import SequenceArrays, prepare
from adaptation.dataset import CameraViews, Sequence
from adaptation.evaluate import predict_views
from adaptation.floor import PersonScale
from adaptation.keypoint_filter import NODE_FILTER, node_filter_settings, smooth_sequence
from adaptation.metrics import acceleration, p_mpjpe, sequences_acceleration_error
from adaptation.mount import ANKLES, CameraMount
from adaptation.multiview import CalibratedCamera, match_people, read_qca, reprojection_error, triangulate
from adaptation.plots import draw_skeleton
from adaptation.skeleton import (BONES, JOINT_INDEX, JOINT_NAMES, ROOT, bone_lengths, root_relative, swap_left_right,
                                 trunk_inclination_deg)
from adaptation.uncertainty import calibration_report, calibrations_from_card, for_hypotheses
from adaptation.views import BUNDLED_MOCAP, load_mocap, training_2d_noise
from posynda_ros.adapt_cli import main as adapt_main
from posynda_ros.handedness import repair
from posynda_ros.keypoints import MultiPoseDetector
from posynda_ros.window import PeopleTracker

DATA = Path(__file__).with_name("data") / "pose2sim_multiperson"
RESULTS = Path(__file__).with_name("results")
CACHE = Path(__file__).with_name(".cache") / "real_video_detections.npz"
ADAPTED = CACHE.with_name("real_video_adapted")
REPO = Path(__file__).resolve().parents[1]
ADAPT_CODE = [REPO / "adaptation" / n for n in ("adapt.py", "augment.py", "camera.py", "dataset.py", "mount.py")] + [
    REPO / "posynda_ros" / "adapt_cli.py"]
FPS = 60.0
MAX_REPROJECTION_PX = 50.0      # a match across views (people are ~1000 px tall here)
MAX_STEP_M = 0.3                # a person's pelvis moves less than this between frames at 60 fps
MIN_RUN = 10                    # frames
MIN_CONFIDENCE = 0.3            # a detected joint used in matching and triangulation
SMOOTHING_SIGMA = 2.0           # frames (33 ms): Gaussian smoothing of the triangulated tracks over time
BENT_OVER_DEG = 30.0            # trunk inclination reported as bent over (people lunging, the mocap's squats)


def detect_all(views: list[str]) -> list[list[list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]]]:
    """detections[view][frame] = [(pixels (17,2), confidence (17,), MediaPipe world (17,3), back turned), ...]; cached."""
    if CACHE.is_file():
        blob = np.load(CACHE, allow_pickle=False)
        return [[[(blob[f"{v}/{t}/{i}/px"], blob[f"{v}/{t}/{i}/conf"], blob[f"{v}/{t}/{i}/world"], bool(blob[f"{v}/{t}/{i}/back"]))
                  for i in range(int(blob[f"{v}/{t}/count"]))] for t in range(int(blob[f"{v}/frames"]))] for v in views]
    detector = MultiPoseDetector(num_poses=4, min_score=0.3, video=False, min_detection_score=0.3)   # as the cached ones were made
    out, arrays = [], {}
    for v in views:
        capture, per_frame = cv2.VideoCapture(str(DATA / f"{v}.mp4")), []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            found = [(d.keypoints_px, d.confidence, d.world_m, d.back_turned)
                     for d in detector.people(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))]
            for i, (px, conf, world, back) in enumerate(found):
                arrays.update({f"{v}/{len(per_frame)}/{i}/px": px, f"{v}/{len(per_frame)}/{i}/conf": conf,
                               f"{v}/{len(per_frame)}/{i}/world": world, f"{v}/{len(per_frame)}/{i}/back": np.array(back)})
            arrays[f"{v}/{len(per_frame)}/count"] = np.array(len(found))
            per_frame.append(found)
        arrays[f"{v}/frames"] = np.array(len(per_frame))
        out.append(per_frame)
        print(f"{v}: {len(per_frame)} frames, {sum(map(len, per_frame))} detections")
    CACHE.parent.mkdir(exist_ok=True)
    np.savez_compressed(CACHE, **arrays)
    return out


def match_frames(cameras, detections) -> list[list]:
    """Per frame, the people matched across views (adaptation.multiview.match_people)."""
    return [match_people(cameras, [[(d[0], d[1]) for d in detections[v][t]] for v in range(len(cameras))],
                         MAX_REPROJECTION_PX, min_confidence=MIN_CONFIDENCE) for t in range(min(len(d) for d in detections))]


def left_out_triangulations(cameras, detections, people_per_frame):
    """For every person seen by >= 3 views, and each of those views: (frame, view, detection index in
    it, the person triangulated from the other views only, world points (J, 3))."""
    for t, people in enumerate(people_per_frame):
        for person in people:
            if len(person.detections) < 3:
                continue
            for v, k in person.detections.items():
                others = [u for u in person.detections if u != v]
                pixels = np.stack([detections[u][t][person.detections[u]][0] for u in others])
                weights = np.stack([(detections[u][t][person.detections[u]][1] >= MIN_CONFIDENCE).astype(float) for u in others])
                yield t, v, k, triangulate([cameras[u] for u in others], pixels, weights)


def left_out_reprojection(cameras, detections, people_per_frame) -> dict[str, float]:
    """Per view, the median pixel distance of its detected joints from the person triangulated without
    it (people seen in >= 3 views): how well the other views' truth agrees with this view's 2D."""
    misses: dict[str, list[float]] = {c.name: [] for c in cameras}
    for t, v, k, points in left_out_triangulations(cameras, detections, people_per_frame):
        seen, confidence = detections[v][t][k][0], detections[v][t][k][1]
        error = reprojection_error(cameras[v], points, seen)[confidence >= MIN_CONFIDENCE]
        misses[cameras[v].name] += error[np.isfinite(error)].tolist()
    return {name: float(np.median(values)) for name, values in misses.items() if values}


def pair_split_disagreement(cameras, detections, people_per_frame) -> list[dict]:
    """People seen in all four views, triangulated twice from two disjoint pairs of views: how far the
    two root-relative estimates lie apart (mm per joint, and P-MPJPE on frames with every joint). Two
    independent estimates with equal noise differ by about sqrt(2) times the error of each, and twice
    the error of their four-view combination: the size of the pseudo truth's own error."""
    out = []
    for split in (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))):
        estimates = []
        for t, people in enumerate(people_per_frame):
            for person in (p for p in people if len(p.detections) == len(cameras)):
                pair_points = []
                for pair in split:
                    picks = [detections[v][t][person.detections[v]] for v in pair]
                    points = triangulate([cameras[v] for v in pair], np.stack([p[0] for p in picks]),
                                         np.stack([(p[1] >= MIN_CONFIDENCE).astype(float) for p in picks]))
                    pair_points.append(points - points[ROOT])
                estimates.append(pair_points)
        first, second = (np.array(e) * 1000 for e in zip(*estimates))
        distance = np.linalg.norm(first - second, axis=-1)
        complete = np.isfinite(distance).all(1)
        out.append({"pairs": [[cameras[v].name for v in pair] for pair in split], "people_frames": len(distance),
                    "joint_distance_mm": float(np.nanmean(distance)),
                    "p_mpjpe_mm": p_mpjpe(first[complete], second[complete]), "complete_frames": int(complete.sum())})
    return out


def link_tracks(people_per_frame) -> dict[int, dict[int, object]]:
    """tracks[id][frame] = MatchedPerson, linking each frame's people to the nearest pelvis of the previous frames."""
    tracks: dict[int, dict[int, object]] = {}
    last: dict[int, tuple[int, np.ndarray]] = {}
    for t, people in enumerate(people_per_frame):
        for person in people:
            pelvis = person.points_world[ROOT]
            if not np.isfinite(pelvis).all():
                continue
            near = [(np.linalg.norm(p - pelvis), k) for k, (when, p) in last.items()
                    if t - when <= 5 and np.linalg.norm(p - pelvis) < MAX_STEP_M * (t - when)]
            track = min(near)[1] if near else len(tracks)
            tracks.setdefault(track, {})[t] = person
            last[track] = (t, pelvis)
    return tracks


def smooth_tracks(tracks: dict[int, dict[int, object]]) -> None:
    """Gaussian-smooth each track's triangulated joints over runs of consecutive frames (in place):
    per-frame triangulation of detector 2D jitters far more than people move in 17 ms."""
    radius = int(3 * SMOOTHING_SIGMA)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / SMOOTHING_SIGMA) ** 2)
    for by_frame in tracks.values():
        for run in runs([t for t in sorted(by_frame) if np.isfinite(by_frame[t].points_world).all()], minimum=1):
            points = np.stack([by_frame[t].points_world for t in run])
            padded = np.concatenate([np.repeat(points[:1], radius, 0), points, np.repeat(points[-1:], radius, 0)])
            smoothed = sum(w * padded[i:i + len(run)] for i, w in enumerate(kernel)) / kernel.sum()
            for t, value in zip(run, smoothed):
                by_frame[t].points_world = value


def track_acceleration(tracks) -> float:
    """Mean joint acceleration (mm/frame^2) of the triangulated tracks over their consecutive runs."""
    values = []
    for by_frame in tracks.values():
        for run in runs([t for t in sorted(by_frame) if np.isfinite(by_frame[t].points_world).all()], minimum=3):
            values.append(np.linalg.norm(acceleration(np.stack([by_frame[t].points_world for t in run])), axis=-1).ravel())
    return float(np.concatenate(values).mean() * 1000)


def torso_lean_deg(poses: np.ndarray) -> np.ndarray:
    """How far the pelvis->thorax direction leans towards the camera, in the camera's y-z plane (degrees)."""
    torso = poses[..., JOINT_INDEX["thorax"], :] - poses[..., ROOT, :]
    return np.degrees(np.arctan2(-torso[..., 2], -torso[..., 1]))


def bent_over(inclination: np.ndarray) -> str:
    return f"median {np.median(inclination):.0f} deg, {np.mean(inclination > BENT_OVER_DEG):.0%} beyond {BENT_OVER_DEG:.0f}"


def runs(frames: list[int], minimum: int = MIN_RUN) -> list[list[int]]:
    """Consecutive runs of sorted frame numbers, at least `minimum` long."""
    out, current = [], []
    for f in frames:
        if current and f != current[-1] + 1:
            out.append(current)
            current = []
        current.append(f)
    out.append(current)
    return [r for r in out if len(r) >= minimum]


def pseudo_ground_truth(stride: int = 1, convert=None) -> dict:
    """Detect, match, triangulate, link and smooth; then cut every single-view run (a Sequence with
    One-Euro smoothed 2D and the camera-frame truth, every `stride`-th frame) with its metadata.
    convert: applied to each detection's joints (pixels and MediaPipe's 3D) first, when given."""
    cameras = read_qca(DATA / "Calib.qca.txt")
    detections = detect_all([c.name for c in cameras])
    if convert is not None:
        detections = [[[(convert(px), conf, convert(world), back) for px, conf, world, back in frame] for frame in view]
                      for view in detections]
    people = match_frames(cameras, detections)
    tracks = link_tracks(people)
    raw_accel = track_acceleration(tracks)
    smooth_tracks(tracks)
    smoothed_accel = track_acceleration(tracks)
    reprojection = [p.reprojection_px for ps in people for p in ps]
    left_out = left_out_reprojection(cameras, detections, people)
    pair_split = pair_split_disagreement(cameras, detections, people)
    stature = float(np.nanmedian([p.points_world[JOINT_INDEX["head"], 2] - p.points_world[list(ANKLES), 2].mean()
                                  for by_frame in tracks.values() for p in by_frame.values()]))   # world z is up
    print(f"pseudo ground truth: {len(reprojection)} people-frames, {len(tracks)} tracks, reprojection "
          f"{np.mean(reprojection):.1f} px mean, acceleration {raw_accel:.1f} mm/frame^2 raw, "
          f"{smoothed_accel:.1f} smoothed")
    sequences, meta = [], []
    for track, by_frame in tracks.items():
        for v, camera in enumerate(cameras):
            seen = [t for t, person in sorted(by_frame.items())
                    if v in person.detections and np.isfinite(person.points_world).all()]
            for run in runs(seen):
                run = run[::stride]
                picks = [detections[v][t][by_frame[t].detections[v]] for t in run]
                sequences.append(Sequence(f"track{track}/{camera.name}/{run[0]}", smooth_sequence(np.stack([p[0] for p in picks]), FPS / stride),
                                          np.stack([p[1] for p in picks]), camera.intrinsics, FPS / stride,
                                          np.stack([camera.to_camera(by_frame[t].points_world) for t in run])))
                meta.append({"view": camera.name, "track": track, "frames": run, "world": np.stack([p[2] for p in picks]),
                             "pixels": np.stack([p[0] for p in picks]),
                             "truth_views": [len(by_frame[t].detections) for t in run],
                             "reprojection": float(np.mean([by_frame[t].reprojection_px for t in run]))})
    print(f"{len(sequences)} single-view runs, {sum(len(s.keypoints_2d) for s in sequences)} frames")
    return {"sequences": sequences, "meta": meta, "tracks": tracks, "reprojection": reprojection, "raw_accel": raw_accel,
            "smoothed_accel": smoothed_accel, "head_above_ankles_m": stature,
            "views": [c.name for c in cameras], "cameras": cameras, "left_out_px": left_out, "pair_split": pair_split, "detections": detections, "left_right": left_right_audit(cameras, detections, tracks)}


def fed_runs(truth: dict, filter_settings: dict[str, float]) -> list[SequenceArrays]:
    """The single-view runs prepared for a lifter, their 2D through the filter the node runs in front of
    it (node_filter_settings; the runs' own 2D went through the node's defaults)."""
    sequences = truth["sequences"]
    if filter_settings != NODE_FILTER:
        sequences = [dataclasses.replace(s, keypoints_2d=smooth_sequence(m["pixels"], s.fps, **filter_settings))
                     for s, m in zip(sequences, truth["meta"])]
    return prepare(CameraViews(sequences))


def camera_mount(camera: CalibratedCamera) -> CameraMount:
    """What a robot reads from /tf_static: height above the floor (world z = 0, z up; the triangulated
    ankles stand at 0.15 m) and the up direction in the camera."""
    centre = -camera.rotation.T @ camera.translation
    return CameraMount.from_up(camera.rotation @ np.array([0.0, 0.0, 1.0]), float(centre[2]), "calibration")


def view_tracks(camera: CalibratedCamera, detections: list[list[tuple]], filter_settings: dict[str, float]) -> CameraViews:
    """Every detection of one view, linked by the node's tracker into tracks of >= MIN_RUN frames
    and One-Euro smoothed as the node does for the lifter: the unlabelled video a user would record with this camera."""
    tracker, by_id = PeopleTracker(frames=9), {}
    for t, people in enumerate(detections):
        for track, person in zip(tracker.update([p[0] for p in people], t / FPS)[0], people):
            by_id.setdefault(track.track_id, []).append(person)
    return CameraViews([Sequence(f"{camera.name}/track{i}", smooth_sequence(np.stack([p[0] for p in people]), FPS, **filter_settings),
                                 np.stack([p[1] for p in people]), camera.intrinsics, FPS)
                        for i, people in by_id.items() if len(people) >= MIN_RUN])


def content_hash(paths: list[Path], extra: str = "") -> str:
    """A short hash of the files' bytes (and `extra`): an adapted model is re-made when its base model,
    the adaptation code or the adapt arguments change."""
    digest = hashlib.sha1()
    for path in paths:
        digest.update(path.read_bytes())
    digest.update(extra.encode())
    return digest.hexdigest()[:10]


def adapted_model(cache: Path, path: str, camera: CalibratedCamera, detections: list[list[tuple]],
                  filter_settings: dict[str, float], extra_args: list[str]) -> Path:
    """`adapt --views <this view's tracks, through the model's 2D filter> --mount <from the calibration>
    <extra_args>` on the model at `path`, kept under `cache` (one folder per checkpoint, adaptation code and
    arguments: `content_hash`)."""
    out = cache / camera.name
    if not (out / "lifter.pt").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        target = out.with_name(camera.name + "_views.npz")
        view_tracks(camera, detections, filter_settings).save(target)
        mount = camera_mount(camera)
        code = adapt_main(["--views", str(target), "--base-model", str(path), "--out", str(out), "--overwrite", "--mount",
                           f"height_m: {mount.height_m:.3f}, pitch_deg: {mount.pitch_deg:.2f}, roll_deg: {mount.roll_deg:.2f}", *extra_args])
        if code != 0:
            raise RuntimeError(f"adapt failed for {path} on {camera.name}")
    return out / "lifter.pt"


def left_right_audit(cameras, detections, tracks) -> dict:
    """Every detection near a triangulated person, labels checked against the projected truth:
    how many are mirrored (left and right exchanged), how many MediaPipe reports back-turned, and
    what posynda_ros.handedness.repair with both checks (facing, continuity within the track and
    view) mends ('repaired') and breaks ('broken')."""
    sided = [JOINT_INDEX[n] for n in ("l_shoulder", "l_hip", "r_shoulder", "r_hip")]
    counts = {"detections": 0, "mirrored": 0, "mirrored_from_behind": 0, "back_turned": 0, "truth_back_turned": 0,
              "repaired": 0, "broken": 0}
    for by_frame in tracks.values():
        previous: dict[int, np.ndarray] = {}
        for t, person in sorted(by_frame.items()):
            if not np.isfinite(person.points_world[sided]).all():
                continue
            for v, camera in enumerate(cameras):
                truth = camera.pixels_of(person.points_world)
                size = np.ptp(truth[:, 1])
                for pixels, confidence, _, back in detections[v][t]:
                    if np.linalg.norm(pixels[ROOT] - truth[ROOT]) > 0.15 * size:
                        continue
                    keep = np.linalg.norm(pixels[sided] - truth[sided], axis=-1).mean()
                    swap = np.linalg.norm(swap_left_right(pixels)[sided] - truth[sided], axis=-1).mean()
                    mirrored = swap < 0.5 * keep
                    fixed, _, fired = repair(pixels, confidence, back, previous.get(v))
                    repaired = bool(fired)
                    previous[v] = fixed
                    body = camera.to_camera(person.points_world)
                    left = body[JOINT_INDEX["l_shoulder"]] - body[JOINT_INDEX["r_shoulder"]]
                    forward = np.cross(left, body[JOINT_INDEX["thorax"]] - body[ROOT])      # the chest's normal
                    counts["detections"] += 1
                    counts["mirrored"] += int(mirrored)
                    counts["mirrored_from_behind"] += int(mirrored and forward[2] > 0)
                    counts["back_turned"] += int(back)
                    counts["truth_back_turned"] += int(forward[2] > 0)        # chest facing away from the camera
                    counts["repaired"] += int(mirrored and repaired)
                    counts["broken"] += int(not mirrored and repaired)
    print(f"left/right: {counts}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=[], help="name=checkpoint.pt (default: the shipped model)")
    parser.add_argument("--hypotheses", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--adapt", action="store_true", help="also adapt each model to each camera (see 5. above)")
    parser.add_argument("--stride", type=int, default=1, help="use every n-th frame (2: 30 fps, the training rate)")
    parser.add_argument("--window", choices=("causal", "centered", "static"), default="causal",
                        help="the node's window_mode: causal (no delay) or centered (F//2 frames late); static: "
                             "each frame lifted alone (what the temporal context adds)")
    parser.add_argument("--adapt-args", default="", help="with --adapt: more `adapt` arguments, e.g. '--source_noise true'")
    parser.add_argument("--tag", default="", help="results under real_video..._<tag> (another set of models beside the main table)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = dict(m.split("=", 1) for m in args.models) or {"shipped default": str(checkpoint.DEFAULT_MODEL)}
    ground_truth = pseudo_ground_truth(args.stride)
    sequences, meta = ground_truth["sequences"], ground_truth["meta"]
    reprojection, tracks, raw_accel = ground_truth["reprojection"], ground_truth["tracks"], ground_truth["raw_accel"]

    def score(name: str, poses: list[np.ndarray], depth_error: list[np.ndarray] | None,
              uncertainty: list[np.ndarray | None] | None = None) -> list[dict]:
        rows = []
        for view in ground_truth["views"] + ["all"]:
            keep = [i for i, m in enumerate(meta) if view in ("all", m["view"])]
            if not keep:
                continue
            predicted = [poses[i] * 1000 for i in keep]
            truth = [root_relative(sequences[i].keypoints_3d.astype(np.float64)) * 1000 for i in keep]
            errors = np.linalg.norm(np.concatenate(predicted) - np.concatenate(truth), axis=-1)     # (frames, J)
            row = {"model": name, "view": view, "frames": int(sum(len(p) for p in predicted)),
                   "mpjpe_mm": float(errors.mean()), "joint_mpjpe_mm": errors.mean(0).round(1).tolist(),
                   "p_mpjpe_mm": p_mpjpe(np.concatenate(predicted), np.concatenate(truth)),
                   "accel_error_mm": sequences_acceleration_error(predicted, truth),
                   "lean_bias_deg": float(np.mean(torso_lean_deg(np.concatenate(predicted)) - torso_lean_deg(np.concatenate(truth)))),
                   "truth_accel_mm": float(np.mean(np.concatenate([np.linalg.norm(acceleration(t), axis=-1).ravel() for t in truth]))),
                   "pseudo_gt_reprojection_px": float(np.mean([meta[i]["reprojection"] for i in keep]))}
            if uncertainty is not None and all(uncertainty[i] is not None for i in keep):
                row["uncertainty"] = calibration_report(np.concatenate([uncertainty[i] for i in keep]), errors / 1000)
            if depth_error is not None:
                signed = np.concatenate([depth_error[i] for i in keep])
                row["pelvis_depth_error_pct"] = float(np.abs(signed).mean() * 100)
                row["pelvis_depth_bias_pct"] = float(signed.mean() * 100)
            row["size_ratio"] = float(np.mean([bone_lengths(p).sum(-1).mean() / bone_lengths(t).sum(-1).mean()
                                               for p, t in zip(predicted, truth)]))
            rows.append(row)
        return rows

    rows = score("MediaPipe world landmarks", [root_relative(smooth_sequence(m["world"], FPS / args.stride)) for m in meta], None)
    rows += score("MediaPipe world landmarks, raw", [root_relative(m["world"]) for m in meta], None)
    def lift(path: str | Path, prepared: list[SequenceArrays], keep: list[int], with_mount: bool) -> dict[int, tuple]:
        """Root-relative poses, roots (camera frame) and published per-joint uncertainty (None without a
        calibration) of the sequences `keep` (of `prepared`: the runs through the model's 2D filter, fed_runs),
        lifted by the model at `path` as it is deployed (test-time
        mirroring and uncertainty as its model.json says); with_mount: as the node with a camera mount,
        in the camera the model reads (adaptation.camera: upright or level)."""
        model, _ = checkpoint.load(path)
        card = checkpoint.card_beside(path)
        flip = bool(card.get("flip", False))
        calibration = for_hypotheses(calibrations_from_card(card), args.hypotheses)
        out = {}
        for view in ground_truth["views"]:
            group = [i for i in keep if meta[i]["view"] == view]
            predicted = predict_views(model, [prepared[i] for i in group], hypotheses=args.hypotheses, window=args.window,
                                      flip=flip, mount=mounts[view] if with_mount else None)
            for i, p in zip(group, predicted):
                s = prepared[i]
                out[i] = (p.pose.astype(np.float64), solve_root(p.pose.astype(np.float64), s.keypoints_2d.astype(np.float64),
                                                               s.camera[None, :2], s.camera[None, 2:], np.clip(s.confidence, 1e-3, 1.0)),
                          calibration.apply(p.spread) if calibration else None)
        return out

    def add_rows(name: str, lifted: dict[int, tuple] | None, mounted: dict[int, tuple]) -> None:
        """Score poses lifted without a mount as they are (None: a level model, which needs the mount), and
        poses lifted with each view's mount sized from the floor, frame by frame along each run as the
        node does (adaptation.floor.PersonScale)."""
        for label, floor in ((name, False), (f"{name}, with the camera mount", True))[lifted is None:]:
            poses, depth_error, uncertainties = [], [], []
            for i in range(len(sequences)):
                pose, root, uncertainty = (mounted if floor else lifted)[i]
                if floor:
                    size = PersonScale(mounts[meta[i]["view"]]).along(pose, root, sequences[i].confidence)
                    pose, root = pose * size[:, None, None], root * size[:, None]
                    uncertainty = None if uncertainty is None else uncertainty * size[:, None]
                truth = sequences[i].keypoints_3d[:, ROOT, 2]
                poses.append(pose)
                depth_error.append((root[:, 2] - truth) / truth)
                uncertainties.append(uncertainty)
            predictions[label] = poses
            rows.extend(score(label, poses, depth_error, uncertainties))

    mounts = {camera.name: camera_mount(camera) for camera in ground_truth["cameras"]}
    predictions = {}
    everything = list(range(len(sequences)))
    for name, path in models.items():
        model, model_meta = checkpoint.load(path)
        level = model.config.lifting_camera == "level"
        its_filter = node_filter_settings(model_meta)      # an adapted model's card names its base model's
        prepared = fed_runs(ground_truth, its_filter)
        add_rows(name, None if level else lift(path, prepared, everything, False), lift(path, prepared, everything, True))
        if args.adapt:
            adapted = {}
            noise = str(training_2d_noise(checkpoint.card_beside(path)))      # `adapt` reads it from the base model's card
            cache = ADAPTED / f"{name}-{content_hash([Path(path), *ADAPT_CODE], args.adapt_args + noise)}"
            for v, camera in enumerate(ground_truth["cameras"]):
                keep = [i for i, m in enumerate(meta) if m["view"] == camera.name]
                adapted.update(lift(adapted_model(cache, path, camera, ground_truth["detections"][v], its_filter,
                                                  shlex.split(args.adapt_args)), prepared, keep, True))
            add_rows(f"{name}, adapted to each camera", adapted, adapted)
    for r in rows:
        print({k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()})
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    stem = "real_video" + (f"_stride{args.stride}" if args.stride != 1 else "") + ("" if args.window == "causal" else f"_{args.window}") + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"machine": machine, "window": args.window, "truth_accel_raw_mm": raw_accel, "smoothing_sigma_frames": SMOOTHING_SIGMA, "hypotheses": args.hypotheses, "models": models, "tracks": len(tracks),
         "people_frames": len(reprojection), "head_above_ankles_m": ground_truth["head_above_ankles_m"], "reprojection_px_mean": float(np.mean(reprojection)),
         "left_out_reprojection_px_median": ground_truth["left_out_px"], "pair_split": ground_truth["pair_split"],
         "left_right": ground_truth["left_right"], "rows": rows}, indent=1))
    peer = {r["view"]: r for r in rows if r["model"] == "MediaPipe world landmarks"}

    def versus_peer(r: dict) -> str:
        """MPJPE and P-MPJPE relative to MediaPipe's (smoothed) on the same frames: -20% is the target."""
        p = peer[r["view"]]
        return f"{100 * (r['mpjpe_mm'] / p['mpjpe_mm'] - 1):+.0f}% / {100 * (r['p_mpjpe_mm'] / p['p_mpjpe_mm'] - 1):+.0f}%"

    lines = ["All views:", "", "| model | frames | MPJPE mm | P-MPJPE mm | vs MediaPipe | accel err mm/f² | size pred/true "
             "| torso lean pred-true deg | pelvis depth err % (bias) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["view"] == "all"):
        depth = f"{r['pelvis_depth_error_pct']:.1f} ({r['pelvis_depth_bias_pct']:+.1f})" if "pelvis_depth_error_pct" in r else "-"
        lines.append(f"| {r['model']} | {r['frames']} | {r['mpjpe_mm']:.1f} | {r['p_mpjpe_mm']:.1f} | {versus_peer(r)} | "
                     f"{r['accel_error_mm']:.1f} | {r['size_ratio']:.2f} | {r['lean_bias_deg']:+.1f} | {depth} |")
    views = ground_truth["views"]
    lines += ["", "Per view: MPJPE / P-MPJPE mm (vs MediaPipe), accel err mm/f², pelvis depth err %:", "",
              "| model | " + " | ".join(f"{v} ({peer[v]['frames']} frames)" for v in views) + " |", "|---" * (len(views) + 1) + "|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        cells = []
        for v in views:
            r = next(r for r in rows if r["model"] == model and r["view"] == v)
            depth = f", {r['pelvis_depth_error_pct']:.1f}%" if "pelvis_depth_error_pct" in r else ""
            cells.append(f"{r['mpjpe_mm']:.1f} / {r['p_mpjpe_mm']:.1f} ({versus_peer(r)}), {r['accel_error_mm']:.1f}{depth}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    calibrated = [r for r in rows if "uncertainty" in r]
    if calibrated:
        lines += ["", "Published per-joint uncertainty (the model's calibration, as the node publishes it) against the error: "
                  "mean predicted / mean error, rank correlation over every (frame, joint). The error is measured "
                  "against the pseudo truth, whose own error it includes (the ratio reads low by that much):", "",
                  "| model | " + " | ".join(views + ["all"]) + " |", "|---" * (len(views) + 2) + "|"]
        for model in dict.fromkeys(r["model"] for r in calibrated):
            cells = [next((f"{r['uncertainty']['ratio']:.2f} / {r['uncertainty']['rank_correlation']:.2f}" for r in calibrated
                           if r["model"] == model and r["view"] == v), "-") for v in views + ["all"]]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
    truth_rows = [r for r in rows if r["model"] == rows[0]["model"]]
    lines += ["", "Pseudo ground truth per view: " + ", ".join(
        f"{r['view']} reprojection {r['pseudo_gt_reprojection_px']:.1f} px, own accel {r['truth_accel_mm']:.1f} mm/f²"
        for r in truth_rows)]
    lines += ["", "Each view's 2D against the person triangulated from the other views only (median px, joints "
              "with confidence >= 0.3): " + ", ".join(f"{v} {px:.1f}" for v, px in ground_truth["left_out_px"].items())
              + ". The pseudo truth is MediaPipe's own 2D, triangulated: where the views disagree this much, "
              "so does the truth."]
    lines += ["", "People seen by all four views, triangulated from two disjoint pairs of views: " + "; ".join(
        f"{'+'.join(s['pairs'][0])} against {'+'.join(s['pairs'][1])} {s['joint_distance_mm']:.0f} mm per joint apart "
        f"(P-MPJPE {s['p_mpjpe_mm']:.0f}, {s['complete_frames']} of {s['people_frames']} people-frames complete)"
        for s in ground_truth["pair_split"]) + ". Two independent estimates differ by about sqrt(2) times the "
        "error of each: a two-view truth errs by about that distance / 1.4, a four-view one by about half of it, "
        "and every model's error above includes it. Scored frames by the number of views their truth was triangulated from: "
        + ", ".join(f"{n} views {count}" for n, count in sorted(Counter(n for m in meta for n in m["truth_views"]).items())) + "."]
    world_up, mocap_up = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])     # the calibration's z, the mocap's y
    mocap = np.concatenate([poses for sequences in load_mocap(BUNDLED_MOCAP).values() for poses in sequences.values()])
    seen = {v: np.stack([tracks[m["track"]][t].points_world for m in meta if m["view"] == v for t in m["frames"]])
            for v in ground_truth["views"]}
    lines += ["", "Trunk inclination from vertical (pelvis->thorax), the triangulated people seen by each view: " + ", ".join(
        f"{v} {bent_over(trunk_inclination_deg(points, world_up))}" for v, points in seen.items())
        + f"; the bundled training mocap: {bent_over(trunk_inclination_deg(mocap, mocap_up))}."]
    first = next(iter(models))          # MediaPipe's and the first model's rows (every variant of it)
    shown = [r for r in rows if r["view"] == "all" and (r["model"] in (rows[0]["model"], first) or r["model"].startswith(first + ","))]
    lines += ["", "Per joint, all views, MPJPE mm (where the error is):", "",
              "| joint | " + " | ".join(r["model"] for r in shown) + " |", "|---" * (len(shown) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{r['joint_mpjpe_mm'][j]:.0f}" for r in shown) + " |"
              for j, name in enumerate(JOINT_NAMES) if j != ROOT]
    audit = ground_truth["left_right"]
    lines += ["", f"Left/right labels of MediaPipe's detections near a triangulated person: {audit['mirrored']} of "
              f"{audit['detections']} mirrored ({audit['mirrored_from_behind']} of them seen from behind; "
              f"{audit['truth_back_turned']} detections of people facing away, of which MediaPipe reported "
              f"{audit['back_turned']} with an unseen face). posynda_ros.handedness.repair with the continuity "
              f"check would mend {audit['repaired']} and break {audit['broken']}: the node runs the facing check only."]
    (RESULTS / f"{stem}.md").write_text(
        "# Real video: single-view 3D against triangulated pseudo ground truth (Pose2Sim multi-person demo)\n\n"
        f"Command: `.venv/bin/python benchmarks/real_video.py --models {' '.join(k + '=' + v for k, v in models.items())} "
        f"--hypotheses {args.hypotheses} --stride {args.stride} --window {args.window}{' --adapt' if args.adapt else ''}{' --adapt-args ' + shlex.quote(args.adapt_args) if args.adapt_args else ''}{' --tag ' + args.tag if args.tag else ''}`. Machine: {machine}.\n"
        f"{len(reprojection)} people-frames matched across views in {len(tracks)} tracks; pseudo ground truth "
        f"reprojects to {np.mean(reprojection):.1f} px on average (1088x1920 images), then is smoothed over time "
        f"(Gaussian, sigma {SMOOTHING_SIGMA:.0f} frames; its acceleration {raw_accel:.0f} -> {ground_truth['smoothed_accel']:.0f} mm/frame²). "
        f"The triangulated people's head is {ground_truth['head_above_ankles_m']:.2f} m above their ankles (median). "
        "Root-relative, camera frame, mm; torso lean: how far the pelvis->thorax direction leans towards the camera (camera y-z plane), predicted minus true, mean; "
        f"{args.window} windows at {FPS / args.stride:.0f} fps; H = {args.hypotheses}.\n\n" + "\n".join(lines) + "\n")
    # the picture: the first model as it comes (a level model: with the mount) and as deployed best (more lines are unreadable)
    as_it_comes = first if first in predictions else f"{first}, with the camera mount"
    shown = list(dict.fromkeys([as_it_comes, f"{first}, adapted to each camera, with the camera mount" if args.adapt
                                else f"{first}, with the camera mount"]))
    plot_example(sequences, meta, {k: predictions[k] for k in shown}, RESULTS / f"{stem}.png")


def plot_example(sequences, meta, predictions, path: Path) -> None:
    """The image of one run's middle frame with its 2D, and the 3D: truth, MediaPipe's, each model's."""
    import matplotlib.pyplot as plt
    index = max(range(len(sequences)), key=lambda i: len(sequences[i].keypoints_2d))
    s, m = sequences[index], meta[index]
    middle = len(m["frames"]) // 2
    capture = cv2.VideoCapture(str(DATA / f"{m['view']}.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, m["frames"][middle])
    rgb = cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB)
    figure = plt.figure(figsize=(10, 6))
    axis = figure.add_subplot(1, 2, 1)
    axis.imshow(rgb)
    for a, b in BONES:
        axis.plot(*zip(s.keypoints_2d[middle][a], s.keypoints_2d[middle][b]), color="yellow", lw=1.5)
    axis.set_title(f"{m['view']}, frame {m['frames'][middle]}: MediaPipe 2D")
    axis.axis("off")
    axis3d = figure.add_subplot(1, 2, 2, projection="3d")
    draw_skeleton(axis3d, root_relative(s.keypoints_3d[middle].astype(np.float64)), "k", "triangulated (pseudo truth)")
    draw_skeleton(axis3d, root_relative(m["world"][middle]), "C1", "MediaPipe world landmarks")
    for i, (name, poses) in enumerate(predictions.items()):
        draw_skeleton(axis3d, poses[index][middle], f"C{i + 2}", name)
    axis3d.legend(fontsize=7)
    axis3d.set_title("root-relative 3D, camera frame")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    main()
