"""Small helpers for tests that talk to real peers over rclpy."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import rclpy
from rclpy.node import Node

PEERS = Path(__file__).parent / "peers"


def start_peer(script: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Run tests/peers/<script> in a separate Python process."""
    return subprocess.Popen(
        [sys.executable, str(PEERS / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def spin_until(node: Node, done: Callable[[], bool], timeout_s: float) -> bool:
    """Spin `node` until done() is true or the timeout passes; returns done()."""
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    return done()


def stop_peer(peer: subprocess.Popen, timeout_s: float = 10.0) -> str:
    """Wait for (or end) a peer and return what it printed."""
    try:
        out, _ = peer.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        peer.kill()
        out, _ = peer.communicate()
    return out
