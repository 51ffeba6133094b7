#!/usr/bin/env bash
# Every accuracy figure of benchmarks/README.md, in order, from the trained runs (benchmarks/train_source_models.sh):
# validation tables (the choices), the shipped default (chosen on validation), then the test tables
# (touched once), the real-video benchmark, the size sweep and the normalisation comparison.
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
$PY lifter_accuracy.py --part val
# the previous default (chosen on validation: smooth-long-diffusion), exported as it was shipped
$PY ship_default.py ../runs/smooth_long_diffusion/best.pt --rig randomized --flip --out ../runs/smooth_long_diffusion/shipped
# the default: the same recipe retrained on training + validation subjects (final weights), its
# uncertainty fitted with the predictions of its twin trained without the validation subject
$PY ship_default.py ../runs/final_diffusion/final.pt --rig randomized --flip --calibrate-with ../runs/smooth_long_diffusion/best.pt
$PY lifter_accuracy.py --part test
# the level camera (decided on validation: level_camera.py evaluate --part val, benchmarks/README.md "The level camera"),
# then the level model for cameras with a known mount, shipped beside the default, and its test table
$PY level_camera.py evaluate --part val --level level-long=../runs/level_long_diffusion/best.pt \
    level-long-seed1=../runs/level_long_diffusion_seed1/best.pt level-12k=../runs/level_diffusion/best.pt \
    default-levelled=../runs/smooth_long_diffusion/shipped/lifter.pt --camera default=../runs/smooth_long_diffusion/shipped/lifter.pt \
    default-seed1=../runs/smooth_long_diffusion_seed1/best.pt camera-12k=../runs/smooth_diffusion/best.pt
$PY ship_default.py ../runs/final_level_diffusion/final.pt --rig randomized --flip --out ../adaptation/models/level \
    --calibration-views ../runs/level_data/randomized_val_level.npz --calibrate-with ../runs/level_long_diffusion/best.pt
$PY level_camera.py evaluate --part test --level level=../adaptation/models/level/lifter.pt mlp-control-level=../runs/final_level_mlp/final.pt \
    --camera default=../adaptation/models/default/lifter.pt regression-control-final=../runs/final_regression/final.pt \
    mlp-control-final=../runs/final_mlp/final.pt
for window in causal centered; do     # the node's two window modes
  $PY real_video.py --hypotheses 3 --models default=../adaptation/models/default/lifter.pt level=../adaptation/models/level/lifter.pt \
      previous-default=../runs/smooth_long_diffusion/shipped/lifter.pt regression-control-final=../runs/final_regression/final.pt \
      mlp-control-final=../runs/final_mlp/final.pt regression-control-filtered-2x=../runs/smooth_long_regression/best.pt \
      mlp-control-filtered=../runs/smooth_mlp/best.pt mlp-control=../runs/randomized_mlp/best.pt --adapt --window $window
done
$PY upright_camera.py --part val
$PY upright_camera.py --part test
$PY size_sweep.py ../runs/sweep_f27_diffusion ../runs/sweep_f9b64_diffusion ../runs/dropout0_diffusion \
    ../runs/dropout0_regression ../runs/deployed0.5_diffusion ../runs/randomized_diffusion ../runs/deployed1.0_diffusion \
    ../runs/randomized_regression ../runs/pose_randomized ../runs/pose_regression ../runs/randomized_mlp
$PY keypoint_shift_probe.py
