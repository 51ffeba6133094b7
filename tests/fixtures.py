"""Small real data shared by tests, taken from the open mocap shipped in adaptation/data."""
from pathlib import Path

import numpy as np

from adaptation.views import load_mocap

REPO = Path(__file__).resolve().parents[1]
MOCAP = REPO / "adaptation" / "data" / "cmu_hdm05_h36m17.npz"


def small_mocap(frames: int = 120) -> dict[str, dict[str, np.ndarray]]:
    """Two short real sequences of two subjects (metres, y-up)."""
    mocap = load_mocap(MOCAP)
    return {subject: {name: poses[:frames] for name, poses in list(mocap[subject].items())[:1]}
            for subject in ("cmu_03", "hdm_dg")}
