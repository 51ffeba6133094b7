"""The `lift` node: camera images -> metric 3D skeletons (posynda_ros/Skeleton3DArray) + RViz markers.

Subscribes `image` (sensor_msgs/Image; with compressed:=true sensor_msgs/CompressedImage on
`<image>/compressed`, as image_transport names it, after remapping) and `camera_info`; publishes `skeletons`, `skeleton_markers` and /diagnostics. Images are decoded
and lifted on a worker thread that always takes the newest image: when the node is busy, older
images are dropped (and counted), never queued. Bad input is logged (throttled), counted and
skipped; the node keeps running and never publishes a wrong skeleton.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray
from posynda_ros.msg import Skeleton3DArray

from adaptation.camera import Intrinsics
from adaptation.runtime import PREFERENCE, open_backend
from posynda_ros.images import ImageError, to_rgb
from posynda_ros.messages import array_message, marker_array, stamp_seconds
from posynda_ros.pipeline import STAGES, LiftPipeline
from posynda_ros.transport import OUTPUT_QOS, input_qos, use_camera_transport

PARAMETERS = {
    "model_dir": "",                 # model directory; empty = the shipped default model
    "backend": "auto",               # auto | tensorrt | onnxruntime-cuda | onnxruntime-cpu | torch
    "threads": 2,                    # CPU threads for the lifter
    "hypotheses": 3,                 # diffusion hypotheses per frame (>= 2 gives uncertainty)
    "window_mode": "causal",         # causal (newest frame, no delay) | centered (F/2 frames late)
    "max_gap_s": 0.5,                # a larger gap between images resets the person's window
    "min_detection_score": 0.5,
    "compressed": False,             # subscribe sensor_msgs/CompressedImage on <image>/compressed instead
    "image_reliability": "best_effort",
    "image_queue_depth": 2,
    "publish_markers": True,
    "no_image_warning_s": 3.0,
}
RANGES = {   # name: (low, high) - declared as descriptor ranges, checked at start-up
    "threads": (1, 64), "hypotheses": (1, 16), "image_queue_depth": (1, 100),
    "max_gap_s": (0.0, 10.0), "min_detection_score": (0.0, 1.0), "no_image_warning_s": (0.1, 3600.0),
}
CHOICES = {"backend": ("auto", *PREFERENCE), "window_mode": ("causal", "centered"),
           "image_reliability": ("best_effort", "reliable")}


def descriptor(name: str) -> ParameterDescriptor:
    """What `ros2 param describe` shows: the comment above, the range or the choices."""
    result = ParameterDescriptor(name=name, read_only=True)   # read at start-up only
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(low, int):
            result.integer_range = [IntegerRange(from_value=low, to_value=high, step=1)]
        else:
            result.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    if name in CHOICES:
        result.additional_constraints = "one of: " + ", ".join(CHOICES[name])
    return result


class LiftNode(Node):
    def __init__(self) -> None:
        super().__init__("posynda_lift")
        p, problems = self.declare_checked_parameters()
        self.params = p
        self.skeleton_pub = self.create_publisher(Skeleton3DArray, "skeletons", OUTPUT_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "skeleton_markers", OUTPUT_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        image_type, image_topic = Image, "image"
        if p["compressed"]:   # image_transport's naming: the remapped base topic + /compressed
            image_type, image_topic = CompressedImage, self.resolve_topic_name("image") + "/compressed"
        qos = input_qos(p["image_reliability"], p["image_queue_depth"])
        self.image_topic = self.create_subscription(image_type, image_topic, self.on_image, qos).topic_name
        self.info_topic = self.create_subscription(CameraInfo, "camera_info", self.on_camera_info, qos).topic_name

        self.pipeline: LiftPipeline | None = None
        self.model_error = ""
        if problems:     # named, logged once; the node keeps running and reports it in /diagnostics
            self.model_error = "bad parameters: " + "; ".join(problems)
            self.get_logger().error(self.model_error + " - the node keeps running and publishes no skeletons")
        else:
            self.load_model(p)

        self.intrinsics: Intrinsics | None = None
        self.camera_frame = ""
        self.camera_error = ""
        self.pending = None
        self.condition = threading.Condition()
        self.running = True
        self.counts = {"received": 0, "processed": 0, "published": 0, "dropped": 0, "rejected": 0}
        self.stage_ms = {stage: deque(maxlen=100) for stage in (*STAGES, "decode", "total")}
        self.latency_ms: deque[float] = deque(maxlen=100)
        self.last_problem = ""
        self.last_image_time = time.monotonic()
        self.last_counts = dict(self.counts)
        self.last_diagnostics = time.monotonic()
        self.worker = threading.Thread(target=self.work, daemon=True)
        self.worker.start()
        self.create_timer(1.0, self.publish_diagnostics)

    def declare_checked_parameters(self) -> tuple[dict, list[str]]:
        """Declare every parameter with its descriptor; a value out of range or not among the choices
        is named in `problems` and replaced by its default (so the node can still come up and report)."""
        values, problems = {}, []
        for name, default in PARAMETERS.items():
            try:
                values[name] = self.declare_parameter(name, default, descriptor(name)).value
            except (InvalidParameterValueException, InvalidParameterTypeException) as error:
                problems.append(f"{name}: {error}")
                values[name] = self.declare_parameter(name, default, descriptor(name), ignore_override=True).value
            if name in CHOICES and values[name] not in CHOICES[name]:
                problems.append(f"{name} must be one of {', '.join(CHOICES[name])}, got {values[name]!r}")
                values[name] = default
        return values, problems

    def load_model(self, p: dict) -> None:
        try:
            backend = open_backend(p["model_dir"] or None, p["backend"], threads=p["threads"])
            self.pipeline = LiftPipeline(backend, p["hypotheses"], p["window_mode"], p["max_gap_s"],
                                         p["min_detection_score"])
            self.get_logger().info(f"lifter {backend.model_id} on {backend.name}, window {backend.frames} "
                                   f"frames ({p['window_mode']}), {p['hypotheses']} hypotheses")
        except Exception as error:  # noqa: BLE001 - any failure here must leave a running, reporting node
            self.model_error = f"model failed to load: {error}"
            self.get_logger().error(self.model_error + " - the node keeps running and publishes no skeletons")

    # --- input -------------------------------------------------------------------------------
    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = Intrinsics.from_camera_info(list(msg.k), list(msg.d), msg.width, msg.height)
            self.camera_frame = msg.header.frame_id
            self.camera_error = ""
        except ValueError as error:
            self.intrinsics = None
            self.camera_error = f"camera_info on {self.info_topic} rejected: {error}"
            self.get_logger().error(self.camera_error, throttle_duration_sec=10.0)

    def on_image(self, msg) -> None:
        self.last_image_time = time.monotonic()
        with self.condition:
            self.counts["received"] += 1
            if self.pending is not None:
                self.counts["dropped"] += 1          # busy: the older image is dropped, never queued
            self.pending = msg
            self.condition.notify()

    # --- work ----------------------------------------------------------------------------------
    def work(self) -> None:
        while self.running:
            with self.condition:
                while self.pending is None and self.running:
                    self.condition.wait(timeout=0.2)
                msg, self.pending = self.pending, None
            if msg is not None:
                self.process_image(msg)

    def reject(self, problem: str) -> None:
        self.counts["rejected"] += 1
        self.last_problem = problem
        self.get_logger().warning(problem, throttle_duration_sec=5.0)

    def process_image(self, msg) -> None:
        if self.pipeline is None:            # already logged once at start-up; diagnostics say ERROR
            self.counts["rejected"] += 1
            return
        if self.intrinsics is None:
            return self.reject(self.camera_error or f"no camera_info received on {self.info_topic}; skipping images")
        started = time.perf_counter()
        try:
            rgb = to_rgb(msg)
        except ImageError as error:
            return self.reject(f"image on {self.image_topic} rejected: {error}")
        if (rgb.shape[1], rgb.shape[0]) != (self.intrinsics.width, self.intrinsics.height):
            return self.reject(f"image is {rgb.shape[1]}x{rgb.shape[0]} but camera_info says "
                               f"{self.intrinsics.width}x{self.intrinsics.height}")
        decode_ms = (time.perf_counter() - started) * 1000
        try:
            result = self.pipeline.process(rgb, stamp_seconds(msg.header), self.intrinsics, context=msg.header)
        except Exception as error:  # noqa: BLE001 - a bad frame must not kill the worker
            return self.reject(f"lifting failed: {error}")
        self.counts["processed"] += 1
        for stage, ms in {**result.stage_ms, "decode": decode_ms}.items():
            self.stage_ms[stage].append(ms)
        if result.context is None:
            return
        header = result.context
        if not header.frame_id:
            header.frame_id = self.camera_frame
        self.skeleton_pub.publish(array_message(header, self.pipeline.backend.model_id, result.estimates))
        if self.params["publish_markers"]:
            self.marker_pub.publish(marker_array(header, result.estimates))
        self.counts["published"] += 1
        self.stage_ms["total"].append((time.perf_counter() - started) * 1000)
        self.latency_ms.append((self.get_clock().now().nanoseconds * 1e-9 - stamp_seconds(header)) * 1000)

    # --- diagnostics ------------------------------------------------------------------------------
    def publish_diagnostics(self) -> None:
        now = time.monotonic()
        elapsed = max(1e-3, now - self.last_diagnostics)
        rate = {k: (self.counts[k] - self.last_counts[k]) / elapsed for k in ("received", "published")}
        self.last_counts, self.last_diagnostics = dict(self.counts), now
        status = DiagnosticStatus(name="posynda_lift", hardware_id=self.camera_frame or "camera")
        silent = now - self.last_image_time
        if self.pipeline is None:
            status.level, status.message = DiagnosticStatus.ERROR, self.model_error
        elif silent > self.params["no_image_warning_s"]:
            status.level, status.message = DiagnosticStatus.WARN, f"no image on {self.image_topic} for {silent:.0f} s"
            self.get_logger().warning(status.message, throttle_duration_sec=10.0)
        elif self.intrinsics is None:
            status.level = DiagnosticStatus.WARN
            status.message = self.camera_error or f"waiting for camera_info on {self.info_topic}"
        else:
            status.level, status.message = DiagnosticStatus.OK, "lifting"
        values = {"input_rate_hz": f"{rate['received']:.1f}", "output_rate_hz": f"{rate['published']:.1f}",
                  **{k: str(v) for k, v in self.counts.items()},
                  "backend": self.pipeline.backend.name if self.pipeline else "none",
                  "latency_ms_p50": f"{np.median(self.latency_ms):.1f}" if self.latency_ms else "nan",
                  "last_problem": self.last_problem}
        values.update({f"{stage}_ms": f"{np.mean(v):.1f}" for stage, v in self.stage_ms.items() if v})
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(msg)

    def destroy_node(self) -> None:
        self.running = False
        with self.condition:
            self.condition.notify_all()
        self.worker.join(timeout=2.0)
        if self.pipeline:
            self.pipeline.close()
        super().destroy_node()


CAMERA_TRANSPORT_FLAG = "--camera-transport"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if CAMERA_TRANSPORT_FLAG in argv:   # opt-in: before rclpy.init, Fast DDS reads it when the participant is created
        argv.remove(CAMERA_TRANSPORT_FLAG)
        use_camera_transport()
    rclpy.init(args=argv)
    node = LiftNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
