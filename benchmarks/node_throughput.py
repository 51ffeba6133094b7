"""Sustained throughput and latency of the lift node on the real clip, plus a memory soak.

    .venv/bin/python benchmarks/node_throughput.py [--frames 1200] [--soak-s 600] [--max-people 2 --first-frame 60 --last-frame 160 --ping-pong]
        [--camera-mount 'height_m: 1.5, pitch_deg: 5']

Plays the bundled clip (looped, 884x497) at 30 Hz into the node process over rclpy with wall-clock
stamps; latency = arrival of the skeleton array - the image stamp (same clock). Per-stage times
and drops come from the node's /diagnostics; memory is the node's resident set size after
warm-up and after the soak. With --max-people 2 --first-frame 60 --last-frame 160 --ping-pong only
the part of the clip with both people in view (the man on the box, the woman walking past) is
played, forwards then backwards. With --camera-mount the node sizes people from the floor and takes
the shipped level model (its choice with a mount). Writes
benchmarks/results/node_throughput_h<H>[_people<N>][_mount].{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from posynda_ros.demo import Player, load_clip, people_in, start_lift_node
from posynda_ros.messages import stamp_nanoseconds
from posynda_ros.transport import OUTPUT_QOS, use_camera_transport

RESULTS = Path(__file__).with_name("results")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1200)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--soak-s", type=float, default=600.0, help="extra playing time for the memory soak (0: none)")
    parser.add_argument("--hypotheses", type=int, default=3)
    parser.add_argument("--camera-mount", default="", help="the node's camera_mount (with it: the level model)")
    parser.add_argument("--max-people", type=int, default=1, help="the node's max_people")
    parser.add_argument("--first-frame", type=int, default=0, help="loop the clip from this frame ...")
    parser.add_argument("--last-frame", type=int, default=None, help="... to this one (exclusive; default: its end)")
    parser.add_argument("--ping-pong", action="store_true",
                        help="loop forwards then backwards, so that people do not jump back to where they started")
    args = parser.parse_args()
    use_camera_transport()
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    clip = load_clip()
    clip.frames = clip.frames[args.first_frame:args.last_frame]
    if args.ping_pong:
        clip.frames = clip.frames + clip.frames[-2:0:-1]
    frames = [clip.frames[i % len(clip.frames)] for i in range(args.frames)]
    extra = [f"hypotheses:={args.hypotheses}", f"max_people:={args.max_people}"]
    if args.camera_mount:     # as a file: ROS would read an inline mapping as a YAML dictionary
        mount_file = Path(tempfile.mkdtemp()) / "mount.yaml"
        mount_file.write_text(args.camera_mount.replace(", ", "\n"))
        extra.append(f"camera_mount:={mount_file}")
    node_process = start_lift_node(extra=tuple(extra))
    rclpy.init()
    node = rclpy.create_node("posynda_throughput")
    diagnostics = []
    node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, OUTPUT_QOS)
    player = Player(node, clip.intrinsics)
    try:
        player.wait_for_node()
        player.play(clip.frames[:60], args.rate)                    # warm-up
        memory_before = rss_mb(node_process.pid)
        player.received.clear()
        diagnostics.clear()
        started = time.time()
        stamps = player.play(frames, args.rate)
        duration = time.time() - started - 2.0                      # play() waits 2 s at the end
        measured = list(player.received)
        status = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
        memory_soak = memory_before
        if args.soak_s > 0:
            loops = int(args.soak_s * args.rate)
            player.play([clip.frames[i % len(clip.frames)] for i in range(loops)], args.rate)
            memory_soak = rss_mb(node_process.pid)
    finally:
        node_process.terminate()
        node_process.communicate(timeout=10)
        node.destroy_node()
        rclpy.shutdown()
    sent = set(stamps)
    latencies = [arrival * 1000 - stamp_nanoseconds(m.header) / 1e6
                 for arrival, m in measured if stamp_nanoseconds(m.header) in sent]
    stage_ms = {k[:-3]: float(v) for k, v in status.items() if k.endswith("_ms")}
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "frames_sent": len(stamps), "arrays_received": len(latencies),
        "output_fps": round(len(latencies) / duration, 1), "input_fps": round(len(stamps) / duration, 1),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "dropped_by_node": int(status.get("dropped", 0)), "backend": status.get("backend"),
        "stage_ms_mean_last_100": stage_ms,
        "lifter_share_of_frame_time": round(stage_ms.get("lift", 0) / max(1e-6, stage_ms.get("total", 1)), 3),
        "hypotheses": args.hypotheses, "max_people": args.max_people, "camera_mount": args.camera_mount,
        "model_id": measured[-1][1].model_id if measured else "",
        "clip_frames": [args.first_frame, args.last_frame or args.first_frame + len(clip.frames)], "ping_pong": args.ping_pong,
        "people_per_array": {str(n): c for n, c in enumerate(np.bincount([people_in(m) for _, m in measured]).tolist())},
        "rss_mb_after_warmup": round(memory_before, 1),
        "rss_mb_after_soak": round(memory_soak, 1), "soak_s": args.soak_s,
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    name = (f"node_throughput_h{args.hypotheses}" + (f"_people{args.max_people}" if args.max_people > 1 else "")
            + ("_mount" if args.camera_mount else ""))
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{name}.md").write_text(
        f"# Lift node throughput on the real clip, {args.hypotheses} hypotheses\n\n"
        f"Command: `.venv/bin/python benchmarks/node_throughput.py --frames {args.frames} --soak-s {args.soak_s:.0f} "
        f"--hypotheses {args.hypotheses}" + (f" --max-people {args.max_people}" if args.max_people > 1 else "")
        + (f" --first-frame {args.first_frame}" if args.first_frame else "")
        + (f" --last-frame {args.last_frame}" if args.last_frame is not None else "")
        + (" --ping-pong" if args.ping_pong else "") + (f" --camera-mount '{args.camera_mount}'" if args.camera_mount else "") + "`. "
        f"Machine: {result['machine']}.\n\n```json\n{json.dumps(result, indent=1)}\n```\n")


if __name__ == "__main__":
    main()
