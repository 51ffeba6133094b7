"""Per-joint uncertainty that means something: a calibrated function of the hypotheses' spread.

The raw spread of the diffusion hypotheses is far smaller than the real error (the issue measured
7x), and zero at H=1. The published uncertainty is therefore fitted on validation data, never
on test data: per joint j, uncertainty_j = base_j + gain * spread_j, by least squares against
the real per-joint error (metres). base_j carries what is known about each joint (a wrist errs
more than a hip); gain carries what the hypotheses say about this frame. Stored in model.json
under "uncertainty", one entry per number of hypotheses H it was fitted for; the node publishes
the one for its H in Skeleton3D.uncertainty.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from adaptation.camera import NORMALIZED_CAMERA, project, solve_root
from adaptation.metrics import rank_correlation
from adaptation.skeleton import NUM_JOINTS, root_relative

AGGREGATIONS = ("mean", "reprojection")


def summarize_hypotheses(hypotheses: np.ndarray, keypoints_2d: np.ndarray | None = None,
                         aggregation: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """H hypotheses (H, ..., J, 3) root-relative -> (pose (..., J, 3), per-joint spread (..., J)).

    The spread is the RMS distance of the hypotheses from their mean: the raw material of the
    published uncertainty. aggregation "mean" averages the hypotheses; "reprojection" keeps, per
    joint, the hypothesis whose joint best reprojects onto the 2D keypoints_2d (..., J, 2)
    (normalised), each hypothesis placed by its own root solved from the 2D: D3DP's joint-wise
    aggregation, which uses the 2D and nothing else.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    mean = hypotheses.mean(0)
    spread = np.sqrt(((hypotheses - mean) ** 2).sum(-1).mean(0))
    if aggregation == "mean" or len(hypotheses) == 1:
        return mean, spread
    keypoints = np.broadcast_to(keypoints_2d, hypotheses.shape[:-1] + (2,)).astype(np.float64)
    f, c = NORMALIZED_CAMERA[:2], NORMALIZED_CAMERA[2:]
    placed = hypotheses + solve_root(hypotheses.astype(np.float64), keypoints, np.broadcast_to(f, keypoints.shape[:-2] + (2,)),
                                     np.broadcast_to(c, keypoints.shape[:-2] + (2,)))[..., None, :]
    error = ((project(placed, f, c) - keypoints) ** 2).sum(-1)                         # (H, ..., J)
    pose = np.take_along_axis(hypotheses, error.argmin(0)[None, ..., None].repeat(3, -1), 0)[0]
    return root_relative(pose), spread


@dataclass
class UncertaintyCalibration:
    base_m: list[float]        # per joint, metres
    spread_gain: float         # multiplies the hypotheses' RMS spread
    hypotheses: int            # the H it was fitted for
    fitted_on: str = ""        # which validation data

    def apply(self, spread_m: np.ndarray) -> np.ndarray:
        """(..., J) spread in metres -> (..., J) calibrated uncertainty in metres."""
        return np.asarray(self.base_m) + self.spread_gain * spread_m

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "UncertaintyCalibration":
        calibration = cls(**values)
        if len(calibration.base_m) != NUM_JOINTS:
            raise ValueError(f"uncertainty calibration has {len(calibration.base_m)} joints, expected {NUM_JOINTS}")
        return calibration


def fit(spread_m: np.ndarray, error_m: np.ndarray, hypotheses: int, fitted_on: str = "") -> UncertaintyCalibration:
    """Least squares of error (N, J) on [one-hot joint, spread] (N, J); gain clipped at 0."""
    n, j = error_m.shape
    design = np.concatenate([np.tile(np.eye(j), (n, 1)), spread_m.reshape(-1, 1)], axis=1)
    solution, *_ = np.linalg.lstsq(design, error_m.reshape(-1), rcond=None)
    base, gain = solution[:j], float(solution[j])
    if gain <= 0 or hypotheses < 2:
        base, gain = error_m.mean(0), 0.0
    return UncertaintyCalibration([float(v) for v in np.clip(base, 0, None)], gain, hypotheses, fitted_on)


def calibration_report(uncertainty_m: np.ndarray, error_m: np.ndarray) -> dict[str, float]:
    """How well uncertainty (N, J) predicts error (N, J): mean ratio (1 = calibrated), Spearman rank
    correlation over every (frame, joint), and its mean within each joint (does the spread itself
    tell good frames from bad ones?). The pelvis (error 0 by construction) is left out."""
    u, e = uncertainty_m[:, 1:], error_m[:, 1:]
    within = [rank_correlation(u[:, i], e[:, i]) for i in range(u.shape[1]) if np.ptp(u[:, i]) > 0]
    return {"mean_uncertainty_mm": float(u.mean() * 1000), "mean_error_mm": float(e.mean() * 1000),
            "ratio": float(u.mean() / e.mean()), "rank_correlation": rank_correlation(u.ravel(), e.ravel()),
            "rank_correlation_within_joint": float(np.mean(within)) if within else float("nan")}


def calibrations_from_card(card: dict) -> list[UncertaintyCalibration]:
    """The calibrations a model card (model.json) carries under "uncertainty", one per H fitted."""
    return [UncertaintyCalibration.from_dict(entry) for entry in card.get("uncertainty", [])]


def for_hypotheses(calibrations: list[UncertaintyCalibration], hypotheses: int) -> UncertaintyCalibration | None:
    """The calibration fitted for H hypotheses, else the one fitted for the nearest H (None if there is none)."""
    if not calibrations:
        return None
    return min(calibrations, key=lambda c: (abs(c.hypotheses - hypotheses), c.hypotheses))
