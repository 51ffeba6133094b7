"""Real frames of the bundled demo clip (Sports2D, BSD-3) as ROS messages, at half resolution."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

from posynda_ros.demo import FRAME_ID as FRAME, load_clip
from posynda_ros.messages import time_from_nanoseconds


@lru_cache(maxsize=1)
def clip():
    return load_clip(scale=0.5, limit=120)


CAMERA = clip().intrinsics
FOCAL, CENTRE, SIZE = CAMERA.fx, (CAMERA.cx, CAMERA.cy), (CAMERA.width, CAMERA.height)


def read_frames(count: int, start: int = 0, step: int = 1) -> list[np.ndarray]:
    """RGB frames start, start + step, ... of the clip."""
    return list(clip().frames[start:start + count * step:step])


def stamp(seconds: float) -> Time:
    return time_from_nanoseconds(round(seconds * 1e9))


def image_message(rgb: np.ndarray, seconds: float) -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3, data=rgb.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp(seconds), FRAME
    return msg


def camera_info_message(seconds: float, zero: bool = False) -> CameraInfo:
    msg = CameraInfo(width=SIZE[0], height=SIZE[1], distortion_model="plumb_bob", d=[0.0] * 5)
    msg.k = [0.0] * 9 if zero else [FOCAL, 0.0, CENTRE[0], 0.0, FOCAL, CENTRE[1], 0.0, 0.0, 1.0]
    msg.header.stamp, msg.header.frame_id = stamp(seconds), FRAME
    return msg
