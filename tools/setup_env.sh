#!/usr/bin/env bash
# Create (or update) the project's virtual environment at .venv/ from nothing.
#
# CPU machines: torch CPU wheel, mmcv 2.1.0 built from source with its compiled ops
# (about 17 minutes on 2 cores the first time; pip caches the built wheel afterwards).
# GPU machines: install your CUDA torch first and set MMDET_BALANCED_TORCH=skip, then use
# OpenMMLab's prebuilt mmcv wheels (see README, "GPU install").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
STAMP=.venv/.mmdet_balanced_setup_done

if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt tools/setup_env.sh ]; then
  exit 0  # already set up and nothing changed since
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip "setuptools<70" wheel

if [ "${MMDET_BALANCED_TORCH:-cpu}" != skip ]; then
  .venv/bin/python -c "import torch" 2>/dev/null || $PIP install -q "torch==2.13.0" \
    || $PIP install -q torch --index-url https://download.pytorch.org/whl/cpu
fi
# numpy 1.x and OpenCV 4.x: the versions MMCV 2.1 / MMDetection 3.3 were released against.
# setuptools<70 again: torch pulls a newer one, and mmcv's setup.py needs pkg_resources.
$PIP install -q "numpy<2" scipy "cvxopt>=1.3" clarabel threadpoolctl matplotlib pycocotools \
  "opencv-python<4.11" "opencv-python-headless<4.11" "mmengine==0.10.7" "setuptools<70"

if ! .venv/bin/python -c "import mmcv.ops" 2>/dev/null; then
  echo "[setup] installing mmcv==2.1.0 with compiled ops (first time: ~17 min on 2 cores)" >&2
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install --no-build-isolation "mmcv==2.1.0"
fi
$PIP install -q "mmdet==3.3.0" pytest hypothesis osqp quadprog
$PIP install -q --no-build-isolation --no-deps -e .
touch "$STAMP"
echo "[setup] .venv ready" >&2
