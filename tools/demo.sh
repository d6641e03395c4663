#!/usr/bin/env bash
# The main job on the bundled default: set up .venv/, generate the synthetic fetal dataset,
# and train a tiny Faster R-CNN with BalancedQPSampler for one epoch on the CPU. The log
# shows the per-class expected frequencies under uniform vs balanced sampling.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
PY=.venv/bin/python
[ -f data/fetal_demo/train.json ] || $PY tools/make_demo_data.py --out-dir data/fetal_demo
$PY tools/train.py configs/fetal_demo/faster-rcnn_r18_fpn_fetal-demo_balanced.py \
  --work-dir work_dirs/demo_balanced \
  --cfg-options train_cfg.max_epochs=1 train_cfg.val_interval=1 "$@"
