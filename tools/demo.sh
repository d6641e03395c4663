#!/usr/bin/env bash
# The main job on the bundled default, as a short guided run (about 2 minutes after set-up on
# 2 CPU cores):
#   [1/5] set-up      .venv/ (tools/setup_env.sh; the first time ~12 min, MMCV is compiled)
#   [2/5] data        the synthetic fetal-ultrasound-like dataset (paper's Table-1 classes)
#   [3/5] sampler     what balanced sampling does to it, before training: tools/analyze_sampling.py
#                     writes class_draws.png (Figure-2 style) and summary.csv to WORK/analysis/
#   [4/5] training    YOLOv3 MobileNetV2 (half width) with BalancedQPSampler, recommended setting
#   [5/5] result      expected draws per class uniform -> balanced, the AP reached per class,
#                     where the figure, log and per-image sampling.json are, what to do next
# Settings for a quick check (the tests use them): DEMO_EPOCHS (4), DEMO_DATA (data/fetal_demo),
# DEMO_WORK_DIR (work_dirs/demo), DEMO_NUM_TRAIN (200), DEMO_IMAGE_SIZE (128); extra arguments
# go to tools/train.py (e.g. --cfg-options ...).
# Same figures on any x86-64 machine: one thread, and the AVX2 kernels of ATen, oneDNN and MKL
# (a machine with AVX-512 otherwise runs other kernels, whose rounding changes the training:
# measured here, head AP@0.2 0.49 at 2 threads, 0.64 at 1 thread, 0.86 pinned). DEMO_PINNED=0
# keeps the machine's own threads and kernels.
if [ "${DEMO_PINNED:-1}" = 1 ]; then
  export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 \
         MKL_CBWR=AVX2
fi
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${DEMO_EPOCHS:-4}
DATA=${DEMO_DATA:-data/fetal_demo}
WORK=${DEMO_WORK_DIR:-work_dirs/demo}
CONFIG=configs/fetal_demo/yolov3_mobilenetv2_fetal-demo_recommended.py
start=$(date +%s)
stage_start=$start
stage() {
  local now; now=$(date +%s)
  [ -n "${STAGE:-}" ] && echo "      done in $((now - stage_start)) s"
  stage_start=$now STAGE=$1
  echo "[$1/5] $2"
}
stage 1 "set-up: .venv/ (tools/setup_env.sh)"
bash tools/setup_env.sh
PY=.venv/bin/python
stage 2 "data: synthetic fetal dataset in $DATA/"
if [ ! -f "$DATA/train.json" ]; then
  $PY tools/make_demo_data.py --out-dir "$DATA" --num-train "${DEMO_NUM_TRAIN:-200}" \
    --image-size "${DEMO_IMAGE_SIZE:-128}" | sed 's/^/      /'
else
  echo "      $DATA/train.json exists, kept"
fi
DATA_OPTIONS=("train_dataloader.dataset.data_root=$DATA/" "val_dataloader.dataset.data_root=$DATA/"
              "test_dataloader.dataset.data_root=$DATA/")
stage 3 "sampler: uniform vs balanced vs the other samplers -> $WORK/analysis/"
mkdir -p "$WORK/analysis"
$PY tools/analyze_sampling.py "$CONFIG" --out-dir "$WORK/analysis" --sim-epochs 50 \
  --cfg-options "${DATA_OPTIONS[@]}" > "$WORK/analysis/analysis.log" 2>&1 \
  || { cat "$WORK/analysis/analysis.log"; exit 1; }
sed -n '/^Expected draws per epoch containing each class/,/^$/p' \
  "$WORK/analysis/analysis.log" | sed 's/^/      /'
stage 4 "training: YOLOv3 MobileNetV2, BalancedQPSampler (lam_scale=0.404, systematic), $EPOCHS epochs"
$PY tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options "${DATA_OPTIONS[@]}" \
  "train_cfg.max_epochs=$EPOCHS" "train_cfg.val_interval=$EPOCHS" \
  "default_hooks.checkpoint.interval=$EPOCHS" "randomness.seed=0" "$@" > "$WORK/train.out" 2>&1 \
  || { tail -40 "$WORK/train.out"; exit 1; }
{ grep -E "Epoch\(train\)" "$WORK/train.out" || true; } | awk -F'Epoch' '{print $2}' \
  | awk '{split($2, a, "]"); k = a[1]; if (!(k in last)) keys[++n] = k; last[k] = $0}
         END {for (i = 1; i <= n; i++) print last[keys[i]]}' | cut -c1-90 | sed 's/^/      Epoch/'
stage 5 "result"
$PY tools/demo_summary.py "$WORK" --epochs "$EPOCHS"
echo "[demo] total $(( $(date +%s) - start )) s"
