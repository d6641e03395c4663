#!/usr/bin/env bash
# Create (or update) the project's virtual environment at .venv/ from nothing: one
# environment for the three integrations (MMDetection 3.x, Detectron2, Ultralytics YOLO).
#
# torch + torchvision: PyPI's default build of torch 2.13.0 (CUDA libraries included, ~3 GB; it
# runs on CPU machines too). A `+cpu` torch cannot be used: PyPI's torchvision, which Detectron2
# and Ultralytics need, is linked against the default build and fails to import beside `+cpu`
# ("operator torchvision::nms does not exist"); `torch===2.13.0` (string equality) refuses a
# local `2.13.0+cpu` wheel. torch >= 2.14 needs C++20, which mmcv 2.1.0's build does not use.
# mmcv 2.1.0 has no wheel for this torch: it is built from source with its compiled ops
# (12-15 minutes on 2 cores), Detectron2 from its source (2-3 minutes; the vendored copy in
# ../shared/vendor/detectron2 when present, else its public repository). Both wheels are kept
# in ~/.cache/mmdet_balanced/wheels/torch-<version>/, so later set-ups take about a minute and
# never reuse a wheel built against another torch.
# Your own torch (e.g. a CUDA build matching your driver): install it first and set
# MMDET_BALANCED_TORCH=skip.
# Versions: every package is installed at the version of the tested .venv (constraints.txt, pip
# constraints); MMDET_BALANCED_UNPINNED=1 takes the latest versions the ranges allow instead.
# With MMDET_BALANCED_TORCH=skip or on aarch64, torch, torchvision, triton and the nvidia-*
# CUDA libraries are left out of the constraints (your torch stays).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
STAMP=.venv/.mmdet_balanced_setup_done

if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt tools/setup_env.sh ] \
   && [ "$STAMP" -nt constraints.txt ]; then
  exit 0  # already set up and nothing changed since
fi
say() { echo "[setup $(date +%H:%M:%S)] $*" >&2; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PY=.venv/bin/python
PIP="$PY -m pip"
$PIP install -q --upgrade pip "setuptools<70" wheel
# pip constraints: the tested versions (constraints.txt), or none with MMDET_BALANCED_UNPINNED=1
PINS=()
if [ "${MMDET_BALANCED_UNPINNED:-0}" != 1 ]; then
  PINS=(-c constraints.txt)
  if [ "${MMDET_BALANCED_TORCH:-default}" = skip ] || [ "$(uname -m)" != x86_64 ]; then
    grep -v -E '^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' constraints.txt \
      > .venv/constraints-without-torch.txt
    PINS=(-c .venv/constraints-without-torch.txt)
  fi
  say "installing the tested versions (constraints.txt; MMDET_BALANCED_UNPINNED=1 for the latest)"
fi

if [ "${MMDET_BALANCED_TORCH:-default}" != skip ]; then
  case "$(uname -m)" in
    aarch64|arm64) TORCH_SPEC=${MMDET_BALANCED_TORCH_SPEC:-"torch==2.9.1 torchvision==0.24.1"} ;;
    *) TORCH_SPEC=${MMDET_BALANCED_TORCH_SPEC:-"torch===2.13.0 torchvision==0.28.0"} ;;
  esac
  say "installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  $PIP install -q "${PINS[@]}" $TORCH_SPEC
fi
TORCH_VERSION=$($PY -c "import torch; print(torch.__version__)")
WHEELS=${MMDET_BALANCED_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmdet_balanced/wheels}/torch-$TORCH_VERSION
mkdir -p "$WHEELS"

# numpy 1.x and OpenCV 4.x: the versions MMCV 2.1 / MMDetection 3.3 were released against.
# setuptools<70: mmcv's setup.py needs pkg_resources (torch asks for >=77; harmless here).
$PIP install -q "${PINS[@]}" "numpy<2" scipy "cvxopt>=1.3" clarabel "highspy>=1.16" threadpoolctl matplotlib pycocotools \
  "opencv-python<4.11" "opencv-python-headless<4.11" "mmengine==0.10.7" "setuptools<70" \
  pytest hypothesis osqp quadprog ruff

# A compiled package is installed from the wheel built against this very torch; the marker
# file in .venv says which torch the installed copy was built against. A copy installed before
# (yours, or an older set-up's) is kept if it has no marker and its compiled module imports.
install_built() {  # name import-check build-function
  local name=$1 check=$2 build=$3 marker=.venv/.$1_built_for_torch
  if [ "$(cat "$marker" 2>/dev/null)" = "$TORCH_VERSION" ]; then return; fi
  if [ ! -f "$marker" ] && $PY -c "$check" 2>/dev/null; then
    echo "$TORCH_VERSION" > "$marker"; return
  fi
  if ! ls "$WHEELS/$name"-*.whl >/dev/null 2>&1; then
    "$build"
  fi
  $PIP install -q --no-deps --force-reinstall "$WHEELS/$name"-*.whl
  echo "$TORCH_VERSION" > "$marker"
}
build_mmcv() {
  say "building mmcv 2.1.0 with compiled ops against torch $TORCH_VERSION (~12-15 min on 2 cores)"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP wheel -q --no-cache-dir --no-build-isolation \
    --no-deps "mmcv==2.1.0" -w "$WHEELS"
}
build_detectron2() {
  local src tmp
  tmp=$(mktemp -d)
  src="$tmp/detectron2"
  if [ -d "$ROOT/../shared/vendor/detectron2" ]; then
    cp -r "$ROOT/../shared/vendor/detectron2" "$src"  # read-only in CI; the build writes
  else
    git clone -q --depth 1 https://github.com/facebookresearch/detectron2.git "$src"
  fi
  say "building detectron2 from $src against torch $TORCH_VERSION (~2-3 min on 2 cores)"
  MAX_JOBS=${MAX_JOBS:-2} $PIP wheel -q --no-build-isolation --no-deps "$src" -w "$WHEELS"
  mkdir -p "$WHEELS/detectron2-tools" && cp "$src"/tools/*.py "$WHEELS/detectron2-tools/"
  rm -rf "$tmp"
}
$PIP install -q "${PINS[@]}" addict pyyaml yapf termcolor rich  # mmcv's run-time dependencies
install_built mmcv "import mmcv.ops" build_mmcv
say "installing mmdet and Detectron2's dependencies"
$PIP install -q "${PINS[@]}" "mmdet==3.3.0"
# After the mmcv build (setuptools<70): what torch asks for (>=77) and what Detectron2 needs at
# run time (pkg_resources, gone in 81). Asked for here, so later installs do not move it.
$PIP install -q "setuptools>=77,<81"
# Detectron2's run-time dependencies (its setup.py's list, minus black); setuptools<81 for
# pkg_resources in detectron2.model_zoo.
$PIP install -q "${PINS[@]}" "fvcore>=0.1.5,<0.1.6" "iopath>=0.1.7,<0.1.10" "omegaconf>=2.1,<2.4" \
  "hydra-core>=1.1" yacs tabulate cloudpickle tqdm tensorboard termcolor packaging
install_built detectron2 "from detectron2 import _C" build_detectron2
# Detectron2's own scripts (tools/lazyconfig_train_net.py, train_net.py), which its wheel lacks:
# kept in .venv/share/detectron2/tools for the tests and for users.
D2_TOOLS=.venv/share/detectron2/tools
if [ ! -f "$D2_TOOLS/lazyconfig_train_net.py" ]; then
  mkdir -p "$D2_TOOLS"
  if [ -d "$ROOT/../shared/vendor/detectron2/tools" ]; then
    cp "$ROOT/../shared/vendor/detectron2/tools/"*.py "$D2_TOOLS/"
  elif [ -d "$WHEELS/detectron2-tools" ]; then
    cp "$WHEELS/detectron2-tools/"*.py "$D2_TOOLS/"
  fi
fi
# Ultralytics YOLO (AGPL-3.0; an optional extra of this package for users).
say "installing ultralytics"
$PIP install -q "${PINS[@]}" "ultralytics==8.4.190" "numpy<2" "opencv-python<4.11"
# Hugging Face transformers + accelerate and PyTorch Lightning (optional extras for users; the
# tests train a tiny DETR and a LightningModule with the sampler).
say "installing transformers, accelerate, lightning"
$PIP install -q "${PINS[@]}" "transformers>=4.46" "accelerate>=0.26" "lightning>=2.0" "numpy<2"
$PIP install -q --no-build-isolation --no-deps -e .
touch "$STAMP"
say ".venv ready (torch $TORCH_VERSION)"
