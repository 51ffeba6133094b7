"""The benchmark splits, rendered from the bundled open mocap with fixed seeds (cached in benchmarks/.cache).

Subjects: training cmu_01, hdm_bk; validation hdm_bd (every choice: size, steps, checkpoint,
normalisation, uncertainty calibration); test cmu_03, hdm_dg (touched only for the final tables).
A split is '<rig>_<part>', e.g. 'robot_val'; rigs are adaptation/rigs/*.yaml. 2D has
detector-like noise (1% of the person's height). The adaptation benchmark's targets are split by
mocap sequence: even sequences give 2D for adapting, odd ones are scored (`target_split`).
"""
from __future__ import annotations

import zlib
from pathlib import Path

from adaptation.dataset import CameraViews
from adaptation.views import BUNDLED_MOCAP, NOISE, OUTLIER_RATE, Rig, load_mocap, render

CACHE = Path(__file__).with_name(".cache")
SUBJECTS = {"train": ("cmu_01", "hdm_bk"), "val": ("hdm_bd",), "test": ("cmu_03", "hdm_dg")}
# Session 13's noisier renders, near MediaPipe's measured residual (benchmarks/detector_residuals.py)
NOISIER_NOISE, NOISIER_OUTLIER_RATE = 0.025, 0.05


def split_path(name: str, noise: float = NOISE, outlier_rate: float = OUTLIER_RATE) -> Path:
    """The cached .npz of a split, rendered on first use (another noise: another file)."""
    variant = "" if (noise, outlier_rate) == (NOISE, OUTLIER_RATE) else f"_noise{noise:g}_outliers{outlier_rate:g}"
    path = CACHE / f"{name}{variant}.npz"
    if not path.is_file():
        rig, part = name.rsplit("_", 1)
        if part not in SUBJECTS:
            raise ValueError(f"split {name!r}: expected '<rig>_<{'|'.join(SUBJECTS)}>'")
        mocap = load_mocap(BUNDLED_MOCAP)
        seed = zlib.crc32(name.encode())          # one fixed seed per split
        render({s: mocap[s] for s in SUBJECTS[part]}, Rig.load(rig), seed=seed, noise=noise, outlier_rate=outlier_rate).save(path)
    return path


def views(name: str, noise: float = NOISE, outlier_rate: float = OUTLIER_RATE) -> CameraViews:
    """A split by name, rendered once and cached."""
    return CameraViews.load(split_path(name, noise, outlier_rate))


def mocap_sequence(sequence_name: str) -> str:
    """'hdm_dg/HDM_dg_01-01_01_120/robot1' -> 'hdm_dg/HDM_dg_01-01_01_120'."""
    return sequence_name.rsplit("/", 1)[0]


def target_split(rig: str, part: str = "test") -> tuple[CameraViews, CameraViews]:
    """(adapt: 2D only, score: labelled) views of the `part` subjects through `rig`, split by mocap sequence."""
    target = views(f"{rig}_{part}")
    names = sorted({mocap_sequence(s.name) for s in target.sequences})
    adapt_names = set(names[0::2])
    adapt = target.select(lambda s: mocap_sequence(s.name) in adapt_names).without_labels()
    score = target.select(lambda s: mocap_sequence(s.name) not in adapt_names)
    return adapt, score


if __name__ == "__main__":  # render every split the accuracy benchmarks use
    import sys
    for split in sys.argv[1:]:
        print(split, split_path(split))
