"""Do 640x480 rgb8 images survive the trip between two processes? Fast DDS transports x QoS.

    .venv/bin/python benchmarks/image_transport.py

For each setting, a publisher process (tests/peers/publish_images.py) sends 200 images at 30 Hz
on loopback; this process counts arrivals and their latency (arrival - header stamp).
Writes benchmarks/results/image_transport.{json,md}.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
SETTINGS = {
    "Fast DDS defaults": {},
    "FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA": {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"},
    "posynda_ros profile (shared memory, 32 MiB segment)": {
        "FASTDDS_DEFAULT_PROFILES_FILE": str(REPO / "posynda_ros" / "fastdds_camera.xml")},
}
SUBSCRIBER = """
import sys, time
sys.path.insert(0, {repo!r})
import rclpy
from sensor_msgs.msg import Image
from posynda_ros.transport import input_qos
rclpy.init()
node = rclpy.create_node("transport_benchmark")
latencies = []
def on_image(msg):
    latencies.append(time.time() * 1000 - (msg.header.stamp.sec * 1e3 + msg.header.stamp.nanosec / 1e6))
node.create_subscription(Image, "images", on_image, input_qos({reliability!r}, 5))
peer = __import__("subprocess").Popen([sys.executable, {peer!r}, "200", "30", {reliability!r}])
while peer.poll() is None:
    rclpy.spin_once(node, timeout_sec=0.05)
end = time.time() + 1
while time.time() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
latencies.sort()
print(len(latencies), latencies[len(latencies) // 2] if latencies else float("nan"))
"""


def main() -> None:
    rows = []
    for label, env in SETTINGS.items():
        for reliability in ("best_effort", "reliable"):
            environment = {k: v for k, v in os.environ.items()
                           if k not in ("FASTDDS_BUILTIN_TRANSPORTS", "FASTDDS_DEFAULT_PROFILES_FILE")}
            environment.update(env, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID="77")
            code = SUBSCRIBER.format(repo=str(REPO), peer=str(REPO / "tests" / "peers" / "publish_images.py"),
                                     reliability=reliability)
            out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                                 timeout=120).stdout.split()
            received, median_ms = int(out[-2]), float(out[-1])
            rows.append({"transport": label, "qos": reliability, "received_of_200": received,
                         "median_latency_ms": round(median_ms, 1)})
            print(rows[-1], flush=True)
            time.sleep(1)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_transport.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = ["| transport | QoS | received of 200 | median latency ms |", "|---|---|---|---|"]
    lines += [f"| {r['transport']} | {r['qos']} | {r['received_of_200']} | {r['median_latency_ms']} |" for r in rows]
    (RESULTS / "image_transport.md").write_text(
        f"# 640x480 rgb8 images between two processes at 30 Hz\n\nCommand: `.venv/bin/python benchmarks/image_transport.py`. "
        f"Machine: {machine}.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
