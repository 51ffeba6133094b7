"""The benchmark splits, rendered from the bundled open mocap with fixed seeds (cached in benchmarks/.cache).

Source subjects (training): cmu_01, hdm_bd, hdm_bk.  Held-out subjects: cmu_03, hdm_dg.
2D has detector-like noise (1% of the person's height). The robot-camera target of the adaptation
benchmark is split by mocap sequence: even sequences give 2D for adapting, odd ones are scored.
"""
from __future__ import annotations

from pathlib import Path

from adaptation.dataset import CameraViews
from adaptation.views import BUNDLED_MOCAP, Rig, load_mocap, render

CACHE = Path(__file__).with_name(".cache")
TRAIN_SUBJECTS = ("cmu_01", "hdm_bd", "hdm_bk")
TEST_SUBJECTS = ("cmu_03", "hdm_dg")
NOISE = 0.01
# name: (rig, subjects, seed) -- the same seeds as benchmarks/train_source_models.sh
SPLITS = {
    "studio_train": ("studio", TRAIN_SUBJECTS, 0),
    "studio_test": ("studio", TEST_SUBJECTS, 1),
    "robot_test": ("robot", TEST_SUBJECTS, 2),
    "randomized_train": ("randomized", TRAIN_SUBJECTS, 3),
    "robot_train": ("robot", TRAIN_SUBJECTS, 4),
}


def views(name: str) -> CameraViews:
    """A split by name, rendered once and cached."""
    path = CACHE / f"{name}.npz"
    if not path.is_file():
        rig, subjects, seed = SPLITS[name]
        mocap = load_mocap(BUNDLED_MOCAP)
        render({s: mocap[s] for s in subjects}, Rig.load(rig), seed=seed, noise=NOISE).save(path)
    return CameraViews.load(path)


def mocap_sequence(sequence_name: str) -> str:
    """'hdm_dg/HDM_dg_01-01_01_120/robot1' -> 'hdm_dg/HDM_dg_01-01_01_120'."""
    return sequence_name.rsplit("/", 1)[0]


def robot_target_split() -> tuple[CameraViews, CameraViews]:
    """(adapt: 2D only, test: labelled) robot views of the held-out subjects, split by mocap sequence."""
    target = views("robot_test")
    names = sorted({mocap_sequence(s.name) for s in target.sequences})
    adapt_names = set(names[0::2])
    adapt = target.select(lambda s: mocap_sequence(s.name) in adapt_names).without_labels()
    test = target.select(lambda s: mocap_sequence(s.name) not in adapt_names)
    return adapt, test
