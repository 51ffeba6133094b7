"""`adapt`: robot bags (or a 2D camera-view dataset) -> a PoSynDA-adapted lifter model directory.

  bags -> images + camera_info -> MediaPipe (video mode) -> person tracks (2D, target domain)
  camera mount: --mount, else /tf_static in the bags, else estimated from the tracks
  bundled mocap -> source views (rig of the base model) + world-frame clips -+-> adaptation.adapt -> export
  base model ----------------------------------------------------------------+

Output directory: lifter.pt, lifter.onnx, model.json (the card, with the camera adapted to),
target_views.npz (the 2D tracks used), report.json and adapt_loss.png. It is written under
<out>.partial and renamed at the very end, so an interrupted run never looks complete.
Under torchrun every process adapts on its own batches (DistributedDataParallel); rank 0 writes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch.distributed as dist
from tqdm import tqdm

from adaptation import checkpoint
from adaptation.adapt import AdaptConfig, adapt, is_main_process
from adaptation.camera import Intrinsics
from adaptation.clips import prepare
from adaptation.dataset import CameraViews, Sequence
from adaptation.export import export_model_dir
from adaptation.keypoint_filter import as_fed, filter_settings, node_filter_settings, smoothed_views
from adaptation.mount import CameraMount, check_against_tracks, estimate
from adaptation.runtime import bundled_model_dir
from adaptation.train import add_dataclass_arguments, config_from_arguments
from adaptation.views import BUNDLED_MOCAP, NOISE, OUTLIER_RATE, Rig, load_mocap, render, training_2d_noise
from posynda_ros.window import time_jumped


def tracks_from_bags(paths: list[Path], image_topic: str | None, info_topic: str | None,
                     max_gap_s: float = 0.5, min_frames: int = 3) -> CameraViews:
    """Run MediaPipe over every image and cut the detections into tracks at gaps, time jumps and camera
    changes. Raw 2D: main() smooths it with the 2D filter the node runs in front of the base model."""
    from posynda_ros.bags import read_camera_frames
    from posynda_ros.keypoints import PoseDetector

    detector = PoseDetector(max_gap_s=max_gap_s)
    sequences: list[Sequence] = []
    current: list[tuple[float, np.ndarray, np.ndarray]] = []
    current_camera: Intrinsics | None = None
    frames_seen = 0

    def close_track() -> None:
        if len(current) >= min_frames:
            stamps = np.array([s for s, _, _ in current])
            fps = float(1 / np.median(np.diff(stamps))) if len(stamps) > 1 else 30.0
            sequences.append(Sequence(f"track{len(sequences)}", np.stack([k for _, k, _ in current]).astype(np.float32),
                                      np.stack([c for _, _, c in current]).astype(np.float32), current_camera, fps))
        current.clear()

    for stamp, rgb, camera in tqdm(read_camera_frames(paths, image_topic, info_topic), desc="keypoints", unit="img"):
        frames_seen += 1
        if (rgb.shape[1], rgb.shape[0]) != (camera.width, camera.height):
            raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but camera_info says {camera.width}x{camera.height}")
        detection = detector.detect(rgb, stamp)
        jumped = bool(current) and time_jumped(current[-1][0], stamp, max_gap_s)
        if detection is None or jumped or camera != current_camera:
            close_track()
        current_camera = camera
        if detection is not None:
            current.append((stamp, detection.keypoints_px, detection.confidence))
    close_track()
    detector.close()
    if frames_seen == 0:
        raise ValueError("the image topic has no messages")
    if not sequences:
        raise ValueError(f"no person detected in {frames_seen} images (need tracks of >= {min_frames} frames)")
    return CameraViews(sequences)


def source_views_for(base_card: dict, seed: int) -> CameraViews:
    """Labelled source views as the base model was trained on them: the bundled mocap through its rig,
    with its training 2D noise, through the node's filter when it was trained so (with source_noise,
    the augmentation carries this 2D's detector noise over to the re-projected source)."""
    rig = Rig.load(base_card.get("source_rig", "randomized"))
    noise, outlier_rate = training_2d_noise(base_card)
    views = render(load_mocap(BUNDLED_MOCAP), rig, seed=seed, noise=noise, outlier_rate=outlier_rate)
    return as_fed(views, base_card)


def with_base_model_noise(config: AdaptConfig, base_card: dict) -> AdaptConfig:
    """A base model trained on 2D with another noise than the standard renders' is fine-tuned on source
    2D that carries that noise (source_noise on): clean re-projections pull a model trained on noisier
    2D back towards clean 2D
    (benchmarks/README.md, "Trained on MediaPipe-like 2D noise": -2.6 mm on real video instead of -0.9)."""
    noise, outlier_rate = training_2d_noise(base_card)
    if (noise, outlier_rate) == (NOISE, OUTLIER_RATE) or config.source_noise:
        return config
    print(f"adapt: the base model was trained on 2D noise {noise:g} of the height ({outlier_rate:g} outliers): "
          "source 2D rendered so and carried to the target (source_noise on)")
    return dataclasses.replace(config, source_noise=True)


def resolve_mount(explicit: CameraMount | None, bags: list[Path], info_topic: str | None, base_frame: str | None,
                  target: CameraViews) -> CameraMount | None:
    """--mount, else /tf_static, else the estimate from the target 2D (None when that is impossible);
    an explicit mount that contradicts /tf_static, or one the 2D cannot have come from, is an error."""
    from posynda_ros.bags import read_camera_mount

    tracks = [s.keypoints_2d for s in prepare(target.without_labels())]
    from_tf = read_camera_mount(bags, info_topic, base_frame) if bags else None
    mount = explicit or from_tf
    if explicit and from_tf and (problem := mount.differs_from(from_tf)):
        raise ValueError(f"contradictory camera mount: --mount and {from_tf.source} disagree ({problem})")
    if mount is None:
        try:
            mount = estimate(tracks)
        except ValueError as error:
            print(f"adapt: camera mount unknown ({error}); source placed by 2D only", file=sys.stderr)
            return None
    check_against_tracks(mount, tracks)
    print(f"adapt: camera mount from {mount.source}: {mount.describe()}")
    return mount


def source_mocap(path: Path, subjects: list[str] | None) -> list[np.ndarray]:
    """World-frame source sequences for mount-aware augmentation."""
    mocap = load_mocap(path)
    unknown = sorted(set(subjects or []) - set(mocap))
    if unknown:
        raise ValueError(f"unknown --source-subjects {unknown}; {path} has {sorted(mocap)}")
    return [seq for subject in (subjects or sorted(mocap)) for seq in mocap[subject].values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="adapt", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bags", nargs="*", type=Path, help="rosbag2 directories or files (sqlite3 or MCAP)")
    parser.add_argument("--views", type=Path, help="instead of bags: a 2D camera-view dataset (.npz) of the target camera, "
                        "already through the node's 2D filter (used as given)")
    parser.add_argument("--image-topic", help="sensor_msgs/Image or CompressedImage topic (detected when unambiguous)")
    parser.add_argument("--camera-info-topic", help="sensor_msgs/CameraInfo topic (detected when unambiguous)")
    parser.add_argument("--base-model", type=Path, default=None,
                        help="model directory (or .pt) to adapt; default: the shipped model (level when the mount is known)")
    parser.add_argument("--source-views", type=Path, help="labelled source views (.npz); default: bundled mocap rendered")
    parser.add_argument("--source-mocap", type=Path, default=BUNDLED_MOCAP,
                        help="world-frame mocap (.npz, h36m17 mm, y up) viewed through the camera mount; default: bundled")
    parser.add_argument("--source-subjects", nargs="*", help="subjects of --source-mocap to use (default: all)")
    parser.add_argument("--mount", help="camera mount: a YAML file or inline 'height_m: 0.4, pitch_deg: -10, roll_deg: 0' "
                        "(pitch > 0 looks down) or a URDF joint 'xyz: [x, y, z], rpy: [r, p, y]'; "
                        "default: /tf_static in the bags, else estimated from the 2D")
    parser.add_argument("--base-frame", help="tf frame on the floor for /tf_static (default: the root of the camera's tree)")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_dataclass_arguments(parser, AdaptConfig)
    args = parser.parse_args(argv)
    config = config_from_arguments(args, AdaptConfig)
    command = "adapt " + shlex.join(sys.argv[1:] if argv is None else [str(a) for a in argv])
    partial = args.out.with_name(args.out.name + ".partial")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    try:
        if bool(args.bags) == bool(args.views):
            raise ValueError("give either bag paths or --views (not both, not neither)")
        if args.out.exists() and not args.overwrite:
            raise ValueError(f"{args.out} exists; pass --overwrite to replace it")
        explicit_mount = CameraMount.parse(args.mount) if args.mount else None   # checked before the long work
        if distributed:
            import torch
            dist.init_process_group("nccl" if torch.cuda.is_available() and config.device != "cpu" else "gloo")
        started = time.time()
        detected = None if args.views else tracks_from_bags(args.bags, args.image_topic, args.camera_info_topic)
        target = CameraViews.load(args.views) if args.views else smoothed_views(detected)
        mount = resolve_mount(explicit_mount, args.bags, args.camera_info_topic, args.base_frame, target)
        mocap = source_mocap(args.source_mocap, args.source_subjects) if mount and config.mount_augmentation else None
        base_model = args.base_model or bundled_model_dir(mocap is not None and config.augmentation)  # level: source seen through the mount
        base_path = base_model / "lifter.pt" if base_model.is_dir() else base_model
        student, base_meta = checkpoint.load(base_path)
        base_card = checkpoint.card_beside(base_path)
        if detected is not None:       # as the node will feed the adapted lifter: through the base model's filter
            target = smoothed_views(detected, **node_filter_settings(base_card))
        source = CameraViews.load(args.source_views) if args.source_views else source_views_for(base_card, config.seed)
        config = with_base_model_noise(config, base_card)
        if is_main_process():
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            target.without_labels().save(partial / "target_views.npz")
        model, history = adapt(student, source, target, config, log_dir=partial if is_main_process() else None,
                               mount=mount, source_mocap=mocap)
        if is_main_process():
            cameras = sorted({dataclasses.astuple(s.intrinsics) for s in target.sequences})
            card = {"command": command, "base_model": str(base_path), "source_rig": base_card.get("source_rig"),
                    "adapted_to_cameras": [dict(zip([f.name for f in dataclasses.fields(Intrinsics)], c)) for c in cameras],
                    "adapt_config": dataclasses.asdict(config), "target_frames": target.num_frames,
                    "camera_mount": mount.to_dict() if mount else None, "selected_step": history["selected_step"],
                    "target_tracks": len(target.sequences), "keypoint_filter": filter_settings(base_card)}
            # not re-fitted (that needs target 3D): the base model's, fitted on its source validation views
            card["uncertainty"] = [{**entry, "fitted_on": "base model: " + entry.get("fitted_on", "")}
                                   for entry in base_card.get("uncertainty", [])]
            # test-time mirroring as the base model had it: the node lifts in the upright or level camera, where a mirror image is one it could take
            export_model_dir(model, partial, k=1, flip=bool(base_card.get("flip", False)), **card)
            report = {**card, "history": history, "wall_time_s": round(time.time() - started, 1)}
            (partial / "report.json").write_text(json.dumps(checkpoint.json_safe(report), indent=1))
            if args.out.exists():
                shutil.rmtree(args.out)
            os.replace(partial, args.out)
            kept = (f"step {history['selected_step']} of {config.steps} kept (--select_by {config.select_by})"
                    if history["selected_step"] else
                    f"no step scored better than the base model on held-out target 2D (--select_by {config.select_by}): "
                    "the output is the base model")
            print(f"adapt: {target.num_frames} target frames in {len(target.sequences)} tracks; {kept}; "
                  f"adapted model -> {args.out} ({report['wall_time_s']} s)")
    except (OSError, ValueError, RuntimeError) as error:
        print(f"adapt: error: {error}", file=sys.stderr)
        return 1
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
