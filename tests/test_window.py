"""Per-person temporal state: the One-Euro keypoint filter and the pipeline's steady noise."""
import numpy as np
import pytest

from posynda_ros.window import KeypointFilter, smooth_sequence

from fixtures import small_mocap


def test_filter_removes_jitter_of_a_still_person_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    pose = next(iter(small_mocap(90)["hdm_dg"].values()))[:, :, :2]     # real motion, metres as "2D"
    still = np.repeat(pose[:1], 90, axis=0)
    noisy = still + rng.normal(scale=0.01, size=still.shape)
    smoothed = smooth_sequence(noisy, fps=30.0)
    assert np.abs(smoothed[30:] - still[30:]).mean() < 0.5 * np.abs(noisy[30:] - still[30:]).mean()
    moving = smooth_sequence(pose, fps=30.0)
    assert np.linalg.norm(moving - pose, axis=-1).mean() < 0.03             # lag stays small


def test_filter_restarts_when_time_goes_back_and_rejects_bad_settings():
    keypoint_filter = KeypointFilter()
    first = np.zeros((17, 2))
    keypoint_filter(first, 1.0)
    jumped = np.ones((17, 2))
    np.testing.assert_array_equal(keypoint_filter(jumped, 0.5), jumped)     # a bag loop: no blending with the past
    with pytest.raises(ValueError, match="One-Euro"):
        KeypointFilter(min_cutoff_hz=0.0)


def test_pipeline_keeps_one_noise_draw_per_track():
    from adaptation.runtime import open_backend
    from posynda_ros.pipeline import LiftPipeline
    pipeline = LiftPipeline(open_backend(preference="onnxruntime-cpu"), hypotheses=3)
    try:
        first = pipeline._track_noise()
        assert first.shape == (3, pipeline.backend.frames, 17, 3)
        assert pipeline._track_noise() is first
        pipeline.window.buffer.append(object())            # a track existed, then the person was lost
        pipeline.window.reset()
        assert not np.array_equal(pipeline._track_noise(), first)
    finally:
        pipeline.close()
