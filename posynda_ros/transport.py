"""QoS profiles and DDS transport settings: the one place that decides how data moves.

Measured here (README, "Image transport"): 640x480 rgb8 images published best effort between
two processes were almost all lost with Fast DDS's default transports and with
FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (a 921,600-byte image does not fit the default 512 KiB
shared-memory segment, and its UDP fragments are dropped). A shared-memory transport with a
32 MiB segment (fastdds_camera.xml) delivered all of them. Fast DDS reads the profile when a
participant is created, so `use_camera_transport()` must run before `rclpy.init()`, in every
process that exchanges images (camera driver, bag player, this node).
"""
from __future__ import annotations

import os
from pathlib import Path

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

PROFILES_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
CAMERA_PROFILE = Path(__file__).with_name("fastdds_camera.xml")

# Our outputs: reliable so RViz and recorders connect with their defaults.
OUTPUT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

RELIABILITY_BY_NAME = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}


def use_camera_transport() -> str:
    """Select the shipped Fast DDS profile unless the user already chose one; returns the one in force."""
    return os.environ.setdefault(PROFILES_ENV, str(CAMERA_PROFILE))


def input_qos(reliability: str = "best_effort", depth: int = 5) -> QoSProfile:
    """QoS for camera subscriptions: best effort by default so that any camera driver connects."""
    if reliability not in RELIABILITY_BY_NAME:
        raise ValueError(
            f"qos reliability must be one of {sorted(RELIABILITY_BY_NAME)}, got {reliability!r}"
        )
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=RELIABILITY_BY_NAME[reliability],
        durability=DurabilityPolicy.VOLATILE,
    )
