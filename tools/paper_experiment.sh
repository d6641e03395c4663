#!/usr/bin/env bash
# The paper's comparison (Olivier & Raynaud, Tables 2-3) in one command:
#
#   bash tools/paper_experiment.sh [RUNS] [options] [-- CFG_OPTIONS...]
#     RUNS                 runs per method (default 5), or per method with --runs
#     --dataset NAME       fetal_demo (default; generated if missing) or facemask (real photos,
#                          ../shared/data/facemask/ unless the config's data_root is overridden)
#     --model NAME         yolov3_mobilenetv2 (default) or faster-rcnn_r18_fpn
#     --methods "A B ..."  configs/<dataset>/<model>_<dataset>_<method>.py to run; default:
#                          uniform oversampling balanced recommended (+ maxmin on fetal_demo)
#     --runs "A=N B=M"     runs per method, e.g. the paper's "uniform=30 oversampling=12 balanced=11"
#     --jobs K             runs trained at once (threads divided between them)
#     --gpus IDS           one GPU per job, round robin (e.g. 0 or 0,1)
#     --work-dir DIR       default work_dirs/paper_experiment/<dataset>_<model>
#     -- CFG_OPTIONS       passed to every run (e.g. a smaller image scale or fewer epochs)
#
# Each method's runs go to DIR/<method>/run_XX (seed XX); finished runs are skipped and broken
# ones resume, so an interrupted study continues where it stopped. Methods are trained in
# rounds (the first runs of every method, then the rest), so a study stopped early still has
# every method. Ends with DIR/comparison.{md,csv} and DIR/comparison_ecdf.png (KS, Mann-Whitney,
# bootstrap CI, Holm-adjusted p, against uniform).
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET=fetal_demo MODEL=yolov3_mobilenetv2 METHODS="" RUNS_SPEC="" DEFAULT_RUNS=5 JOBS=1
GPUS="" WORK_DIR="" CFG_OPTIONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) DATASET=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --methods) METHODS=$2; shift 2 ;;
    --runs) RUNS_SPEC=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --gpus) GPUS=$2; shift 2 ;;
    --work-dir) WORK_DIR=$2; shift 2 ;;
    --) shift; CFG_OPTIONS=("$@"); break ;;
    [0-9]*) DEFAULT_RUNS=$1; shift ;;
    *) echo "paper_experiment.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
case "$DATASET" in
  fetal_demo) CONFIG_DIR=configs/fetal_demo SUFFIX=fetal-demo
              METHODS=${METHODS:-"uniform oversampling balanced recommended maxmin"} ;;
  facemask) CONFIG_DIR=configs/facemask SUFFIX=facemask
            METHODS=${METHODS:-"uniform oversampling balanced recommended"} ;;
  *) echo "paper_experiment.sh: --dataset must be fetal_demo or facemask; got $DATASET" >&2
     exit 2 ;;
esac
WORK_DIR=${WORK_DIR:-work_dirs/paper_experiment/${DATASET}_${MODEL}}
runs_for() {  # runs of method $1: from --runs, else RUNS
  local item
  for item in $RUNS_SPEC; do [ "${item%%=*}" = "$1" ] && { echo "${item#*=}"; return; }; done
  echo "$DEFAULT_RUNS"
}
for method in $METHODS; do
  [ -f "$CONFIG_DIR/${MODEL}_${SUFFIX}_${method}.py" ] || {
    echo "paper_experiment.sh: no config $CONFIG_DIR/${MODEL}_${SUFFIX}_${method}.py" >&2; exit 2; }
done
[ -n "${PYTHON:-}" ] || bash tools/setup_env.sh
PY=${PYTHON:-.venv/bin/python}
if [ "$DATASET" = fetal_demo ] && [ ! -f data/fetal_demo/train.json ]; then
  $PY tools/make_demo_data.py --out-dir data/fetal_demo
fi
if [ "$DATASET" = facemask ] && [ ! -f ../shared/data/facemask/train.json ]; then
  echo "paper_experiment.sh: ../shared/data/facemask/ is missing; pass its location with" \
       "-- train_dataloader.dataset.data_root=DIR/ val_dataloader.dataset.data_root=DIR/" \
       "test_dataloader.dataset.data_root=DIR/" >&2
fi
EXTRA=(--jobs "$JOBS")
[ -n "$GPUS" ] && EXTRA+=(--gpus "$GPUS")
[ ${#CFG_OPTIONS[@]} -gt 0 ] && EXTRA+=(--cfg-options "${CFG_OPTIONS[@]}")
start=$(date +%s)
counts=$(for method in $METHODS; do runs_for "$method"; done | sort -n)
total=$(( $(echo "$counts" | paste -sd+) ))
# round 1: every method up to the smallest count; round 2: the rest
for target in $(echo "$counts" | head -1) $(echo "$counts" | tail -1); do
  for method in $METHODS; do
    n=$(runs_for "$method"); [ "$n" -lt "$target" ] && upto=$n || upto=$target
    echo "[paper_experiment] $DATASET/$MODEL $method: runs 1-$upto of $n" \
         "(elapsed $(( $(date +%s) - start )) s, $total runs in the study)"
    $PY tools/train_repeats.py "$CONFIG_DIR/${MODEL}_${SUFFIX}_${method}.py" --runs "$upto" \
      --work-dir "$WORK_DIR/$method" "${EXTRA[@]}"
  done
done
GROUP_ARGS=()
for method in $METHODS; do GROUP_ARGS+=(--group "$method=$WORK_DIR/$method"); done
$PY tools/compare_runs.py "${GROUP_ARGS[@]}" --baseline uniform --format markdown \
  --out "$WORK_DIR/comparison.md" --plot "$WORK_DIR/comparison_ecdf.png" > /dev/null
$PY tools/compare_runs.py "${GROUP_ARGS[@]}" --baseline uniform --format csv \
  --out "$WORK_DIR/comparison.csv" > /dev/null
echo "[paper_experiment] $total runs, $(( $(date +%s) - start )) s; tables: $WORK_DIR/comparison.md" \
     "$WORK_DIR/comparison.csv, figure: $WORK_DIR/comparison_ecdf.png"
