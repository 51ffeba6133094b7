"""rosbag2 files (sqlite3 and MCAP) through `rosbags`: no ROS install needed to read or write."""
from __future__ import annotations

import sys
from pathlib import Path

from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from rosbags.typesys.store import Typestore

MSGS_PACKAGE = "posynda_msgs"
MSGS_TYPES = ("Keypoint2D", "Skeleton3D", "Skeleton3DArray")


def msgs_share_dir() -> Path:
    """The installed share/posynda_msgs: ament index first (ROS install), else the venv prefix."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(MSGS_PACKAGE))
    except (ImportError, LookupError, OSError):
        path = Path(sys.prefix) / "share" / MSGS_PACKAGE
        if not (path / "msg").is_dir():
            raise FileNotFoundError(
                f"{MSGS_PACKAGE} is not installed (looked in the ament index and {path}); "
                "run `make setup` or build the workspace with colcon"
            ) from None
        return path


def make_typestore() -> Typestore:
    """The ROS 2 kilted types plus posynda_msgs, for reading and writing bags."""
    store = get_typestore(Stores.ROS2_KILTED)
    msg_dir = msgs_share_dir() / "msg"
    types = {}
    for name in MSGS_TYPES:
        text = (msg_dir / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"{MSGS_PACKAGE}/msg/{name}"))
    store.register(types)
    return store
