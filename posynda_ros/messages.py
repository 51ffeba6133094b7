"""Build and read posynda_ros/Skeleton3DArray and RViz markers: numpy in the code, messages at the edge."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from posynda_ros.msg import Keypoint2D, Skeleton3D, Skeleton3DArray
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from adaptation.skeleton import BONES, LAYOUT, NUM_JOINTS


def stamp_nanoseconds(header) -> int:
    """A header's stamp as integer nanoseconds (rclpy or rosbags messages)."""
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def stamp_seconds(header) -> float:
    return stamp_nanoseconds(header) * 1e-9


def time_from_nanoseconds(nanoseconds: int) -> Time:
    sec, nanosec = divmod(int(nanoseconds), 10**9)
    return Time(sec=sec, nanosec=nanosec)


@dataclass
class SkeletonEstimate:
    """One person's lifted skeleton, in SI units, joints in the adaptation.skeleton order."""

    positions_m: np.ndarray        # (17, 3) metres, camera optical frame
    confidence: np.ndarray         # (17,) 2D detector confidence in [0, 1]
    uncertainty_m: np.ndarray      # (17,) spread of the diffusion hypotheses, metres
    keypoints_px: np.ndarray       # (17, 2) the 2D input, pixels
    position_mode: int = Skeleton3D.POSITION_CAMERA_FRAME
    track_id: int = 0
    track_state: int = Skeleton3D.TRACK_CONFIRMED
    score: float = 1.0


def to_message(estimate: SkeletonEstimate) -> Skeleton3D:
    """Convert one estimate; raises ValueError on wrong shapes or non-finite positions."""
    shapes = {
        "positions_m": (NUM_JOINTS, 3),
        "confidence": (NUM_JOINTS,),
        "uncertainty_m": (NUM_JOINTS,),
        "keypoints_px": (NUM_JOINTS, 2),
    }
    for field, shape in shapes.items():
        value = np.asarray(getattr(estimate, field))
        if value.shape != shape:
            raise ValueError(f"SkeletonEstimate.{field}: expected shape {shape}, got {value.shape}")
    if not np.isfinite(estimate.positions_m).all():
        raise ValueError("SkeletonEstimate.positions_m holds NaN or infinite values")
    msg = Skeleton3D()
    msg.layout = LAYOUT
    msg.position_mode = int(estimate.position_mode)
    msg.track_id = int(estimate.track_id)
    msg.track_state = int(estimate.track_state)
    msg.score = float(estimate.score)
    msg.positions = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in estimate.positions_m]
    msg.confidence = np.asarray(estimate.confidence, dtype=np.float32).tolist()
    msg.uncertainty = np.asarray(estimate.uncertainty_m, dtype=np.float32).tolist()
    msg.keypoints_2d = [Keypoint2D(x=float(u), y=float(v)) for u, v in estimate.keypoints_px]
    return msg


def from_message(msg: Skeleton3D) -> SkeletonEstimate:
    """The inverse of to_message (float32 precision for the per-joint arrays)."""
    if msg.layout != LAYOUT or len(msg.positions) != NUM_JOINTS:
        raise ValueError(
            f"unsupported skeleton layout {msg.layout!r} with {len(msg.positions)} joints; "
            f"this version reads {LAYOUT!r} with {NUM_JOINTS}"
        )
    return SkeletonEstimate(
        positions_m=np.array([[p.x, p.y, p.z] for p in msg.positions]),
        confidence=np.asarray(msg.confidence, dtype=np.float32),
        uncertainty_m=np.asarray(msg.uncertainty, dtype=np.float32),
        keypoints_px=np.array([[k.x, k.y] for k in msg.keypoints_2d], dtype=np.float32),
        position_mode=msg.position_mode,
        track_id=msg.track_id,
        track_state=msg.track_state,
        score=msg.score,
    )


def array_message(header: Header, model_id: str, estimates: list[SkeletonEstimate]) -> Skeleton3DArray:
    """One array per image; `header` is the image's (stamp and camera optical frame)."""
    return Skeleton3DArray(
        header=header, model_id=model_id, skeletons=[to_message(e) for e in estimates]
    )


def marker_array(header: Header, estimates: list[SkeletonEstimate], lifetime_s: float = 0.5) -> MarkerArray:
    """RViz markers: DELETEALL, then per person a SPHERE_LIST of joints and a LINE_LIST of bones.

    Joints or bones with non-finite coordinates are skipped, so RViz never receives NaN; people whose
    track was lost are not drawn.
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    for index, estimate in enumerate(estimates):
        if estimate.track_state == Skeleton3D.TRACK_LOST:
            continue
        points = estimate.positions_m
        finite = np.isfinite(points).all(axis=1)
        hue = [(0.1, 0.8, 0.3), (0.2, 0.5, 1.0), (1.0, 0.6, 0.1), (0.9, 0.2, 0.7)][estimate.track_id % 4]
        color = ColorRGBA(r=hue[0], g=hue[1], b=hue[2], a=1.0)
        joints = Marker(header=header, ns="joints", id=index, type=Marker.SPHERE_LIST, action=Marker.ADD,
                        lifetime=lifetime, color=color)
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = 0.05
        joints.points = [Point(x=float(x), y=float(y), z=float(z)) for (x, y, z), ok in zip(points, finite) if ok]
        bones = Marker(header=header, ns="bones", id=index, type=Marker.LINE_LIST, action=Marker.ADD,
                       lifetime=lifetime, color=color)
        bones.pose.orientation.w = 1.0
        bones.scale.x = 0.02
        for parent, child in BONES:
            if finite[parent] and finite[child]:
                bones.points += [Point(x=float(v[0]), y=float(v[1]), z=float(v[2])) for v in (points[parent], points[child])]
        markers += [joints, bones]
    return MarkerArray(markers=markers)
