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


def test_a_person_who_leaves_is_reported_once_as_track_lost():
    """Real frames of the bundled clip, then an empty image: the last estimate comes back once with TRACK_LOST."""
    from posynda_ros.msg import Skeleton3D

    from adaptation.camera import Intrinsics
    from adaptation.runtime import open_backend
    from posynda_ros.pipeline import LiftPipeline
    from video import CENTRE, FOCAL, SIZE, read_frames
    camera = Intrinsics(FOCAL, FOCAL, CENTRE[0], CENTRE[1], SIZE[0], SIZE[1])
    pipeline = LiftPipeline(open_backend(preference="onnxruntime-cpu"), hypotheses=1)
    try:
        results = [pipeline.process(rgb, 10 + i / 15, camera) for i, rgb in enumerate(read_frames(12, start=4, step=2))]
        seen = [r.estimates[0] for r in results if r.estimates]
        assert len(seen) >= 8 and seen[-1].track_state == Skeleton3D.TRACK_CONFIRMED
        empty = np.full((SIZE[1], SIZE[0], 3), 127, np.uint8)
        lost = pipeline.process(empty, 11.0, camera).estimates
        assert [e.track_state for e in lost] == [Skeleton3D.TRACK_LOST] and lost[0].track_id == seen[-1].track_id
        np.testing.assert_array_equal(lost[0].positions_m, seen[-1].positions_m)
        assert pipeline.process(empty, 11.1, camera).estimates == []        # once only
    finally:
        pipeline.close()
