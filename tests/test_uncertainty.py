"""Uncertainty calibration: fitted on validation data, it must match the error it predicts."""
import numpy as np
import pytest

from adaptation.uncertainty import UncertaintyCalibration, calibration_report, fit, for_hypotheses


def test_fit_recovers_base_and_gain_and_the_report_says_calibrated():
    rng = np.random.default_rng(0)
    base = np.linspace(0.0, 0.08, 17)
    spread = rng.uniform(0, 0.05, size=(4000, 17))
    error = base + 2.0 * spread + rng.normal(scale=0.002, size=spread.shape)
    calibration = fit(spread, error, hypotheses=3)
    np.testing.assert_allclose(calibration.base_m, np.clip(base, 0, None), atol=0.002)
    assert calibration.spread_gain == pytest.approx(2.0, abs=0.05)
    report = calibration_report(calibration.apply(spread), error)
    assert report["ratio"] == pytest.approx(1.0, abs=0.02)
    assert report["rank_correlation"] > 0.9 and report["rank_correlation_within_joint"] > 0.9
    raw = calibration_report(spread, error)       # the raw spread is far too small
    assert raw["ratio"] < 0.5


def test_without_spread_information_the_calibration_is_the_per_joint_mean():
    error = np.tile(np.linspace(0.01, 0.1, 17), (50, 1))
    calibration = fit(np.zeros_like(error), error, hypotheses=1)
    assert calibration.spread_gain == 0.0
    np.testing.assert_allclose(calibration.base_m, error[0])


def test_the_calibration_for_the_nodes_number_of_hypotheses_is_chosen():
    one, three = (UncertaintyCalibration([0.0] * 17, 0.0, h) for h in (1, 3))
    assert for_hypotheses([one, three], 3) is three and for_hypotheses([one, three], 2) is one
    assert for_hypotheses([one, three], 5) is three and for_hypotheses([], 3) is None
    with pytest.raises(ValueError, match="joints"):
        UncertaintyCalibration.from_dict({"base_m": [0.0] * 5, "spread_gain": 1.0, "hypotheses": 3})
