"""Test-wide ROS settings: an isolated DDS domain on loopback only, with the product's transport."""
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Set before any rclpy.init(); peer processes inherit them.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

from posynda_ros.transport import use_camera_transport  # noqa: E402

use_camera_transport()
