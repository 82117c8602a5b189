#!/usr/bin/env bash
# The co-execution benchmark run on the NVIDIA H100 host (see BENCHMARKS.md section 5):
# CPU sweeps with a live GPU context -> predictors (trained there: a pickle is loaded by the
# code that wrote it) -> sync overhead -> coexec bench with confirmed finalists.
# Usage there: source .dev/gpu-env.sh; MODELS=models_h100 RUNS=/tmp/runs bash scripts/device_coexec.sh
# (.whl/, the packages the host lacks: `python scripts/device_wheels.py` here, once; .dev/gpu-env.sh:
# ../shared/device/README.md.) Before the call, here: `bash scripts/device_tree.sh lean` (the
# committed bench records stay behind; the working tree must travel under 64 MiB), after it `full`.
# SKIP_SWEEP=1 trains the CPU predictor on the committed datasets/h100/*_cpu_live instead.
# SKIP_TRAIN=1 uses the predictors already in $MODELS. REUSE_GRID=1 starts each suite's oracle
# grid from its committed grid: datasets/h100/coexec/<suite>/grid, else the first
# datasets/h100/coexec/**/<suite>/grid (only new configurations are measured; plans and
# confirmations always are). SUITES picks suites ("" none); SHORTLIST
# (default 6) is the planner's shortlist measured next to the plan (T_tuned). BUDGET_MS: the
# tuning's latency penalty (ms per 1,000 rows, default 0: accuracy only). EXCLUDE="vgg16 bert_base"
# trains the predictors without those networks' layer shapes (networks never seen).
# REFIT_OVERHEADS=1 refits the GPU-only overheads per memory mode, with their activation-size
# curves, and the CPU-only factors per thread count, on the committed confirmation rounds of
# every other suite than the ones benched and HOLD_OUT, and the split plans' factors per
# memory mode on those suites' grids (coexec calibrate --what overheads; BENCHMARKS.md
# section 5, sessions 10-12) and benches with them (into $MODELS.overheads).
# COMPARE="NAME=DIR ..." also plans every layer with each DIR, timed in the same rounds
# (coexec bench --compare); BENCH_ARGS: more `coexec bench` options (scripts/lib.sh holds
# the benches' options). PARAMS_FROM=DIR trains each predictor with the parameters of
# DIR's (DIR/<target>.pkl or the native export DIR/<target>/; no tuning), e.g.
# datasets/h100/models/v3all, whose small boosters plan a network within 100 ms on 2 cores
# where the accuracy-only tuning's do not (BENCHMARKS.md section 5, session 11). The tuning
# (neither PARAMS_FROM nor SKIP_TRAIN) imports optuna: bring its wheels and their needs;
# the bench, the sweeps and PARAMS_FROM training do not need them.
set -u
R=${RUNS:-/tmp/runs}; M=${MODELS:-models_h100}; GPU=${GPU:-nvidia}
DEADLINE=${DEADLINE:-$(( $(date +%s) + 86400 ))}
mkdir -p "$R" "$M"
. "$(dirname "$0")/lib.sh"
LIN=$(suites $DEV_LIN); CONV=$(suites $DEV_CONV)
CPU_LIN=datasets/h100/linear_cpu_live; CPU_CONV=datasets/h100/conv_cpu_live
BENCHED=${SUITES-gpt2_small_decode vgg16_fc resnet50_fc mobilenetv2_fc resnet50 mobilenetv2}
# 1. numpy/BLAS threads 1..16 in a process holding a live GPU context (co-execution conditions)
if [ -z "${SKIP_SWEEP:-}" ]; then
  C="--backend cpu --device $GPU --gpu-context --threads 1-16 --pocl-threads none --max-seconds 0.05 --repeats 5:30 --no-progress"
  run 86400 python3 -m latpred profile --op linear $C $LIN --samples 300 --passes forward --out "$R/linear_cpu_live"
  run 86400 python3 -m latpred profile --op conv2d $C $CONV --samples 60 --out "$R/conv_cpu_live"
  CPU_LIN=$R/linear_cpu_live; CPU_CONV=$R/conv_cpu_live
fi
# 2. predictors (optuna time-boxed)
X=""; for s in ${EXCLUDE:-}; do X="$X --exclude-suite $s"; done
tune() {  # tune TARGET TIMEOUT_S: optuna, or the parameters of $PARAMS_FROM's TARGET
  if [ -z "${PARAMS_FROM:-}" ]; then
    echo "--model xgboost --n-trials 8 --timeout $2 --booster-budget-ms ${BUDGET_MS:-0}"
  elif [ -d "$PARAMS_FROM/$1" ]; then echo "--params-from $PARAMS_FROM/$1"
  else echo "--params-from $PARAMS_FROM/$1.pkl"; fi
}
[ -n "${SKIP_TRAIN:-}" ] || run 86400 python3 -m latpred train --data datasets/h100/linear --data datasets/h100/conv --target gpu_total_us $X $(tune gpu_total_us 70) --n-jobs 16 --out "$M/gpu_total_us.pkl"
[ -n "${SKIP_TRAIN:-}" ] || run 86400 python3 -m latpred train --data "$CPU_LIN" --data "$CPU_CONV" --target cpu_us $X $(tune cpu_us 30) --n-jobs 16 --out "$M/cpu_us.pkl"
# 3. sync overhead per memory mode
[ -s "$M/sync.json" ] || run 86400 python3 -m latpred coexec sync --device "$GPU" --threads 15 --models "$M"
# 3b. optional: the GPU-only overheads refitted on other suites' confirmation rounds
BM=$M
if [ -n "${REFIT_OVERHEADS:-}" ]; then
  BM=$M.overheads; XS=""
  for s in $BENCHED ${EXCLUDE:-} ${HOLD_OUT:-}; do XS="$XS --exclude-suite $s"; done
  [ -d "$BM" ] || run 86400 python3 -m latpred coexec calibrate --models "$M" --grid datasets/h100/coexec --what overheads $XS --out "$BM"
fi
# 4. the bench, batch 1, every layer of each suite (resumable)
B="--models $BM --device $GPU $(THREADS=4,8,12,15,16 LOCAL_SIZES=2 bench_opts)"
for s in $BENCHED; do
  if [ -n "${REUSE_GRID:-}" ] && [ ! -d "$R/bench/$s/grid" ]; then
    g=datasets/h100/coexec/$s/grid
    [ -d "$g" ] || g=$(find datasets/h100/coexec -type d -path "*/$s/grid" | sort | head -1)
    [ -n "$g" ] && mkdir -p "$R/bench/$s" && cp -r "$g" "$R/bench/$s/"
  fi
  run 86400 python3 -m latpred coexec bench $B --suite $s --out "$R/bench/$s"
done
log "all done"
