#!/usr/bin/env bash
# The exact commands that trained the three source models of benchmarks/lifter_accuracy.md
# (studio-only, randomised cameras, robot-camera oracle). CPU: ~20 min each on 2 cores; pass
# --device cuda on a GPU machine. Data: the bundled open mocap through the bundled rigs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=benchmarks/.cache
mkdir -p "$DATA" runs
TRAIN=(cmu_01 hdm_bd hdm_bk); TEST=(cmu_03 hdm_dg)
$BIN/render_views --rig studio     --subjects "${TRAIN[@]}" --seed 0 --noise 0.01 --out $DATA/studio_train.npz
$BIN/render_views --rig studio     --subjects "${TEST[@]}"  --seed 1 --noise 0.01 --out $DATA/studio_test.npz
$BIN/render_views --rig robot      --subjects "${TEST[@]}"  --seed 2 --noise 0.01 --out $DATA/robot_test.npz
$BIN/render_views --rig randomized --subjects "${TRAIN[@]}" --seed 3 --noise 0.01 --out $DATA/randomized_train.npz
$BIN/render_views --rig robot      --subjects "${TRAIN[@]}" --seed 4 --noise 0.01 --out $DATA/robot_train.npz
COMMON=(--steps 3000 --batch_size 32 --eval_every 250 --model.frames 27 --model.width 64 --model.depth 3
        --model.heads 4 --threads 2 --val_views $DATA/robot_test.npz "$@")
$BIN/train --train_views $DATA/studio_train.npz     --out_dir runs/studio     "${COMMON[@]}"
$BIN/train --train_views $DATA/randomized_train.npz --out_dir runs/randomized "${COMMON[@]}"
$BIN/train --train_views $DATA/robot_train.npz      --out_dir runs/oracle     "${COMMON[@]}"
