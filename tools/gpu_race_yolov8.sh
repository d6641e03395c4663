#!/usr/bin/env bash
# The YOLOv8 race on one GPU machine, in one bounded command: YOLOv8n (from its yaml, no
# download) with Ultralytics' own recipe on facemask at 416 px; arms default, cls_pw
# (Ultralytics' class-weighted loss), recommended and maxmin (BalancedDetectionTrainer); runs
# in rounds until the budget (python -m mmdet_balanced.study.yolo_race; see its docstring).
#
# Here, once (needs the package registry and ../shared/data/facemask):
#   bash tools/gpu_race_yolov8.sh --prepare
#     wheels the GPU image lacks (ultralytics, ultralytics-thop; pure Python) into .whl/ and
#     facemask into .data/facemask/ (19 MB), both listed in .git/info/exclude.
# On the device machine (device tool `run`, carry [".whl", ".data"], timeout_s 590):
#   bash tools/gpu_race_yolov8.sh --out "$OUT" [--runs 8] [--epochs 30] [--jobs 4] [--budget-min 7]
#     installs the wheels into /tmp/site, converts facemask to the YOLO layout, races, and
#     leaves $OUT/yolo_race.tar.gz (runs' test_metrics.json and logs, arms.json, verdict) and
#     $OUT/verdict.md. Unpack into results/race_facemask_yolov8n_416px/.
# --tiny: 1 epoch at 64 px, 2 runs per arm, on the CPU: this script's end-to-end check here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="" RUNS=8 EPOCHS=30 JOBS=4 BUDGET=7 IMGSZ=416 DEVICE=0 CACHE=(--cache ram) TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare)
      grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
      grep -qx "/.data/" .git/info/exclude 2>/dev/null || echo "/.data/" >> .git/info/exclude
      python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux2014_x86_64 -d .whl \
        ultralytics==8.4.190 ultralytics-thop==2.2.3
      mkdir -p .data && rm -rf .data/facemask && cp -r ../shared/data/facemask .data/facemask
      du -sh .whl .data
      exit 0 ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --budget-min) BUDGET=$2; shift 2 ;;
    --tiny) TINY=1; shift ;;
    *) echo "gpu_race_yolov8.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
[ -n "$OUT_DIR" ] || { echo "gpu_race_yolov8.sh: give --out DIR (or --prepare)" >&2; exit 2; }
[ -d .data/facemask ] || { echo "gpu_race_yolov8.sh: no .data/facemask: run --prepare here" >&2; exit 2; }
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
export YOLO_OFFLINE=1 YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-/tmp/yolo_config} PYTHONUNBUFFERED=1
if ! $PY -c "import ultralytics" 2>/dev/null; then
  [ -d .whl ] || { echo "gpu_race_yolov8.sh: ultralytics missing and no .whl/" >&2; exit 2; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ "$TINY" = 1 ]; then
  RUNS=2 EPOCHS=1 JOBS=1 IMGSZ=64 DEVICE=cpu CACHE=() BUDGET=60
fi
WORK=/tmp/yolo_race_work DATA=/tmp/yolo_race_data
[ "$TINY" = 1 ] && WORK=/tmp/yolo_race_tiny
[ -f "$DATA/data.yaml" ] || $PY -c "from mmdet_balanced.study.demo_data import coco_to_yolo; \
print(coco_to_yolo('.data/facemask', '$DATA'))"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
status=0
$PY -m mmdet_balanced.study.yolo_race --data "$DATA/data.yaml" \
  --arms default,cls_pw,recommended,maxmin --runs "$RUNS" --epochs "$EPOCHS" --imgsz "$IMGSZ" \
  --batch 22 --device "$DEVICE" --jobs "$JOBS" "${CACHE[@]}" --budget-min "$BUDGET" \
  --work-dir "$WORK" 2>&1 | tee "$WORK.log" || status=$?
mkdir -p "$OUT_DIR"
cp "$WORK.log" "$WORK/race_output.log"
(cd "$WORK" && find . \( -name test_metrics.json -o -name race.log -o -name 'arms.json' \
  -o -name 'verdict*' -o -name race_output.log \) -print0 | tar --null -czf "$OUT_DIR/yolo_race.tar.gz" -T -)
[ -f "$WORK/verdict.md" ] && cp "$WORK/verdict.md" "$OUT_DIR/"
ls -la "$OUT_DIR"
exit $status
