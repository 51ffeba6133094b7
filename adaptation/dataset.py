"""The camera-view dataset: ONE on-disk format that every tool reads and writes.

A `.npz` file (numpy, no pickles) holding several sequences seen by cameras:

  format            "posynda-views/1"
  layout            "h36m17" (adaptation.skeleton)
  keypoints_2d      (N, 17, 2) float32  pixels in the image (as detected: distorted)
  confidence        (N, 17)    float32  2D detector confidence in [0, 1] (1 for rendered views)
  keypoints_3d      (N, 17, 3) float32  metres, camera frame, absolute (optional: absent when
                                        unlabelled; tools that need labels say so)
  sequence_starts   (S + 1,)   int64    sequence s is frames [starts[s], starts[s + 1])
  sequence_names    (S,)       str      e.g. "hdm_dg/HDM_dg_01-01_01_120/cam2"
  intrinsics        (S, 4)     float64  fx fy cx cy, pixels
  distortion        (S, 5)     float64  k1 k2 p1 p2 k3 (plumb bob)
  image_size        (S, 2)     int64    width height
  fps               (S,)       float64

Frames of one sequence are consecutive in time; the lifter's windows never cross sequences.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from adaptation.camera import Intrinsics, lifter_keypoints, pixels_from_normalized, turn_keypoints
from adaptation.skeleton import LAYOUT, NUM_JOINTS, check_joints

FORMAT = "posynda-views/1"


@dataclass
class Sequence:
    """One sequence: a person seen by one camera."""

    name: str
    keypoints_2d: np.ndarray            # (T, 17, 2) pixels
    confidence: np.ndarray              # (T, 17)
    intrinsics: Intrinsics
    fps: float = 30.0
    keypoints_3d: np.ndarray | None = None   # (T, 17, 3) metres, camera frame


@dataclass
class CameraViews:
    """A list of sequences; `save`/`load` are the only readers and writers of the format."""

    sequences: list[Sequence]

    @property
    def labelled(self) -> bool:
        return bool(self.sequences) and all(s.keypoints_3d is not None for s in self.sequences)

    @property
    def num_frames(self) -> int:
        return sum(len(s.keypoints_2d) for s in self.sequences)

    def select(self, keep) -> "CameraViews":
        """The sequences for which keep(sequence) is true."""
        return CameraViews([s for s in self.sequences if keep(s)])

    def without_labels(self) -> "CameraViews":
        return CameraViews([Sequence(s.name, s.keypoints_2d, s.confidence, s.intrinsics, s.fps) for s in self.sequences])

    def turned(self, rotation: np.ndarray) -> "CameraViews":
        """The same views from each camera turned about its centre by `rotation` (adaptation.camera: the
        upright or level camera): 2D in the pixels of that camera without distortion, 3D labels turned alike."""
        out = []
        for s in self.sequences:
            ideal = replace(s.intrinsics, distortion=(0.0,) * 5)
            keypoints = pixels_from_normalized(turn_keypoints(lifter_keypoints(s.keypoints_2d, s.intrinsics), rotation), ideal)
            labels = None if s.keypoints_3d is None else s.keypoints_3d @ rotation.T
            out.append(Sequence(s.name, keypoints.astype(np.float32), s.confidence, ideal, s.fps,
                                None if labels is None else labels.astype(np.float32)))
        return CameraViews(out)

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: a crash never leaves a truncated file under the final name."""
        if not self.sequences:
            raise ValueError("refusing to write a camera-view dataset with no sequences")
        if any(s.keypoints_3d is None for s in self.sequences) and not all(s.keypoints_3d is None for s in self.sequences):
            raise ValueError("either every sequence has 3D labels or none has")
        path = Path(path)
        lengths = [len(s.keypoints_2d) for s in self.sequences]
        arrays = {
            "format": np.array(FORMAT),
            "layout": np.array(LAYOUT),
            "keypoints_2d": np.concatenate([s.keypoints_2d for s in self.sequences]).astype(np.float32),
            "confidence": np.concatenate([s.confidence for s in self.sequences]).astype(np.float32),
            "sequence_starts": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            "sequence_names": np.array([s.name for s in self.sequences]),
            "intrinsics": np.stack([s.intrinsics.as_array() for s in self.sequences]),
            "distortion": np.array([(list(s.intrinsics.distortion) + [0.0] * 5)[:5] for s in self.sequences]),
            "image_size": np.array([[s.intrinsics.width, s.intrinsics.height] for s in self.sequences], dtype=np.int64),
            "fps": np.array([s.fps for s in self.sequences], dtype=np.float64),
        }
        if self.labelled:
            arrays["keypoints_3d"] = np.concatenate([s.keypoints_3d for s in self.sequences]).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CameraViews":
        """Read and validate; every problem raises ValueError naming the file and the field."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such camera-view dataset")
        try:
            data = dict(np.load(path, allow_pickle=False))
        except Exception as error:  # zip/npz errors come in many types
            raise ValueError(f"{path}: not a readable .npz camera-view dataset ({error})") from error
        missing = [k for k in ("format", "layout", "keypoints_2d", "sequence_starts", "sequence_names",
                               "intrinsics", "image_size") if k not in data]
        if missing:
            raise ValueError(f"{path}: missing fields {missing}; expected the {FORMAT} format (adaptation/dataset.py)")
        if str(data["format"]) != FORMAT:
            raise ValueError(f"{path}: format {str(data['format'])!r} is not {FORMAT!r}")
        if str(data["layout"]) != LAYOUT:
            raise ValueError(f"{path}: joint layout {str(data['layout'])!r} is not supported; expected {LAYOUT!r}")
        kp2d = data["keypoints_2d"]
        check_joints(kp2d, f"{path}: keypoints_2d", channels=2)
        n = len(kp2d)
        conf = data.get("confidence", np.ones((n, NUM_JOINTS), np.float32))
        kp3d = data.get("keypoints_3d")
        if kp3d is not None:
            check_joints(kp3d, f"{path}: keypoints_3d", channels=3)
            if len(kp3d) != n:
                raise ValueError(f"{path}: keypoints_3d has {len(kp3d)} frames but keypoints_2d has {n}")
        if conf.shape != (n, NUM_JOINTS):
            raise ValueError(f"{path}: confidence has shape {conf.shape}, expected {(n, NUM_JOINTS)}")
        starts = data["sequence_starts"]
        count = len(data["sequence_names"])
        if starts.ndim != 1 or len(starts) != count + 1 or starts[0] != 0 or starts[-1] != n or np.any(np.diff(starts) <= 0):
            raise ValueError(f"{path}: sequence_starts must rise strictly from 0 to {n} with {count + 1} entries")
        for field_name in ("intrinsics", "image_size"):
            if len(data[field_name]) != count:
                raise ValueError(f"{path}: {field_name} has {len(data[field_name])} rows for {count} sequences")
        distortion = data.get("distortion", np.zeros((count, 5)))
        fps = data.get("fps", np.full(count, 30.0))
        sequences = []
        for s in range(count):
            a, b = starts[s], starts[s + 1]
            fx, fy, cx, cy = data["intrinsics"][s]
            try:
                intrinsics = Intrinsics(fx, fy, cx, cy, int(data["image_size"][s][0]), int(data["image_size"][s][1]),
                                        tuple(float(v) for v in distortion[s]))
            except ValueError as error:
                raise ValueError(f"{path}: sequence {data['sequence_names'][s]}: {error}") from None
            sequences.append(Sequence(str(data["sequence_names"][s]), kp2d[a:b], conf[a:b], intrinsics,
                                      float(fps[s]), None if kp3d is None else kp3d[a:b]))
        return cls(sequences)
