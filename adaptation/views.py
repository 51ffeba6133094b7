"""Render camera views of 3D mocap through a camera rig into the camera-view dataset format.

World frame: y up, metres, floor near y = 0 (the shared mocap's frame; Human3.6M z-up data is
rotated into it on load). A rig (YAML under adaptation/rigs/) places cameras around each
sequence: fixed `cameras` (studio), or `views_per_sequence` random draws from ranges (robot,
randomised). `render_views` is the CLI.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from adaptation.camera import Intrinsics, look_rotation
from adaptation.dataset import CameraViews, Sequence
from adaptation.mount import CameraMount
from adaptation.skeleton import NUM_JOINTS, ROOT, check_joints

RIGS_DIR = Path(__file__).with_name("rigs")
BUNDLED_MOCAP = Path(__file__).with_name("data") / "cmu_hdm05_h36m17.npz"   # CMU + HDM05 (README, licences)
MM_PER_M = 1000.0
# VideoPose3D keeps these 17 of Human3.6M's 32 joints, in our order.
H36M32_TO_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


# --- mocap loading (units and axes converted here, at the edge) -------------------------------

def load_mocap(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Shared-mocap npz ('<subject>/<sequence>/h36m17', mm, y-up) -> {subject: {sequence: (T,17,3) m}}."""
    with np.load(path, allow_pickle=False) as data:
        keys = [k for k in data.files if k.endswith("/h36m17")]
        if not keys:
            raise ValueError(f"{path}: no '<subject>/<sequence>/h36m17' arrays; is this the open mocap npz?")
        out: dict[str, dict[str, np.ndarray]] = {}
        for key in keys:
            subject, sequence, _ = key.split("/")
            poses = data[key].astype(np.float64) / MM_PER_M
            check_joints(poses, f"{path}: {key}", channels=3)
            out.setdefault(subject, {})[sequence] = poses
    return out


def load_videopose3d_h36m(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """VideoPose3D's data_3d_h36m.npz (32 joints, metres, z-up) -> the same structure as load_mocap."""
    with np.load(path, allow_pickle=True) as data:  # that file stores a pickled dict
        if "positions_3d" not in data.files:
            raise ValueError(f"{path}: no 'positions_3d'; expected VideoPose3D's data_3d_h36m.npz")
        positions = data["positions_3d"].item()
    out = {}
    for subject, actions in positions.items():
        for action, poses in actions.items():
            if poses.ndim != 3 or poses.shape[1:] != (32, 3):
                raise ValueError(f"{path}: {subject}/{action} has shape {poses.shape}, expected (T, 32, 3)")
            zup = poses[:, H36M32_TO_17].astype(np.float64)
            out.setdefault(subject, {})[action.replace(" ", "_")] = np.stack([zup[..., 0], zup[..., 2], -zup[..., 1]], -1)
    return out


# --- rigs ---------------------------------------------------------------------------------------

@dataclass
class Rig:
    """Where cameras stand relative to a sequence; ranges are [low, high], sampled uniformly."""

    name: str
    image_size: list[list[int]]
    focal_px: list[float] | None = None
    focal_px_per_width: list[float] | None = None
    principal_jitter_px: float = 0.0
    aim_height_m: float | list[float] = 1.0
    cameras: list[dict] = field(default_factory=list)
    views_per_sequence: int = 1
    azimuth_deg: list[float] = field(default_factory=lambda: [0.0, 360.0])
    distance_m: list[float] = field(default_factory=lambda: [3.0, 5.0])
    height_m: list[float] = field(default_factory=lambda: [1.0, 1.5])
    yaw_in_view: float = 0.0
    pitch_deg: float | list[float] | None = None   # a fixed mount (robot): pitch and roll instead of aiming
    roll_deg: float | list[float] = 0.0
    min_depth_m: float = 0.5
    min_in_view_fraction: float = 0.5   # re-draw a camera that shows the whole body in fewer frames
    max_redraws: int = 20

    @classmethod
    def load(cls, path: str | Path) -> "Rig":
        path = Path(path)
        if not path.is_file() and (RIGS_DIR / f"{path}.yaml").is_file():
            path = RIGS_DIR / f"{path}.yaml"  # a bundled rig by name
        try:
            spec = yaml.safe_load(path.read_text())
            rig = cls(**spec)
        except (OSError, yaml.YAMLError, TypeError) as error:
            raise ValueError(f"rig {path}: {error}") from error
        if (rig.focal_px is None) == (rig.focal_px_per_width is None):
            raise ValueError(f"rig {path}: give exactly one of focal_px and focal_px_per_width")
        return rig


def _uniform(rng: np.random.Generator, value) -> float:
    return float(rng.uniform(value[0], value[1])) if isinstance(value, (list, tuple)) else float(value)


def place_camera(world: np.ndarray, rig: Rig, camera: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Intrinsics]:
    """Rotation, centre and intrinsics of one camera looking at a sequence (world (T,17,3) m)."""
    width, height = rig.image_size[rng.integers(len(rig.image_size))]
    focal = _uniform(rng, rig.focal_px) if rig.focal_px is not None else _uniform(rng, rig.focal_px_per_width) * width
    jitter = rig.principal_jitter_px
    intrinsics = Intrinsics(focal, focal, width / 2 + rng.uniform(-jitter, jitter),
                            height / 2 + rng.uniform(-jitter, jitter), int(width), int(height))
    centre_xz = world[:, ROOT, [0, 2]].mean(0)
    floor = world[..., 1].min()
    azimuth = np.radians(_uniform(rng, camera.get("azimuth_deg", rig.azimuth_deg)))
    distance = _uniform(rng, camera.get("distance_m", rig.distance_m))
    camera_height = _uniform(rng, camera.get("height_m", rig.height_m))
    position = np.array([centre_xz[0] + distance * np.sin(azimuth), floor + camera_height,
                         centre_xz[1] + distance * np.cos(azimuth)])
    def yaw_in_view() -> float:   # turn the camera so the person lands anywhere across the image
        return rng.uniform(-1, 1) * rig.yaw_in_view * np.arctan(width / (2 * focal)) if rig.yaw_in_view > 0 else 0.0

    if rig.pitch_deg is not None:   # mounted: the camera turns toward the person, its pitch and roll are the mount's
        mount = CameraMount(camera_height, _uniform(rng, rig.pitch_deg), _uniform(rng, rig.roll_deg), "rig")
        rotation = mount.rotation(np.arctan2(centre_xz[0] - position[0], centre_xz[1] - position[2]) + yaw_in_view())
    else:
        target = np.array([centre_xz[0], floor + _uniform(rng, rig.aim_height_m), centre_xz[1]])
        yaw = yaw_in_view()
        c, s = np.cos(yaw), np.sin(yaw)
        rotation = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]) @ look_rotation(target - position)
    depth = (world - position) @ rotation[2]
    if depth.min() < rig.min_depth_m:  # never let the person walk into or behind the camera
        position = position - rotation[2] * (rig.min_depth_m - depth.min())
    return rotation, position, intrinsics


NOISE = 0.01          # the standard renders' detector noise: 1% of the person's 2D height per axis
OUTLIER_RATE = 0.01   # default share of joints with a gross detector error (add_detector_noise)


def training_2d_noise(card: dict) -> tuple[float, float]:
    """(noise, outlier rate) of the renders a model card's lifter was trained on; the standard ones
    when the card does not say (every model shipped before session 14)."""
    recorded = card.get("training_2d_noise") or {}
    return float(recorded.get("noise", NOISE)), float(recorded.get("outlier_rate", OUTLIER_RATE))


def add_detector_noise(pixels: np.ndarray, level: float, rng: np.random.Generator,
                       outlier_rate: float = OUTLIER_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like 2D noise: temporally correlated jitter of `level` x the person's 2D height,
    plus gross outliers (a share `outlier_rate` of the joints, 10% of that height); returns noisy
    pixels and a matching confidence in [0, 1]."""
    frames = len(pixels)
    person_height = np.ptp(pixels[..., 1], axis=-1, keepdims=True)[..., None]      # (T,1,1)
    white = rng.normal(size=pixels.shape)
    correlated = np.empty_like(white)
    correlated[0] = white[0]
    for t in range(1, frames):  # AR(1), rho 0.8: detector errors persist over a few frames
        correlated[t] = 0.8 * correlated[t - 1] + 0.6 * white[t]
    error = level * person_height * correlated
    outliers = rng.uniform(size=pixels.shape[:2]) < outlier_rate
    error[outliers] += rng.normal(scale=0.1, size=(outliers.sum(), 2)) * person_height.repeat(NUM_JOINTS, 1)[outliers]
    relative = np.linalg.norm(error, axis=-1) / person_height[..., 0]
    confidence = np.exp(-((relative / 0.1) ** 2))
    return pixels + error, confidence.astype(np.float32)


def _view_mostly_in_image(world: np.ndarray, rig: Rig, camera: dict, rng: np.random.Generator):
    """Camera-frame points, pixels and intrinsics of a camera draw that shows the whole body in at
    least `min_in_view_fraction` of the frames (re-drawn up to `max_redraws` times; else the best draw)."""
    best, best_fraction = None, -1.0
    for _ in range(rig.max_redraws + 1):
        rotation, position, intrinsics = place_camera(world, rig, camera, rng)
        points = (world - position) @ rotation.T
        pixels = intrinsics.pixels_of(points)
        fraction = float(intrinsics.in_view(pixels).mean())
        if fraction > best_fraction:
            best, best_fraction = (points, pixels, intrinsics), fraction
        if fraction >= rig.min_in_view_fraction:
            break
    return best


def render(mocap: dict[str, dict[str, np.ndarray]], rig: Rig, seed: int = 0, noise: float = 0.0,
           min_frames: int = 1, outlier_rate: float = OUTLIER_RATE) -> CameraViews:
    """Every sequence through every camera of the rig -> a labelled CameraViews."""
    rng = np.random.default_rng(seed)
    cameras = rig.cameras or [{}] * rig.views_per_sequence
    sequences = []
    for subject in sorted(mocap):
        for name in sorted(mocap[subject]):
            world = mocap[subject][name]
            if len(world) < min_frames:
                continue
            for index, camera in enumerate(cameras):
                points, pixels, intrinsics = _view_mostly_in_image(world, rig, camera, rng)
                confidence = np.ones(pixels.shape[:2], np.float32)
                if noise > 0:
                    pixels, confidence = add_detector_noise(pixels, noise, rng, outlier_rate)
                sequences.append(Sequence(f"{subject}/{name}/{rig.name}{index}", pixels.astype(np.float32),
                                          confidence, intrinsics, 30.0, points.astype(np.float32)))
    if not sequences:
        raise ValueError(f"no sequence of at least {min_frames} frames to render")
    return CameraViews(sequences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="render_views", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mocap", default=str(BUNDLED_MOCAP),
                        help="open mocap npz (h36m17, mm) or VideoPose3D data_3d_h36m.npz (default: the bundled one)")
    parser.add_argument("--rig", required=True, help="rig YAML, or a bundled rig name: studio, robot, randomized")
    parser.add_argument("--subjects", nargs="*", help="subjects to render (default: all)")
    parser.add_argument("--noise", type=float, default=0.0, help="2D detector noise, fraction of person height (e.g. 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output camera-view dataset (.npz)")
    args = parser.parse_args(argv)
    try:
        rig = Rig.load(args.rig)
        with np.load(args.mocap, allow_pickle=True) as probe:
            is_videopose = "positions_3d" in probe.files
        mocap = load_videopose3d_h36m(args.mocap) if is_videopose else load_mocap(args.mocap)
        if args.subjects:
            unknown = sorted(set(args.subjects) - set(mocap))
            if unknown:
                raise ValueError(f"unknown subjects {unknown}; {args.mocap} has {sorted(mocap)}")
            mocap = {s: mocap[s] for s in args.subjects}
        views = render(mocap, rig, seed=args.seed, noise=args.noise)
        views.save(args.out)
    except (OSError, ValueError) as error:
        print(f"render_views: error: {error}", file=sys.stderr)
        return 1
    print(f"render_views: {len(views.sequences)} sequences, {views.num_frames} frames through rig "
          f"'{rig.name}' -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
