"""`demo`: the bundled real clip through the lift node, skeletons recorded to a bag and drawn.

  clip (Sports2D, BSD-3) -> publisher (Image + CameraInfo, real time) -> `lift` node process
  -> skeletons -> MCAP bag (rosbags) + side-by-side video and contact sheet of the 3D skeletons

Everything runs on this machine over real rclpy/Fast DDS. The default model is used unless
--model-dir names an adapted one.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from adaptation.camera import Intrinsics

DEMO_DIR = Path(__file__).with_name("media")
CLIP = DEMO_DIR / "sports2d_demo.mp4"
CALIBRATION = DEMO_DIR / "sports2d_Calib_demo.toml"
FRAME_ID = "camera_optical_frame"
TRACK_COLOURS = ((0, 200, 0), (30, 120, 255), (255, 150, 30), (220, 50, 180))   # RGB, by track id


@dataclass
class Clip:
    frames: list[np.ndarray]      # RGB
    intrinsics: Intrinsics
    fps: float


def people_in(array) -> int:
    """People seen in the image (a lost track's repeated estimate does not count)."""
    from posynda_ros.msg import Skeleton3D

    return sum(s.track_state != Skeleton3D.TRACK_LOST for s in array.skeletons)


def load_clip(path: Path = CLIP, calibration: Path = CALIBRATION, scale: float = 0.5, limit: int | None = None) -> Clip:
    """The clip's frames resized by `scale`, with its calibration scaled alike."""
    calib = tomllib.loads(calibration.read_text())
    camera = next(v for v in calib.values() if isinstance(v, dict) and "matrix" in v)
    (fx, _, cx), (_, fy, cy), _ = camera["matrix"]
    width, height = (round(v * scale) for v in camera["size"])
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"{path}: cannot open the video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while limit is None or len(frames) < limit:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    capture.release()
    return Clip(frames, Intrinsics(fx * scale, fy * scale, cx * scale, cy * scale, width, height), fps)


def start_lift_node(model_dir: str | None = None, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """The lift node as its own process, remapped to /demo/* topics."""
    args = [sys.executable, "-m", "posynda_ros.lift_node", "--ros-args", "-r", "image:=/demo/image",
            "-r", "camera_info:=/demo/camera_info", "-r", "skeletons:=/demo/skeletons",
            "-r", "skeleton_markers:=/demo/skeleton_markers"]
    if model_dir:
        args += ["-p", f"model_dir:={model_dir}"]
    for parameter in extra:
        args += ["-p", parameter]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Player:
    """Publishes clip frames with camera_info and records what comes back."""

    def __init__(self, node, intrinsics: Intrinsics):
        from posynda_ros.msg import Skeleton3DArray
        from sensor_msgs.msg import CameraInfo, Image

        from posynda_ros.transport import OUTPUT_QOS, input_qos

        self.node, self.intrinsics = node, intrinsics
        self.image_pub = node.create_publisher(Image, "/demo/image", input_qos("best_effort", 5))
        self.info_pub = node.create_publisher(CameraInfo, "/demo/camera_info", input_qos("best_effort", 5))
        self.received: list[tuple[float, object]] = []     # (arrival time, Skeleton3DArray)
        node.create_subscription(Skeleton3DArray, "/demo/skeletons",
                                 lambda m: self.received.append((time.time(), m)), OUTPUT_QOS)
        self.Image, self.CameraInfo = Image, CameraInfo

    def wait_for_node(self, timeout_s: float = 60.0) -> None:
        import rclpy

        deadline = time.monotonic() + timeout_s
        while self.image_pub.get_subscription_count() == 0 or self.node.count_publishers("/demo/skeletons") == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the lift node did not come up within a minute")
            rclpy.spin_once(self.node, timeout_sec=0.1)
        time.sleep(1.0)

    def publish(self, rgb: np.ndarray, stamp_ns: int) -> None:
        from posynda_ros.messages import time_from_nanoseconds

        stamp = time_from_nanoseconds(stamp_ns)
        k = self.intrinsics
        info = self.CameraInfo(width=k.width, height=k.height, distortion_model="plumb_bob", d=[0.0] * 5,
                               k=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0])
        info.header.stamp, info.header.frame_id = stamp, FRAME_ID
        image = self.Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3,
                           data=rgb.tobytes())
        image.header.stamp, image.header.frame_id = stamp, FRAME_ID
        self.info_pub.publish(info)
        self.image_pub.publish(image)

    def play(self, frames: list[np.ndarray], rate_hz: float, start_ns: int | None = None) -> list[int]:
        """Publish frames at rate_hz in real time (stamps = wall clock); returns the stamps."""
        import rclpy

        stamps, period = [], 1.0 / rate_hz
        next_time = time.monotonic()
        for rgb in frames:
            stamp_ns = time.time_ns() if start_ns is None else start_ns + len(stamps) * int(period * 1e9)
            self.publish(rgb, stamp_ns)
            stamps.append(stamp_ns)
            next_time += period
            while time.monotonic() < next_time:
                rclpy.spin_once(self.node, timeout_sec=max(0.0, next_time - time.monotonic()))
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return stamps


def record(received, path: Path) -> Path:
    """Write the received skeleton arrays to an MCAP bag with rosbags (bytes serialised by rclpy)."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer

    from posynda_ros.bags import make_typestore
    from posynda_ros.messages import stamp_nanoseconds

    store = make_typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/demo/skeletons", "posynda_ros/msg/Skeleton3DArray", typestore=store)
        for _, msg in received:
            writer.write(connection, stamp_nanoseconds(msg.header), serialize_message(msg))
    return path


def draw_people(image_bgr: np.ndarray, estimates, line_px: int = 2, font_scale: float = 0.6, text_px: int = 2,
                label_offset_px: tuple[int, int] = (20, 15)) -> None:
    """Each person's 2D skeleton and track id on a BGR image (in place), in their track's colour."""
    from adaptation.skeleton import BONES

    for estimate in estimates:
        colour = TRACK_COLOURS[estimate.track_id % len(TRACK_COLOURS)][::-1]
        for parent, child in BONES:
            a, b = estimate.keypoints_px[parent], estimate.keypoints_px[child]
            cv2.line(image_bgr, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, line_px)
        cv2.putText(image_bgr, f"id {estimate.track_id}", tuple(int(v) for v in estimate.keypoints_px[10] - label_offset_px),
                    cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, text_px)


def render_video(clip: Clip, stamps: list[int], received, out_dir: Path) -> tuple[Path, Path]:
    """Side-by-side video (image with 2D keypoints | 3D skeleton) and a contact sheet PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adaptation.plots import draw_skeleton
    from posynda_ros.messages import from_message, stamp_nanoseconds
    from posynda_ros.msg import Skeleton3D

    by_stamp = {stamp_nanoseconds(m.header): m for _, m in received if people_in(m)}
    figure = plt.figure(figsize=(4, 4), dpi=100)
    video_path = out_dir / "skeletons.mp4"
    writer = None
    sheet = []
    for index, (rgb, stamp) in enumerate(zip(clip.frames, stamps)):
        image = np.ascontiguousarray(rgb[..., ::-1])
        figure.clf()
        axis = figure.add_subplot(projection="3d")
        msg = by_stamp.get(stamp)
        people = [] if msg is None else [from_message(m) for m in msg.skeletons if m.track_state != Skeleton3D.TRACK_LOST]
        half_range = 1.0
        if people:
            centre = np.mean([e.positions_m[0] for e in people], axis=0)
            half_range = max(1.0, max(float(np.abs(e.positions_m - centre).max()) for e in people) + 0.2)
            draw_people(image, people)
            for estimate in people:
                colour = TRACK_COLOURS[estimate.track_id % len(TRACK_COLOURS)]
                draw_skeleton(axis, estimate.positions_m - centre, color=f"#{colour[0]:02x}{colour[1]:02x}{colour[2]:02x}",
                              label=f"id {estimate.track_id}")
            axis.set_title("depth " + ", ".join(f"{e.positions_m[0, 2]:.1f}" for e in people) + " m", fontsize=9)
        for setter in (axis.set_xlim, axis.set_ylim, axis.set_zlim):
            setter(-half_range, half_range)
        axis.view_init(elev=10, azim=-60)
        figure.canvas.draw()
        plot = np.asarray(figure.canvas.buffer_rgba())[..., :3][..., ::-1]
        plot = cv2.resize(plot, (image.shape[0], image.shape[0]))
        frame = np.concatenate([image, plot], axis=1)
        if writer is None:
            writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, frame.shape[1::-1])
        writer.write(frame)
        if index % max(1, len(clip.frames) // 4) == len(clip.frames) // 8:
            sheet.append(frame)
    writer.release()
    plt.close(figure)
    sheet_path = out_dir / "skeletons.png"
    cv2.imwrite(str(sheet_path), cv2.resize(np.concatenate(sheet[:4], axis=0), None, fx=0.5, fy=0.5))
    return video_path, sheet_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    parser.add_argument("--model-dir", help="adapted model directory (default: the shipped model)")
    parser.add_argument("--rate", type=float, default=15.0, help="playback rate in Hz")
    parser.add_argument("--max-people", type=int, default=2, help="people lifted per image (the clip has two)")
    args = parser.parse_args(argv)
    from posynda_ros.transport import use_camera_transport

    use_camera_transport()
    import rclpy

    clip = load_clip()
    args.out.mkdir(parents=True, exist_ok=True)
    node_process = start_lift_node(args.model_dir, extra=(f"max_people:={args.max_people}",))
    rclpy.init()
    node = rclpy.create_node("posynda_demo_player")
    try:
        player = Player(node, clip.intrinsics)
        print(f"demo: waiting for the lift node, then playing {len(clip.frames)} frames at {args.rate} Hz")
        player.wait_for_node()
        stamps = player.play(clip.frames, args.rate)
    except RuntimeError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    finally:
        node_process.terminate()
        node_output = node_process.communicate(timeout=10)[0]
        node.destroy_node()
        rclpy.shutdown()
    counts = np.bincount([people_in(m) for _, m in player.received], minlength=3)
    with_people = int(counts[1:].sum())
    if not with_people:
        print("demo: error: the node published no skeleton; its log:\n" + node_output[-3000:], file=sys.stderr)
        return 1
    bag = args.out / "skeletons_bag"
    if bag.exists():
        import shutil

        shutil.rmtree(bag)
    record(player.received, bag)
    video, sheet = render_video(clip, stamps, player.received, args.out)
    ids = sorted({s.track_id for _, m in player.received for s in m.skeletons})
    print(f"demo: {with_people} of {len(stamps)} frames lifted ({counts[1]} with one person, {counts[2:].sum()} with two "
          f"or more; track ids {ids}); bag {bag}, video {video}, picture {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
