"""The level camera: a lifter that works in the *level* camera, when the mount is known (adaptation/models/level).

    .venv/bin/python benchmarks/level_camera.py prepare      # levelled randomised views -> runs/level_data/
        [--noise 0.025 --outlier-rate 0.05 --level-data runs/level_data_mediapipe_noise]   # another detector noise
    benchmarks/train_source_models.sh level-long-diffusion   # (or final-level-diffusion, ...) trains on them
    .venv/bin/python benchmarks/level_camera.py evaluate --part val \
        --level level-long=runs/level_long_diffusion/best.pt --camera default=runs/smooth_long_diffusion/shipped/lifter.pt

The level camera (adaptation/camera.py) is the camera turned about its optical centre until its
optical axis is horizontal and the world's up points straight up the image (pitch and roll both 0):
a homography of the normalised 2D, a rotation of the 3D. A lifter trained on levelled views
(LifterConfig.lifting_camera "level") never has to guess the camera's pitch from the 2D; it needs
the mount. The rendered views do not store their camera's rotation, so `prepare` recovers it from
the bundled mocap (Kabsch: exact for rendered labels). `evaluate` scores level models (`--level`:
their views levelled with the true up direction; a checkpoint trained before
LifterConfig.lifting_camera existed is marked level here) beside camera-frame models lifted in the
upright camera (`--camera`), H=1 + mirroring, 2D through the filter the node runs in front of each
model (the One-Euro settings it was trained behind), on the `part` subjects
through the randomised rig and the mounted rigs. On the validation part also the Pose2Sim real video
(benchmarks/real_video.py: H=3, causal windows, sized from the floor with each view's mount, not
adapted; real_video.py --adapt scores the shipped level model adapted). On the test part also the
shipped uncertainty calibration (model.json) of models given as shipped directories, as the node
runs them on the head camera. Writes benchmarks/results/level_camera_<part>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.camera import lifter_keypoints, lifting_rotation, pitch_and_roll_deg, pixels_from_normalized, solve_root, turn_keypoints
from adaptation.clips import WINDOWS, SequenceArrays, prepare
from adaptation.dataset import CameraViews, Sequence
from adaptation.evaluate import Prediction, evaluate, predict_views
from adaptation.floor import MIN_ANKLE_RAY_DEG, PersonScale
from adaptation.keypoint_filter import node_filter_settings, smoothed_views
from adaptation.metrics import p_mpjpe, sequences_acceleration_error
from adaptation.mount import ANKLES, ANKLES_ABOVE_FLOOR_M, CameraMount
from adaptation.skeleton import bone_lengths, trunk_inclination_deg
from adaptation.uncertainty import calibration_report, calibrations_from_card, for_hypotheses
from adaptation.views import BUNDLED_MOCAP, NOISE, OUTLIER_RATE, Rig, load_mocap
import real_video
from splits import SUBJECTS, views

REPO = Path(__file__).resolve().parents[1]
LEVEL_DATA = REPO / "runs" / "level_data"
RESULTS = Path(__file__).with_name("results")
RIGS = ("randomized", "head_camera", "low_robot", "mild", "crooked_webcam", "tilted_tripod")


def camera_up(rendered: Sequence, mocap: dict) -> np.ndarray:
    """The world's up in a rendered view's camera frame: the rotation between its labels and the mocap."""
    subject, name, _ = rendered.name.split("/")
    world = mocap[subject][name].reshape(-1, 3).astype(np.float64)
    seen = rendered.keypoints_3d.reshape(-1, 3).astype(np.float64)
    u, _, vt = np.linalg.svd((world - world.mean(0)).T @ (seen - seen.mean(0)))
    rotation = (u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt).T     # seen = world @ rotation.T
    return rotation @ np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Renders:
    """Which renders of the splits (splits.views): their detector noise, and where `prepare` puts their
    levelled views and camera up directions (another noise draws other cameras)."""
    noise: float = NOISE
    outlier_rate: float = OUTLIER_RATE
    level_data: Path = LEVEL_DATA

    def views(self, split: str) -> CameraViews:
        return views(split, self.noise, self.outlier_rate)

    def describe(self) -> str:
        return f"2D noise {self.noise:g} of the person's height, {self.outlier_rate:g} outliers"


def prepare_level_views(renders: Renders) -> None:
    """<level_data>/randomized_<part>_level.npz (levelled views) and _ups.npy for train, val and test."""
    mocap = load_mocap(BUNDLED_MOCAP)
    out_dir = renders.level_data
    out_dir.mkdir(parents=True, exist_ok=True)
    for part in SUBJECTS:
        rendered = renders.views(f"randomized_{part}")
        ups = np.array([camera_up(s, mocap) for s in rendered.sequences])
        levelled = []
        for s, up in zip(rendered.sequences, ups):
            rotation, ideal = lifting_rotation(up, "level"), s.intrinsics       # rendered cameras have no distortion
            pixels = pixels_from_normalized(turn_keypoints(lifter_keypoints(s.keypoints_2d, ideal), rotation), ideal)
            levelled.append(Sequence(s.name, pixels.astype(np.float32), s.confidence, ideal, s.fps,
                                     (s.keypoints_3d @ rotation.T).astype(np.float32)))
        CameraViews(levelled).save(out_dir / f"randomized_{part}_level.npz")
        np.save(out_dir / f"randomized_{part}_ups.npy", ups)
        pitch, roll = np.array([pitch_and_roll_deg(u) for u in ups]).T
        roll = np.abs(roll)
        print(f"randomized_{part}: {len(ups)} views levelled (pitch {pitch.min():.0f} to {pitch.max():.0f} deg, "
              f"apparent roll up to {roll.max():.1f} deg)")


@dataclass(frozen=True)
class Sampling:
    """How a model's hypotheses are drawn and combined (`--sampling name=H,K,eta,aggregation[,spacing]`)."""
    hypotheses: int = 1
    k: int = 1
    eta: float = 0.0
    aggregation: str = "mean"
    spacing: str = "uniform"

    @classmethod
    def parse(cls, text: str) -> "Sampling":
        h, k, eta, aggregation, *spacing = text.split(",")
        return cls(int(h), int(k), float(eta), aggregation, *spacing)

    def describe(self) -> str:
        return f"H={self.hypotheses} K={self.k}" + (f" eta={self.eta:g}" if self.eta else "") + \
            (f" {self.spacing}" if self.spacing != "uniform" else "") + (f" {self.aggregation}" if self.hypotheses > 1 else "")


def lift(model, sequences: list[SequenceArrays], mounts: list[CameraMount], sampling: Sampling | None = None,
         **kwargs) -> list[Prediction]:
    """Root-relative 3D in each camera's frame (float64), lifted in the camera the model reads (each
    sequence's mount), mirrored; `sampling` overrides the hypotheses, steps and aggregation given."""
    if sampling is not None:
        kwargs.update(hypotheses=sampling.hypotheses, k=sampling.k, eta=sampling.eta, aggregation=sampling.aggregation,
                      spacing=sampling.spacing)
    return [Prediction(p.pose.astype(np.float64), p.spread) for p in predict_views(model, sequences, mount=mounts, flip=True, **kwargs)]


def rig_views(rig: str, part: str, renders: Renders, **filter_settings: float) -> tuple[CameraViews, list[CameraMount]]:
    """A rig's views of the `part` subjects, 2D through a One-Euro filter (the node's defaults, or
    KeypointFilter `filter_settings`), with each view's true mount (the randomised rig's from `prepare`; height 1 m:
    lifting needs only the up direction)."""
    data = smoothed_views(renders.views(f"{rig}_{part}"), **filter_settings)
    if rig == "randomized":
        return data, [CameraMount.from_up(up, 1.0, "rig") for up in np.load(renders.level_data / f"randomized_{part}_ups.npy")]
    spec = Rig.load(rig)
    return data, [CameraMount(1.0, spec.pitch_deg, spec.roll_deg, "rig")] * len(data.sequences)


def load_models(specs: list[str], lifting_camera: str = "level") -> tuple[dict, dict]:
    """name=checkpoint pairs -> (lifters marked as reading `lifting_camera` - checkpoints from before
    LifterConfig.lifting_camera existed carry none -, the 2D filter settings the node runs in front of each)."""
    models, filters = {}, {}
    for name, path in (spec.split("=", 1) for spec in specs):
        models[name], meta = checkpoint.load(REPO / path)
        models[name].config.lifting_camera = lifting_camera
        filters[name] = node_filter_settings(meta)
    return models, filters


def fed_rig(rig: str, part: str, renders: Renders, filters: dict[str, dict]) -> tuple[dict[str, list[SequenceArrays]], list[CameraMount]]:
    """A rig's views prepared for each model, through the 2D filter the node runs in front of it (each
    setting filtered once), and each view's true mount."""
    prepared = {}
    for settings in filters.values():
        key = tuple(sorted(settings.items()))
        if key not in prepared:
            data, mounts = rig_views(rig, part, renders, **settings)
            prepared[key] = prepare(data)
    return {name: prepared[tuple(sorted(settings.items()))] for name, settings in filters.items()}, mounts


def solved_roots(poses: list[np.ndarray], sequences: list[SequenceArrays]) -> list[np.ndarray]:
    """Each pose's root (camera frame, metres) solved from its 2D, as the node places the skeleton."""
    return [solve_root(pose, s.keypoints_2d.astype(np.float64), s.camera[None, :2], s.camera[None, 2:],
                       np.clip(s.confidence, 1e-3, 1.0)) for pose, s in zip(poses, sequences)]


def floor_sized(poses: list[np.ndarray], sequences: list[SequenceArrays], mounts: list[CameraMount],
                min_ankle_ray_deg: float = MIN_ANKLE_RAY_DEG, roots: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Root-relative poses (metres, camera frame) as the node publishes them with a camera mount: the root
    solved from the 2D (or `roots`, solved_roots' once), each sequence (a track) sized from the floor
    (adaptation.floor.PersonScale)."""
    roots = solved_roots(poses, sequences) if roots is None else roots
    return [pose * PersonScale(mount, min_ankle_ray_deg=min_ankle_ray_deg).along(pose, root, s.confidence)[:, None, None]
            for pose, s, mount, root in zip(poses, sequences, mounts, roots)]


def with_floor(mount: CameraMount, sequence: SequenceArrays) -> CameraMount:
    """A render's mount (the true up) with the camera height that puts the floor ANKLES_ABOVE_FLOOR_M below
    the person's lowest ankle, as on a real floor (the renders place the lowest joint on it)."""
    ankles = sequence.pose_3d[:, list(ANKLES)] + sequence.root_3d[:, None]
    return replace(mount, height_m=ANKLES_ABOVE_FLOOR_M - float((ankles @ mount.up_in_camera()).min()))


def synthetic_rows(part: str, models: dict, filters: dict, renders: Renders, samplings: dict,
                   rigs: list[str] | tuple[str, ...] = RIGS, window: str = "stitched") -> list[dict]:
    """MPJPE / P-MPJPE and acceleration error per rig and model, with the given windows
    (adaptation.clips: covering windows stitched, or one per frame as the node runs); also MPJPE on the bent-over frames (trunk more than
    real_video.BENT_OVER_DEG from vertical), the poses where the real-video gap between models is,
    and how far the hypotheses spread (RMS distance from their mean) against the error."""
    rows = []
    for rig in rigs:
        fed, mounts = fed_rig(rig, part, renders, filters)
        sequences = next(iter(fed.values()))        # the truth, whatever the 2D filter
        truth = np.concatenate([s.pose_3d for s in sequences]) * 1000.0
        bent = np.concatenate([trunk_inclination_deg(s.pose_3d, m.up_in_camera()) for s, m in zip(sequences, mounts)]) > real_video.BENT_OVER_DEG
        floors = [with_floor(m, s) for m, s in zip(mounts, sequences)]
        for name, model in models.items():
            predictions = lift(model, fed[name], mounts, samplings.get(name), window=window)
            poses = np.concatenate([p.pose for p in predictions]) * 1000
            joint_errors = np.linalg.norm(poses - truth, axis=-1)
            errors = joint_errors.mean(-1)
            spread = np.concatenate([p.spread for p in predictions])
            floored = floor_sized([p.pose for p in predictions], fed[name], floors)
            floor_errors = np.linalg.norm(np.concatenate(floored) * 1000 - truth, axis=-1)
            rows.append({"part": part, "rig": rig, "model": name, "frame": model.config.lifting_camera,
                         "mpjpe_mm": round(float(errors.mean()), 2), "p_mpjpe_mm": round(p_mpjpe(poses, truth), 2),
                         "floor_sized_mpjpe_mm": round(float(floor_errors.mean()), 2),
                         "size_ratio": round(float(bone_lengths(poses).sum(-1).mean() / bone_lengths(truth).sum(-1).mean()), 3),
                         "accel_error_mm": round(sequences_acceleration_error([p.pose * 1000 for p in predictions],
                                                                              [s.pose_3d * 1000.0 for s in sequences]), 2),
                         "bent_over_mpjpe_mm": round(float(errors[bent].mean()), 2), "bent_over_fraction": round(float(bent.mean()), 3),
                         "spread_mm": round(float(spread.mean() * 1000), 2),
                         "spread_rank_within_joint": round(calibration_report(spread, joint_errors / 1000)["rank_correlation_within_joint"], 3)})
            print(rows[-1], flush=True)
    return rows


def uncertainty_rows(part: str, models: dict, filters: dict, calibrations: dict, renders: Renders) -> list[dict]:
    """The shipped uncertainty calibration (model.json, H=3) as the node runs it (causal windows,
    mirrored, filtered 2D) on every rig: mean predicted / mean actual error, rank correlation."""
    rows = []
    for rig in RIGS:
        for name, fitted in calibrations.items():
            data, mounts = rig_views(rig, part, renders, **filters[name])
            report = evaluate(models[name], data, hypotheses=3, flip=True, window="causal", calibration=for_hypotheses(fitted, 3),
                              mount=mounts)
            rows.append({"part": "uncertainty", "rig": rig, "model": name, "mpjpe_mm": round(report["overall"]["mpjpe_mm"], 2),
                         "ratio": round(report["uncertainty"]["ratio"], 2),
                         "rank_correlation": round(report["uncertainty"]["rank_correlation"], 2)})
            print(rows[-1], flush=True)
    return rows


def real_video_rows(models: dict, filters: dict, samplings: dict) -> list[dict]:
    truth = real_video.pseudo_ground_truth()
    meta = truth["meta"]
    mounts = {c.name: real_video.camera_mount(c) for c in truth["cameras"]}
    rows = []
    for name, model in models.items():
        prepared = real_video.fed_runs(truth, filters[name])
        for view in truth["views"] + ["all"]:
            keep = [i for i, m in enumerate(meta) if view in ("all", m["view"])]
            poses = [p.pose for p in lift(model, [prepared[i] for i in keep], [mounts[meta[i]["view"]] for i in keep],
                                          samplings.get(name, Sampling(hypotheses=3)), window="causal")]
            sized = floor_sized(poses, [prepared[i] for i in keep], [mounts[meta[i]["view"]] for i in keep])
            p, t = np.concatenate(sized) * 1000, np.concatenate([prepared[i].pose_3d for i in keep]) * 1000.0
            rows.append({"part": "real video", "rig": view, "model": name, "frame": model.config.lifting_camera,
                         "mpjpe_mm": round(float(np.linalg.norm(p - t, axis=-1).mean()), 2), "p_mpjpe_mm": round(p_mpjpe(p, t), 2),
                         "lean_bias_deg": round(float(np.mean(real_video.torso_lean_deg(p) - real_video.torso_lean_deg(t))), 2)})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("prepare", "evaluate"))
    parser.add_argument("--part", choices=("val", "test"), default="val")
    parser.add_argument("--level", nargs="*", default=[], help="name=checkpoint trained on levelled views")
    parser.add_argument("--camera", nargs="*", default=[], help="name=checkpoint trained on camera views")
    parser.add_argument("--sampling", nargs="*", default=[],
                        help="name=H,K,eta,aggregation[,spacing]: how that model's hypotheses are drawn and combined "
                             "(default 1,1,0,mean on the renders, 3,1,0,mean on the real video)")
    parser.add_argument("--rigs", nargs="*", choices=RIGS, default=list(RIGS), help="the rigs scored (default all)")
    parser.add_argument("--no-real-video", action="store_true", help="skip the real video (val part)")
    parser.add_argument("--window", choices=WINDOWS[:3], default="stitched",
                        help="the renders' windows: covering (stitched) or one per frame as the node runs (causal: its default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="", help="results under level_camera_<part>_<tag> (another comparison beside the decision's)")
    parser.add_argument("--noise", type=float, default=NOISE, help="the renders' detector noise, x the person's 2D height")
    parser.add_argument("--outlier-rate", type=float, default=OUTLIER_RATE, help="the renders' share of joints with gross 2D errors")
    parser.add_argument("--level-data", default=None,
                        help=f"where prepare puts (and evaluate finds) those renders' levelled views (default {LEVEL_DATA.relative_to(REPO)}, "
                             "for the standard renders only)")
    args = parser.parse_args()
    if args.level_data is None:
        if (args.noise, args.outlier_rate) != (NOISE, OUTLIER_RATE):
            parser.error(f"renders with another --noise or --outlier-rate need their own --level-data "
                         f"({LEVEL_DATA.relative_to(REPO)} holds the standard renders' levelled views)")
        args.level_data = str(LEVEL_DATA)
    torch.set_num_threads(args.threads)
    renders = Renders(args.noise, args.outlier_rate, Path(args.level_data))
    if args.command == "prepare":
        prepare_level_views(renders)
        return
    models, filters, calibrations = {}, {}, {}
    for frame, specs in (("level", args.level), ("upright", args.camera)):
        loaded, their_filters = load_models(specs, frame)
        models.update(loaded)
        filters.update(their_filters)
        for name, path in (s.split("=", 1) for s in specs):
            fitted = calibrations_from_card(checkpoint.card_beside(REPO / path))   # a shipped model: its uncertainty too
            if fitted:
                calibrations[name] = fitted

    try:
        samplings = {name: Sampling.parse(text) for name, text in (s.split("=", 1) for s in args.sampling)}
    except ValueError as error:
        parser.error(f"--sampling takes name=H,K,eta,aggregation[,spacing] ({error})")
    if set(samplings) - set(models):
        parser.error(f"--sampling names no model: {sorted(set(samplings) - set(models))}")
    rows = synthetic_rows(args.part, models, filters, renders, samplings, args.rigs, args.window)
    rows += real_video_rows(models, filters, samplings) if args.part == "val" and not args.no_real_video else []
    checked = uncertainty_rows(args.part, models, filters, calibrations, renders) if args.part == "test" else []
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    stem = f"level_camera_{args.part}" + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "renders": renders.describe(), "level": args.level, "camera": args.camera, "sampling": args.sampling,
                                                      "rows": rows, "uncertainty": checked}, indent=1))
    names = list(models)
    places = list(dict.fromkeys((r["part"], r["rig"]) for r in rows))
    headers = [f"{n} ({models[n].config.lifting_camera} camera" + (f", {samplings[n].describe()}" if n in samplings else "") + ")" for n in names]
    lines = ["| data | " + " | ".join(headers) + " |", "|---" * (len(names) + 1) + "|"]
    for part, rig in places:
        cells = []
        for n in names:
            r = next(r for r in rows if (r["part"], r["rig"], r["model"]) == (part, rig, n))
            cells.append(f"{r['mpjpe_mm']:.1f} / {r['p_mpjpe_mm']:.1f}" + (f", lean {r['lean_bias_deg']:+.1f}°" if "lean_bias_deg" in r else "")
                         + (f", accel {r['accel_error_mm']:.1f}" if "accel_error_mm" in r else "")
                         + (f", floor-sized {r['floor_sized_mpjpe_mm']:.1f}, size x{r['size_ratio']:.3f}" if "floor_sized_mpjpe_mm" in r else ""))
        lines.append(f"| {part}: {rig} | " + " | ".join(cells) + " |")
    synthetic = [(part, rig) for part, rig in places if part != "real video"]
    lines += ["", f"MPJPE mm on the bent-over frames only (trunk more than {real_video.BENT_OVER_DEG:.0f} degrees from vertical; "
              "their share in brackets):", "",
              "| data | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for part, rig in synthetic:
        picked = [next(r for r in rows if (r["part"], r["rig"], r["model"]) == (part, rig, n)) for n in names]
        lines.append(f"| {part}: {rig} ({picked[0]['bent_over_fraction']:.0%}) | " + " | ".join(f"{r['bent_over_mpjpe_mm']:.1f}" for r in picked) + " |")
    spread = [n for n in names if samplings.get(n, Sampling()).hypotheses > 1]
    if spread:
        lines += ["", "Hypothesis spread (mean RMS distance of the H hypotheses from their mean) over MPJPE, and how well "
                  "it ranks the error within each joint (Spearman, mean over joints):", "",
                  "| data | " + " | ".join(spread) + " |", "|---" * (len(spread) + 1) + "|"]
        for part, rig in synthetic:
            picked = [next(r for r in rows if (r["part"], r["rig"], r["model"]) == (part, rig, n)) for n in spread]
            lines.append(f"| {part}: {rig} | " + " | ".join(f"{r['spread_mm'] / r['mpjpe_mm']:.1%}, {r['spread_rank_within_joint']:.2f}"
                                                            for r in picked) + " |")
    if checked:
        lines += ["", "Shipped uncertainty as the node runs it (H=3 + mirroring, causal windows): "
                  "MPJPE mm, mean predicted / mean actual error, rank correlation.", "",
                  "| model | rig | MPJPE mm | ratio | rank correlation |", "|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['rig']} | {r['mpjpe_mm']:.1f} | {r['ratio']:.2f} | {r['rank_correlation']:.2f} |" for r in checked]
    command = " ".join(f"--{k} {' '.join(v)}" for k, v in (("level", args.level), ("camera", args.camera)) if v)
    command += f" --sampling {' '.join(args.sampling)}" if args.sampling else ""
    command += f" --rigs {' '.join(args.rigs)}" if args.rigs != list(RIGS) else ""
    command += " --no-real-video" if args.no_real_video else ""
    command += f" --window {args.window}" if args.window != "stitched" else ""
    command += f" --tag {args.tag}" if args.tag else ""
    if renders != Renders():
        command += f" --noise {renders.noise:g} --outlier-rate {renders.outlier_rate:g} --level-data {args.level_data}"
    (RESULTS / f"{stem}.md").write_text(
        f"# The level camera, {args.part} subjects" + (" and real video" if any(r["part"] == "real video" for r in rows) else "") + "\n\n"
        f"Command: `.venv/bin/python benchmarks/level_camera.py evaluate --part {args.part} {command}`. Machine: {machine}.\n"
        "MPJPE / P-MPJPE mm, root-relative. Synthetic: H=1 + mirroring unless a column says otherwise, "
        + ("covering windows" if args.window == "stitched" else f"{args.window} windows (one per frame, as the node runs)")
        + ", acceleration error mm/frame², floor-sized: MPJPE of the pose as the node publishes it with the camera mount "
        "(sized from the floor per sequence, adaptation.floor), size: the lifter's own skeleton size over the truth's "
        "(summed bone lengths), 2D through each model's own filter, "
        f"the true camera up, {renders.describe()}. Real video (Pose2Sim, 309 frames, val only): H=3 (or the column's sampling) + mirroring, causal windows, sized "
        "from the floor with each view's mount, not adapted; lean = torso lean predicted minus true.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
