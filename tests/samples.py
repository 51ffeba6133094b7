"""Deterministic sample messages with every field set, shared by tests and their peers."""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, Vector3
from posynda_ros.msg import Skeleton3D, Skeleton3DArray
from std_msgs.msg import Header

from posynda_ros.messages import SkeletonEstimate, array_message


def sample_skeleton_array(seed: int = 0, people: int = 2) -> Skeleton3DArray:
    rng = np.random.default_rng(seed)

    def f32(values):  # float32 fields compare equal after transport only if exact in float32
        return np.asarray(values, dtype=np.float32).astype(np.float64)

    estimates = [
        SkeletonEstimate(
            positions_m=rng.normal(size=(17, 3)) + [0.0, 0.0, 3.0],
            confidence=f32(rng.uniform(size=17)),
            uncertainty_m=f32(rng.uniform(0, 0.1, size=17)),
            keypoints_px=f32(rng.uniform(0, 640, size=(17, 2))),
            position_mode=Skeleton3D.POSITION_CAMERA_FRAME,
            track_id=100 + i,
            track_state=Skeleton3D.TRACK_CONFIRMED,
            score=float(f32(rng.uniform())),
        )
        for i in range(people)
    ]
    header = Header(stamp=Time(sec=1_700_000_000 + seed, nanosec=123_456_789), frame_id="camera_optical_frame")
    msg = array_message(header, f"sample-model-{seed}", estimates)
    for skeleton in msg.skeletons:  # the reserved fields travel too
        skeleton.orientations = [Quaternion(x=0.0, y=0.0, z=0.0, w=1.0) for _ in range(17)]
        skeleton.velocities = [Vector3(x=0.1, y=-0.2, z=0.3) for _ in range(17)]
    return msg
