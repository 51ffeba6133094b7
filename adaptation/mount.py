"""Where a camera sits on the robot: its height above the floor, pitch and roll (the camera mount).

World frame as in views.py: y up, metres, floor at y = 0. Camera frame as everywhere (camera.py):
x right, y down, z forward. pitch_deg > 0 looks down; roll_deg is about the optical axis with a
URDF roll's sign (> 0 turns the camera clockwise as seen from behind it). Yaw does not matter:
people face every way.

A mount comes from a robot description (`from_urdf`: the camera link's xyz/rpy in a base frame on
the floor, REP-103 x forward z up), from /tf_static (`from_optical_frame`: the optical frame's
pose in that base frame), from a small YAML or an inline mapping (`parse`), or is estimated from target 2D alone
(`estimate`): people stand on the floor, so their body axes meet at the vertical vanishing point
(pitch, roll), and a person of typical size standing at the ankle rays fixes the height.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from adaptation.camera import lifting_rotation, look_rotation, pitch_and_roll_deg
from adaptation.skeleton import JOINT_INDEX

# Measured on the bundled mocap (all 5 subjects, median over frames): head joint above the mean
# ankle joint 1.38-1.52 m -> 1.45 m; ankle joints sit ~0.1 m above the floor.
HEAD_ABOVE_ANKLES_M = 1.45
ANKLES_ABOVE_FLOOR_M = 0.10
# Below this the vanishing point is ill-conditioned (measured on single tracks of the low_robot and
# head_camera rigs: pitch off by 30+ degrees with people within 0.1 of one image column).
MIN_FRAMES_FOR_ESTIMATE = 200
MIN_SPREAD_FOR_ESTIMATE = 0.15
ANKLES = (JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"])
HEAD = JOINT_INDEX["head"]
# optical frame axes (x right, y down, z forward) in a REP-103 link frame (x forward, y left, z up)
OPTICAL_IN_LINK = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def lifting_rotation_for(mount: "CameraMount | None", lifting_camera: str) -> np.ndarray:
    """(3, 3) into the camera a lifter reads; without a mount the camera as it is, which a level lifter
    cannot read."""
    if mount is not None:
        return mount.lifting_rotation(lifting_camera)
    if lifting_camera == "level":
        raise ValueError("this lifter reads the level camera and needs the camera mount (height, pitch, roll): "
                         "give one (adapt --mount, the node's camera_mount parameter, /tf_static) or use an upright-camera model")
    return np.eye(3)


def _rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF / tf fixed-axis roll-pitch-yaw (radians) -> rotation matrix Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Unit quaternion (ROS order x, y, z, w) -> rotation matrix."""
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n < 1e-9:
        raise ValueError("zero quaternion in a transform")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


@dataclass(frozen=True)
class CameraMount:
    height_m: float          # optical centre above the floor
    pitch_deg: float         # optical axis below the horizon (> 0 looks down)
    roll_deg: float = 0.0    # about the optical axis
    source: str = "given"    # where it came from: yaml, urdf, tf_static, estimated, rig

    def __post_init__(self) -> None:
        if not (math.isfinite(self.height_m) and 0.0 < self.height_m <= 10.0):
            raise ValueError(f"camera mount height_m must be in (0, 10] m above the floor, got {self.height_m}")
        for name in ("pitch_deg", "roll_deg"):
            value = getattr(self, name)
            if not (math.isfinite(value) and abs(value) < 89.0):
                raise ValueError(f"camera mount {name} must be within (-89, 89) degrees, got {value}")

    def rotation(self, yaw_rad: float = 0.0) -> np.ndarray:
        """World (y up) -> camera rotation for this mount, the camera facing yaw_rad about world y."""
        pitch = math.radians(self.pitch_deg)
        forward = np.array([math.sin(yaw_rad) * math.cos(pitch), -math.sin(pitch), math.cos(yaw_rad) * math.cos(pitch)])
        c, s = math.cos(math.radians(self.roll_deg)), math.sin(math.radians(self.roll_deg))
        return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) @ look_rotation(forward)

    def lifting_rotation(self, lifting_camera: str) -> np.ndarray:
        """(3, 3) this camera's frame -> the camera a lifter reads (adaptation.camera)."""
        return lifting_rotation(self.up_in_camera(), lifting_camera)

    def turned(self, lifting_camera: str) -> "CameraMount":
        """The mount of that camera: no roll, and for the level camera no pitch."""
        return replace(self, roll_deg=0.0, pitch_deg=0.0 if lifting_camera == "level" else self.pitch_deg)

    def up_in_camera(self) -> np.ndarray:
        """The world's up direction in camera coordinates."""
        return self.rotation() @ np.array([0.0, 1.0, 0.0])

    @classmethod
    def from_up(cls, up: np.ndarray, height_m: float, source: str) -> "CameraMount":
        """Mount from the world up direction seen in camera coordinates."""
        return cls(float(height_m), *pitch_and_roll_deg(up), source)

    @classmethod
    def from_optical_frame(cls, rotation: np.ndarray, translation: np.ndarray, source: str = "tf_static") -> "CameraMount":
        """From the optical frame's pose in a base frame on the floor (z up): rotation's columns
        are the optical axes in base coordinates, translation the optical centre."""
        return cls.from_up(np.asarray(rotation).T @ np.array([0.0, 0.0, 1.0]), float(translation[2]), source)

    @classmethod
    def from_urdf(cls, xyz: list[float], rpy: list[float]) -> "CameraMount":
        """From a URDF camera joint: the camera link (x forward, z up) at xyz, rpy in a base frame on the floor."""
        if len(xyz) != 3 or len(rpy) != 3:
            raise ValueError(f"camera mount xyz and rpy need 3 numbers each, got {xyz} and {rpy}")
        return cls.from_optical_frame(_rpy_matrix(*map(float, rpy)) @ OPTICAL_IN_LINK, np.asarray(xyz, float), "urdf")

    @classmethod
    def parse(cls, text: str) -> "CameraMount":
        """A YAML file, or the same mapping inline: 'height_m: 0.35, pitch_deg: -15' or 'xyz: [..], rpy: [..]'
        (height_m, pitch_deg, optional roll_deg; or a URDF camera joint's xyz and rpy in radians)."""
        path = Path(text)
        if path.suffix in (".yaml", ".yml") and not path.is_file():
            raise ValueError(f"camera mount file {text} does not exist")
        try:
            spec = yaml.safe_load(path.read_text() if path.is_file() else "{" + text.strip().strip("{}") + "}")
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"camera mount {text!r}: not a YAML file or mapping ({error})") from error
        try:
            if not isinstance(spec, dict):
                raise TypeError
            if {"xyz", "rpy"} <= set(spec):
                return cls.from_urdf(spec["xyz"], spec["rpy"])
            return cls(float(spec["height_m"]), float(spec["pitch_deg"]), float(spec.get("roll_deg", 0.0)),
                       f"--mount {text}")
        except (KeyError, TypeError) as error:
            raise ValueError(f"camera mount {text!r}: needs height_m and pitch_deg (optional roll_deg), "
                             f"or xyz and rpy; got {spec!r}") from error

    def differs_from(self, other: "CameraMount", height_tol_m: float = 0.25, angle_tol_deg: float = 10.0) -> str | None:
        """A sentence saying how two mounts disagree beyond tolerance, or None."""
        problems = []
        if abs(self.height_m - other.height_m) > height_tol_m:
            problems.append(f"height {self.height_m:.2f} vs {other.height_m:.2f} m")
        for name in ("pitch_deg", "roll_deg"):
            a, b = getattr(self, name), getattr(other, name)
            if abs(a - b) > angle_tol_deg:
                problems.append(f"{name.split('_')[0]} {a:.1f} vs {b:.1f} deg")
        return ", ".join(problems) or None

    def describe(self) -> str:
        """'height 1.20 m, pitch 5.0 deg, roll 0.0 deg': how logs and errors name a mount."""
        return f"height {self.height_m:.2f} m, pitch {self.pitch_deg:.1f} deg, roll {self.roll_deg:.1f} deg"

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


# --- from target 2D alone ------------------------------------------------------------------------

def _rays(keypoints: np.ndarray) -> np.ndarray:
    return np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)


def _body_axes(tracks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ankle-midpoint and head rays (N, 3) of every frame of every (T, J, 2) normalised track."""
    frames = np.concatenate(tracks)
    return _rays(frames[:, ANKLES].mean(1)), _rays(frames[:, HEAD])


def _axis_angles(ankle: np.ndarray, head: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Angle (rad) between each body axis (ankle -> head, in the image) and the image direction of
    the world vertical at its midpoint, for candidate up directions `up` (U, 3) -> (U, N)."""
    mid = (ankle[:, :2] + head[:, :2]) / 2
    axis = head[:, :2] - ankle[:, :2]
    towards = up[:, None, :2] - mid[None] * up[:, None, 2:]            # image direction to the vanishing point
    cross = towards[..., 0] * axis[:, 1] - towards[..., 1] * axis[:, 0]
    return np.abs(np.arctan2(cross, (towards * axis).sum(-1)))


def estimate_up(tracks: list[np.ndarray], scale_deg: float = 5.0) -> np.ndarray:
    """World up in camera coordinates: the (pitch, roll) whose vertical vanishing point best fits
    the body axes (ankle midpoint -> head) of every frame; robust (Cauchy) cost, coarse-to-fine grid."""
    ankle, head = _body_axes(tracks)
    scale = math.radians(scale_deg)

    def best(pitches: np.ndarray, rolls: np.ndarray) -> tuple[float, float]:
        grid = [(p, r) for p in pitches for r in rolls]
        ups = np.stack([CameraMount(1.0, p, r).up_in_camera() for p, r in grid])
        costs = np.zeros(len(grid))
        for i in range(0, len(grid), 256):
            costs[i:i + 256] = np.log1p((_axis_angles(ankle, head, ups[i:i + 256]) / scale) ** 2).sum(1)
        return grid[int(costs.argmin())]

    pitch, roll = best(np.arange(-80.0, 81.0, 4.0), np.arange(-40.0, 41.0, 4.0))
    pitch, roll = best(np.arange(pitch - 4, pitch + 4.1, 0.5), np.arange(roll - 4, roll + 4.1, 0.5))
    pitch, roll = best(np.arange(pitch - 0.5, pitch + 0.51, 0.1), np.arange(roll - 0.5, roll + 0.51, 0.1))
    return CameraMount(1.0, pitch, roll).up_in_camera()


def person_heights(tracks: list[np.ndarray], up: np.ndarray) -> np.ndarray:
    """Per frame: head-above-ankles height for a camera 1 m above the ankle plane (NaN where the
    ankles are above the horizon). Scales linearly with the camera height."""
    ankle, head = _body_axes(tracks)
    below = ankle @ up
    on_floor = -ankle / np.where(below < -1e-3, below, np.nan)[:, None]     # ankle point for height 1
    # on_floor + s * up = mu * head_ray  ->  least squares in (s, mu)
    heights = np.full(len(ankle), np.nan)
    for i in np.flatnonzero(np.isfinite(on_floor[:, 0])):
        system = np.stack([up, -head[i]], axis=1)
        s, _ = np.linalg.lstsq(system, -on_floor[i], rcond=None)[0]
        heights[i] = s if s > 0 else np.nan
    return heights


def _too_few_views(ankle: np.ndarray) -> str | None:
    """Why these frames cannot fix a vanishing point (body axes all in one image region), or None."""
    if len(ankle) < MIN_FRAMES_FOR_ESTIMATE or ankle[:, 0].std() < MIN_SPREAD_FOR_ESTIMATE:
        return (f"{len(ankle)} target frames with people across {ankle[:, 0].std():.2f} of the image width "
                f"(normalised std; need >= {MIN_FRAMES_FOR_ESTIMATE} frames and >= {MIN_SPREAD_FOR_ESTIMATE})")
    return None


def estimate(tracks: list[np.ndarray]) -> CameraMount:
    """The mount from target 2D tracks (T, J, 2) in normalised coordinates; needs people on their feet
    across the image."""
    ankle, _ = _body_axes(tracks)
    if problem := _too_few_views(ankle):
        raise ValueError(f"cannot estimate the camera mount from {problem}: body axes in one image region "
                         "do not fix a vanishing point; give the mount with --mount")
    up = estimate_up(tracks)
    heights = person_heights(tracks, up)
    valid = heights[np.isfinite(heights)]
    if len(valid) < 5:
        raise ValueError("cannot estimate the camera height: the people's ankles are not below the horizon "
                         "in enough frames; give the mount with --mount")
    camera_above_ankles = HEAD_ABOVE_ANKLES_M / float(np.median(valid))
    return CameraMount.from_up(up, camera_above_ankles + ANKLES_ABOVE_FLOOR_M, "estimated")


def check_against_tracks(mount: CameraMount, tracks: list[np.ndarray], min_below: float = 0.5,
                         max_extra_axis_deg: float = 4.0) -> None:
    """Raise if the target 2D cannot have been seen through this mount: the people's ankles above
    its horizon, or (when the 2D fixes a vertical) body axes that lean away from its vertical by
    more than `max_extra_axis_deg` beyond the best-fitting mount's (measured: a right mount
    fits within ~1 degree of the best, a flipped pitch or a 20-degree roll error 5-17 degrees worse)."""
    ankle, head = _body_axes(tracks)
    described = f"camera mount ({mount.describe()}, from {mount.source})"
    below = float(np.mean(ankle @ mount.up_in_camera() < 0))
    if below < min_below:
        raise ValueError(f"{described} contradicts the target 2D: the people's ankles are below its horizon "
                         f"in only {below:.0%} of frames (pitch > 0 looks down)")
    if _too_few_views(ankle) is None:
        best = estimate_up(tracks)
        lean = [math.degrees(float(np.median(_axis_angles(ankle, head, up[None])[0]))) for up in (mount.up_in_camera(), best)]
        if lean[0] - lean[1] > max_extra_axis_deg:
            found = CameraMount.from_up(best, 1.0, "estimated")
            raise ValueError(f"{described} contradicts the target 2D: people's body axes lean {lean[0]:.1f} deg "
                             f"from its vertical (median) against {lean[1]:.1f} for pitch {found.pitch_deg:.1f}, roll "
                             f"{found.roll_deg:.1f} deg estimated from the 2D; check the pitch sign (> 0 looks down) and the frames")
