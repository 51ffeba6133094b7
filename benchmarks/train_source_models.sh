#!/usr/bin/env bash
# The exact commands that trained the models of benchmarks/results/lifter_accuracy.md: the diffusion
# lifter and its two controls (single-frame MLP, the same denoiser as a deterministic regressor), on
# the training subjects (cmu_01, hdm_bk) through a rig; best checkpoint chosen on the validation
# subject (hdm_bd) through the same rig. CPU, 1 thread per job (two jobs side by side on 2 cores);
# pass --device cuda on a GPU machine. Usage: benchmarks/train_source_models.sh <job> [extra train args]
# Later arguments win, so a job can train on other renders. Session 13's renders with MediaPipe-like 2D
# noise (benchmarks/detector_residuals.py; level_camera.py prepare --noise 0.025 --outlier-rate 0.05
# --level-data runs/level_data_mediapipe_noise makes them, and the camera-frame splits beside them):
#   LEVEL_DATA=runs/level_data_mediapipe_noise ... final-level-{diffusion,regression,mlp} --out_dir runs/final_level_mpnoise_<x>
#   N=benchmarks/.cache/randomized_{train,val}_noise0.025_outliers0.05.npz
#   ... final-{diffusion,mlp} --train_views <train N>,<val N> --out_dir runs/final_mpnoise_<x>
#   ... final-mlp (the standard renders, retrained as the control beside them: runs/final_mlp)
#   ... smooth-long-diffusion --train_views <train N> --val_views <val N> --out_dir runs/smooth_long_mpnoise_diffusion
# Session 14: the level recipe on the training subjects at other 2D noises, to choose the noise on validation
# (level_camera.py evaluate --part val --tag noise_choice / mixnoise; benchmarks/README.md):
#   ... level-long-diffusion (the standard renders: runs/level_long_diffusion, also the shipped level model's calibration twin)
#   LEVEL_DATA=runs/level_data_noise0.0175 ... level-long-diffusion --out_dir runs/level_long_noise0.0175_diffusion
#     (data: level_camera.py prepare --noise 0.0175 --outlier-rate 0.03 --level-data runs/level_data_noise0.0175)
#   LEVEL_DATA=runs/level_data_mediapipe_noise ... level-long-diffusion --out_dir runs/level_long_mpnoise_diffusion
#   ... level-long-diffusion --train_views runs/level_data/randomized_train_level.npz,runs/level_data_mediapipe_noise/randomized_train_level.npz
#       --out_dir runs/level_long_mixnoise_diffusion --threads 2   (both renders together, alone on the machine)
# Session 15: does the diffusion lifter beat its twin once its hypotheses differ? The level recipe trained on the
# denoising objective alone, and its deterministic twin, both on the training subjects (benchmarks/README.md):
#   ... level-long-diffusion --deployed_fraction 0 --out_dir runs/level_long_denoising_diffusion
#   ... level-long-diffusion --model.objective regression --out_dir runs/level_long_regression
#   ... level-long-diffusion --deployed_fraction 0 --squared_denoising true --out_dir runs/level_long_mse_diffusion
#   ... final-level-diffusion --deployed_fraction 0 --squared_denoising true --out_dir runs/final_level_mse_diffusion --threads 2
#       (it passed the validation rule; trained alone on the machine)
#   ... level-long-diffusion --model.objective regression --deployed_fraction 0 --squared_denoising true --threads 2
#       --out_dir runs/level_long_mse_regression   (the twin trained with squared errors too: is the gain the loss's?)
#   (final-level-diffusion --deployed_fraction 0 --out_dir runs/final_level_denoising_diffusion was stopped at step 12000:
#    an intermediate checkpoint's hypotheses barely differed, see benchmarks/README.md, "Hypotheses that differ")
# Session 16: the controls trained with squared errors too, for the test table (benchmarks/README.md, "Controls with squared errors"):
#   ... final-level-regression --deployed_fraction 0 --squared_denoising true --out_dir runs/final_level_mse_regression
#   ... final-level-diffusion --deployed_fraction 0 --squared_denoising true --seed 1 --out_dir runs/final_level_mse_diffusion_seed1
#   ... level-mlp --deployed_fraction 0 --squared_denoising true --out_dir runs/level_mse_mlp   (its step count, on validation)
#   ... final-level-mlp --deployed_fraction 0 --squared_denoising true --steps 8500 --out_dir runs/final_level_mse_mlp
#       (8500: level_mse_mlp's best validation step); second seeds of the twin and this MLP: the same with --seed 1
#       --out_dir runs/<run>_seed1 (the twin's with --threads 2, alone on the machine)
# Session 17: the causal loss (benchmarks/README.md, "The newest frame"): level-long-diffusion --threads 2 (retrained:
#   this checkout had no runs), then level-finetune and level-causal side by side; final-level-causal if adopted;
#   then level-causal --causal_acceleration 0 --out_dir runs/level_causal_position and
#   level-causal --causal_acceleration 0.25 --out_dir runs/level_causal_acc0.25 (the second rule).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=benchmarks/.cache
job=$1; shift
splits() { (cd benchmarks && ../$BIN/python splits.py "$@" > /dev/null); }
# Size chosen on the validation curve (benchmarks/results/size_sweep.md): F=9 beat F=27 at equal training time.
# Dropout 0.1: without it both denoisers overfit the two training subjects (validation best at step 4500
# and rising while the training loss kept falling; runs dropout0-*).
DENOISER=(--model.architecture mixste --model.frames 9 --model.width 64 --model.depth 3 --model.heads 4
          --model.mlp_ratio 2 --model.dropout 0.1 --batch_size 64
          --eval_every 500 --threads 1)
MLP=(--model.architecture mlp --model.objective regression --model.frames 1 --model.width 512 --model.depth 2
     --model.dropout 0.1 --batch_size 256 --steps 10000 --eval_every 500 --threads 1)
# Pose-token denoiser (one token per frame): C=512, L=2, ~0.12 s per step of 32 windows on one thread.
POSE=(--model.architecture pose_tokens --model.frames 9 --model.width 512 --model.depth 2 --model.heads 8
      --model.mlp_ratio 1 --model.dropout 0.1 --batch_size 32 --steps 12000 --eval_every 1000 --threads 1)
case $job in
  pose-regression)                 # the pose-token denoiser's deterministic twin, randomised cameras
    splits randomized_train randomized_val
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/pose_regression --model.objective regression "${POSE[@]}" "$@" ;;
  bones-diffusion|bones-regression)   # the default and its twin with bone-length augmentation (+-10% per bone)
    splits randomized_train randomized_val
    objective=${job#bones-}; [ $objective = diffusion ] && extra=(--deployed_fraction 0.9) || extra=(--model.objective regression)
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/bones_${objective} --bone_jitter 0.1 "${extra[@]}" "${POSE[@]}" "$@" ;;
  ema-diffusion|ema-regression)    # the default and its twin, validated and saved as an EMA of the weights (decay 0.999)
    splits randomized_train randomized_val
    objective=${job#ema-}; [ $objective = diffusion ] && extra=(--deployed_fraction 0.9) || extra=(--model.objective regression)
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/ema_${objective} --ema_decay 0.999 "${extra[@]}" "${POSE[@]}" "$@" ;;
  long-diffusion|long-regression)  # the default and its twin with twice the budget (24000 steps), EMA of the weights
    splits randomized_train randomized_val
    objective=${job#long-}; [ $objective = diffusion ] && extra=(--deployed_fraction 0.9) || extra=(--model.objective regression)
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/long_${objective} --ema_decay 0.999 "${extra[@]}" "${POSE[@]}" --steps 24000 "$@" ;;
  shift-diffusion|shift15-diffusion)  # the default with keypoint-convention augmentation (augment.shift_keypoints):
    splits randomized_train randomized_val   # 3 cm (shift), 1.5 cm (shift15)
    [ $job = shift-diffusion ] && sigma=0.03 || sigma=0.015
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/${job//-/_} --keypoint_shift_m $sigma --deployed_fraction 0.9 "${POSE[@]}" "$@" ;;
  smooth-diffusion|smooth-regression|smooth-mlp)   # the default, its twin and the MLP trained and validated on 2D
    splits randomized_train randomized_val          # through the node's One-Euro filter (--smooth_2d), as deployed
    case ${job#smooth-} in
      diffusion) extra=(--deployed_fraction 0.9 "${POSE[@]}") ;;
      regression) extra=(--model.objective regression "${POSE[@]}") ;;
      mlp) extra=("${MLP[@]}") ;;
    esac
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/${job//-/_} --smooth_2d true "${extra[@]}" "$@" ;;
  smooth-long-diffusion|smooth-long-regression)   # the smooth-2D default and its twin with twice the budget
    splits randomized_train randomized_val         # (24000 steps) and an EMA of the weights
    objective=${job#smooth-long-}; [ $objective = diffusion ] && extra=(--deployed_fraction 0.9) || extra=(--model.objective regression)
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/smooth_long_${objective} --smooth_2d true --ema_decay 0.999 "${extra[@]}" "${POSE[@]}" --steps 24000 "$@" ;;
  level-diffusion|level-long-diffusion|level-mlp)   # the smooth-2D default's recipe on levelled views (level camera:
    LEVEL=${LEVEL_DATA:-runs/level_data}            # benchmarks/level_camera.py prepare makes them), 12000 steps or 24000
    case $job in                                    # + EMA; level-mlp: the single-frame control, its step count for final-level-mlp
      level-diffusion) extra=(--deployed_fraction 0.9 "${POSE[@]}") ;;
      level-long-diffusion) extra=(--deployed_fraction 0.9 "${POSE[@]}" --ema_decay 0.999 --steps 24000) ;;
      level-mlp) extra=("${MLP[@]}") ;;
    esac
    $BIN/train --train_views $LEVEL/randomized_train_level.npz --val_views $LEVEL/randomized_val_level.npz \
      --out_dir runs/${job//-/_} --smooth_2d true --model.lifting_camera level "${extra[@]}" "$@" ;;
  level-finetune|level-causal|final-level-causal|level-causal-attention|final-level-causal-attention)
    # 3000 more steps of a level lifter. Session 17: with the usual loss (level-finetune, the control) or with the
    # causal loss added (level-causal; final-level-causal started from the session-16 level model, runs/level_shipped_s16).
    # Session 18: with causal temporal attention (every frame of a window predicted from the past only, the usual
    # loss), from the newest-frame run (c) or from the shipped model. level-*: training subjects, final-*: training
    # and validation subjects.
    LEVEL=${LEVEL_DATA:-runs/level_data}
    FINETUNE=(--steps 3000 --lr 1e-4 --warmup_steps 100 --ema_decay 0.999 --deployed_fraction 0.9)
    case $job in
      level-finetune) start=runs/level_long_diffusion/final.pt ;;
      level-causal) start=runs/level_long_diffusion/final.pt; FINETUNE+=(--causal_weight 1) ;;
      level-causal-attention) start=runs/level_causal_position/final.pt; FINETUNE+=(--model.causal true) ;;
      final-level-causal) start=adaptation/models/level/lifter.pt; FINETUNE+=(--causal_weight 1) ;;
      final-level-causal-attention) start=adaptation/models/level/lifter.pt; FINETUNE+=(--model.causal true) ;;
    esac
    if [[ $job == final-* ]]; then
      data=(--train_views $LEVEL/randomized_train_level.npz,$LEVEL/randomized_val_level.npz)
    else
      data=(--train_views $LEVEL/randomized_train_level.npz --val_views $LEVEL/randomized_val_level.npz)
    fi
    $BIN/train "${data[@]}" --init_from $start --out_dir runs/${job//-/_} --smooth_2d true --model.lifting_camera level \
      "${POSE[@]}" "${FINETUNE[@]}" "$@" ;;
  final-diffusion|final-regression|final-mlp|final-level-diffusion|final-level-regression|final-level-mlp)
    # the filtered-2D default, its twin and the MLP retrained on the training AND validation subjects once
    # every choice was made on validation, each at its step count and budget chosen there, final weights;
    # final-level-*: the same three on levelled views (the level camera for known mounts; level_camera.py
    # prepare makes them). Seed spread: <job> --seed N --out_dir runs/<run>_seedN
    # (final_diffusion_seed1, final_regression_seed1, final_mlp_seed1/2, final_level_*_seed1)
    case ${job##*-} in
      diffusion) extra=(--deployed_fraction 0.9 --ema_decay 0.999 "${POSE[@]}" --steps 24000) ;;
      regression) extra=(--model.objective regression --ema_decay 0.999 "${POSE[@]}" --steps 24000) ;;
      mlp) extra=("${MLP[@]}" --steps 6000) ;;        # smooth-mlp's best validation step
    esac
    if [[ $job == final-level-* ]]; then
      LEVEL=${LEVEL_DATA:-runs/level_data}
      views=$LEVEL/randomized_train_level.npz,$LEVEL/randomized_val_level.npz; extra+=(--model.lifting_camera level)
    else
      splits randomized_train randomized_val; views=$DATA/randomized_train.npz,$DATA/randomized_val.npz
    fi
    $BIN/train --train_views $views --out_dir runs/${job//-/_} --smooth_2d true "${extra[@]}" "$@" ;;
  long-studio)                     # the studio model (adaptation source) with the same 2x budget and EMA
    splits studio_train studio_val
    $BIN/train --train_views $DATA/studio_train.npz --val_views $DATA/studio_val.npz \
      --out_dir runs/long_studio --ema_decay 0.999 --deployed_fraction 0.9 "${POSE[@]}" --steps 24000 "$@" ;;
  k2-diffusion|k2-ema-diffusion)   # the default trained and validated through K=2 DDIM steps (a refinement step the twin
    splits randomized_train randomized_val   # lacks); k2-ema also keeps an EMA of the weights
    [ $job = k2-ema-diffusion ] && extra=(--ema_decay 0.999) || extra=()
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/${job//-/_} --sampler_steps 2 --deployed_fraction 0.9 "${extra[@]}" "${POSE[@]}" "$@" ;;
  pose-*)                          # the pose-token diffusion lifter on one rig: pose-randomized (the default,
    rig=${job#pose-}; splits ${rig}_train ${rig}_val   # 12000 steps); pose-studio (adaptation source) and the
                                   # oracles pose-low_robot, pose-head_camera were trained with --steps 10000
    $BIN/train --train_views $DATA/${rig}_train.npz --val_views $DATA/${rig}_val.npz \
      --out_dir runs/pose_${rig} --deployed_fraction 0.9 "${POSE[@]}" "$@" ;;
  diffusion)                       # the previous default (MixSTE-style, joint tokens), randomised cameras, 5000
    splits randomized_train randomized_val          # steps, 90% of each batch on the deployed K=1 path
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/randomized_diffusion --steps 5000 --deployed_fraction 0.9 "${DENOISER[@]}" "$@" ;;
  regression)                      # the previous default's deterministic twin: same denoiser, data, steps
    splits randomized_train randomized_val
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/randomized_regression --steps 5000 --model.objective regression "${DENOISER[@]}" "$@" ;;
  dropout0-diffusion|dropout0-regression)   # the same without dropout, 10000 steps (stopped at 6000: overfitting)
    splits randomized_train randomized_val
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/${job/-/_} --steps 10000 --model.objective ${job#dropout0-} "${DENOISER[@]}" --model.dropout 0 "$@" ;;
  sweep-f27|sweep-f9b64)           # size-sweep points (stopped early, kept for the validation curves)
    splits randomized_train randomized_val
    if [ $job = sweep-f27 ]; then size=(--model.frames 27 --batch_size 32 --steps 12000); else size=(--model.frames 9 --batch_size 64 --steps 4000); fi
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/${job/-/_}_diffusion "${DENOISER[@]}" "${size[@]}" "$@" ;;
  deployed-0.5|deployed-1.0)       # the diffusion lifter with another share of each batch on the deployed K=1 path
    splits randomized_train randomized_val
    $BIN/train --train_views $DATA/randomized_train.npz --val_views $DATA/randomized_val.npz \
      --out_dir runs/deployed${job#deployed-}_diffusion --steps 5000 --deployed_fraction ${job#deployed-} "${DENOISER[@]}" "$@" ;;
  mlp-*)                           # the single-frame control on one rig: mlp-studio, mlp-robot, mlp-randomized
    rig=${job#mlp-}; splits ${rig}_train ${rig}_val
    $BIN/train --train_views $DATA/${rig}_train.npz --val_views $DATA/${rig}_val.npz --out_dir runs/${rig}_mlp "${MLP[@]}" "$@" ;;
  *) echo "unknown job $job" >&2; exit 2 ;;
esac
