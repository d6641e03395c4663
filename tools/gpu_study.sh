#!/usr/bin/env bash
# The facemask study at full scale on one GPU machine (prepared for the project's H200 box:
# 16 cores, Python 3.12, torch 2.11 + CUDA 13, torchvision 0.26, nvcc, no package registry).
#
#   bash tools/gpu_study.sh [--wheels DIR] [--jobs K] [--tiny]
#
# 1. Installs what the machine lacks from DIR (default shared/wheels/: pure-Python wheels of
#    mmengine, mmdet, pycocotools, terminaltables, ... and the mmcv 2.1.0 source tarball, all
#    downloaded here with `pip download` and carried with the working tree, < 64 MiB), building
#    mmcv's CUDA ops there (MMCV_WITH_OPS=1 FORCE_CUDA=1, 16 jobs); skipped when `import
#    mmcv.ops` already works.
# 2. Runs tools/paper_experiment.sh on facemask at 416 px, 12 epochs, the paper's run counts
#    (uniform 30, oversampling 12, balanced 11, recommended 11), K runs at once on GPU 0.
# --tiny: 2 runs per method, 1 epoch at 128 px, on the CPU if there is no GPU: the end-to-end
#    check of this script where no GPU is lent.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=shared/wheels JOBS=8 TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) WHEELS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --tiny) TINY=1; shift ;;
    *) echo "gpu_study.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
if ! $PY -c "import mmcv.ops, mmdet" 2>/dev/null; then
  [ -d "$WHEELS" ] || { echo "gpu_study.sh: no $WHEELS and mmcv/mmdet are not installed" >&2; exit 2; }
  $PY -m pip install --no-index --find-links "$WHEELS" mmengine==0.10.7 mmdet==3.3.0 \
    pycocotools scipy threadpoolctl --no-deps 2>&1 | tail -2
  MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS=16 $PY -m pip install --no-index --no-build-isolation \
    --find-links "$WHEELS" "mmcv==2.1.0" 2>&1 | tail -2
  $PY -m pip install --no-deps --no-build-isolation -e . 2>&1 | tail -1
fi
GPU_OPTS=()
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" && GPU_OPTS=(--gpus 0)
if [ "$TINY" = 1 ]; then
  RUNS="uniform=2 oversampling=2 balanced=2 recommended=2"
  OPTS=("train_dataloader.dataset.pipeline.2.scale=(128,128)"
        "val_dataloader.dataset.pipeline.1.scale=(128,128)"
        "test_dataloader.dataset.pipeline.1.scale=(128,128)"
        "train_cfg.max_epochs=1" "train_cfg.val_interval=1"
        "train_dataloader.dataset.indices=64" "test_dataloader.dataset.indices=32")
  DIR=work_dirs/gpu_study_tiny JOBS=2
else
  RUNS="uniform=30 oversampling=12 balanced=11 recommended=11"
  OPTS=("train_dataloader.dataset.pipeline.2.scale=(416,416)"
        "val_dataloader.dataset.pipeline.1.scale=(416,416)"
        "test_dataloader.dataset.pipeline.1.scale=(416,416)"
        "train_dataloader.num_workers=2")
  DIR=work_dirs/gpu_study_416px
fi
PYTHON=$PY bash tools/paper_experiment.sh --dataset facemask --runs "$RUNS" --jobs "$JOBS" \
  "${GPU_OPTS[@]}" --work-dir "$DIR" -- "${OPTS[@]}"
