#!/usr/bin/env bash
# The paper's comparison at demo scale, in one command:
#   bash tools/paper_experiment.sh [RUNS=5] [MODEL=yolov3_mobilenetv2|faster-rcnn_r18_fpn] [WORK_DIR]
# generates the synthetic fetal dataset (if missing), trains RUNS seeded runs of MODEL with
# uniform sampling, the paper's oversampling (cerebellum x2, heart x5) and balanced sampling
# (alpha = 0.5/N, lambda = 500), tests each run, then compares the three series (mean / std /
# best, KS tests against uniform) as Markdown plus an ECDF figure. Interrupted series resume.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
MODEL=${2:-yolov3_mobilenetv2}
WORK_DIR=${3:-work_dirs/paper_experiment_${MODEL}}
bash tools/setup_env.sh
PY=.venv/bin/python
[ -f data/fetal_demo/train.json ] || $PY tools/make_demo_data.py --out-dir data/fetal_demo
start=$(date +%s)
for method in uniform oversampling balanced; do
  $PY tools/train_repeats.py "configs/fetal_demo/${MODEL}_fetal-demo_${method}.py" \
    --runs "$RUNS" --work-dir "$WORK_DIR/$method"
done
$PY tools/compare_runs.py --group "uniform=$WORK_DIR/uniform" \
  --group "oversampling=$WORK_DIR/oversampling" --group "balanced=$WORK_DIR/balanced" \
  --baseline uniform --format markdown --out "$WORK_DIR/comparison.md" \
  --plot "$WORK_DIR/comparison_ecdf.png"
echo "[paper_experiment] $((3 * RUNS)) runs in $(( $(date +%s) - start )) s; table: $WORK_DIR/comparison.md"
