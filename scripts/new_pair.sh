#!/usr/bin/env bash
# Predictors for a CPU-GPU pair nobody has profiled, from nothing, then a bench of their plans:
#   gpu   GPU sweeps (linear forward, conv2d): random shapes first, then the development
#         suites' layers; every implementation x params, at most LOCAL_SIZES work-group sizes
#   cpu   numpy/BLAS at the THREADS counts, with a live GPU context (co-execution conditions)
#   train the GPU end-to-end and CPU predictors, with PARAMS_FROM's parameters (no tuning)
#   sync  the sync overhead per memory mode (MODELS/sync.json)
#   bench `coexec bench` on BENCH suites: predictions alone against an oracle grid measured on
#         this pair, with the benches' planner options; COMPARE="NAME=DIR ..." also plans every
#         layer with other models directories, timed in the same rounds; BENCH_ARGS: more
#         `coexec bench` options (e.g. --as-trained, for models of another GPU in COMPARE)
#   dev, calibrate (not in the default STEPS): `coexec bench` on DEV_SUITES (default: the
#         eight development suites; cap DEV_S seconds) into $RUNS/dev/, then the models
#         calibrated on those runtime rounds with v3gpurel's recipe into $MODELS.calibrated
#         (on the H200 host: 0.35-0.42 % faster plans in two paired runs; BENCHMARKS.md
#         section 5, session 30); bench it with MODELS=$MODELS.calibrated STEPS=bench
# Every step is resumable (rerun the script: stored configurations and layers are skipped),
# and stops at DEADLINE (epoch seconds) or its own cap (GPU_S, CPU_S, BENCH_S seconds).
# Usage on the machine: GPU=<device substring> RUNS=/tmp/pair bash scripts/new_pair.sh
# STEPS="gpu cpu train sync bench" (the default; add dev calibrate). LIN_SUITES /
# CONV_SUITES: the suites swept besides the random shapes ("" none). GPU_THREADS=N: the
# GPU role is a sub-device of N compute units (PoCL) in sync and bench. Output under $RUNS: linear/, conv/ (GPU),
# linear_cpu/, conv_cpu/, models/ (native exports, sync.json), pickles/, bench/<suite>/,
# devices.json, progress.log, run.log.
set -u
R=${RUNS:-/tmp/pair}; M=${MODELS:-$R/models}; GPU=${GPU:-GPU}
STEPS=${STEPS:-gpu cpu train sync bench}
THREADS=${THREADS:-4,8,12,15,16}          # CPU thread counts swept and planned
LOCAL_SIZES=${LOCAL_SIZES:-2}             # work-group sizes per implementation x params
GPU_SAMPLES=${GPU_SAMPLES:-200}; CPU_SAMPLES=${CPU_SAMPLES:-300}; SEED=${SEED:-0}
PARAMS_FROM=${PARAMS_FROM:-datasets/h100/models/v3all}
BENCH=${BENCH:-mnasnet1_0 squeezenet1_1 swin_t alexnet vit_l16}
DEADLINE=${DEADLINE:-$(( $(date +%s) + 86400 ))}
mkdir -p "$R" "$M"
. "$(dirname "$0")/lib.sh"
LIN=$(suites ${LIN_SUITES-$DEV_LIN}); CONV=$(suites ${CONV_SUITES-$DEV_CONV})
GT=""; [ -z "${GPU_THREADS:-}" ] || GT="--gpu-threads $GPU_THREADS"
[ -s "$R/devices.json" ] || python3 -m latpred devices --json > "$R/devices.json" 2>> "$R/run.log"
if want gpu; then  # conv gets two thirds of GPU_S, linear the rest
  G="--device $GPU --backend gpu --max-local-sizes $LOCAL_SIZES --max-seconds 0.1 --repeats 5:30 --seed $SEED --no-progress"
  S=${GPU_S:-86400}; t0=$(date +%s)
  run $(( S * 2 / 3 - 60 )) python3 -m latpred profile --op conv2d $G --samples "$GPU_SAMPLES" --out "$R/conv"
  [ -z "$CONV" ] || run $(( S * 2 / 3 - ($(date +%s) - t0) )) python3 -m latpred profile --op conv2d $G $CONV --out "$R/conv"
  run $(( S - 60 - ($(date +%s) - t0) )) python3 -m latpred profile --op linear $G --samples "$GPU_SAMPLES" --passes forward --out "$R/linear"
  [ -z "$LIN" ] || run $(( S - ($(date +%s) - t0) )) python3 -m latpred profile --op linear $G $LIN --passes forward --out "$R/linear"
fi
if want cpu; then  # conv gets 60 % of CPU_S
  C="--backend cpu --device $GPU --gpu-context --threads $THREADS --pocl-threads none --max-seconds 0.05 --repeats 5:30 --seed $SEED --no-progress"
  S=${CPU_S:-86400}; t0=$(date +%s)
  run $(( S * 3 / 5 )) python3 -m latpred profile --op conv2d $C $CONV --samples "$CPU_SAMPLES" --out "$R/conv_cpu"
  run $(( S - ($(date +%s) - t0) )) python3 -m latpred profile --op linear $C $LIN --samples "$CPU_SAMPLES" --passes forward --out "$R/linear_cpu"
fi
if want train; then  # native exports into $M (a models directory holds one form), pickles beside
  P() { if [ -d "$PARAMS_FROM/$1" ]; then echo "$PARAMS_FROM/$1"; else echo "$PARAMS_FROM/$1.pkl"; fi; }
  D() { for d in "$@"; do [ -d "$d" ] && printf -- "--data %s " "$d"; done; }
  mkdir -p "$R/pickles"
  run 86400 python3 -m latpred train $(D "$R/linear" "$R/conv") --target gpu_total_us \
    --params-from "$(P gpu_total_us)" --n-jobs "$(nproc)" --native "$M/gpu_total_us" --out "$R/pickles/gpu_total_us.pkl"
  run 86400 python3 -m latpred train $(D "$R/linear_cpu" "$R/conv_cpu") --target cpu_us \
    --params-from "$(P cpu_us)" --n-jobs "$(nproc)" --native "$M/cpu_us" --out "$R/pickles/cpu_us.pkl"
fi
if want sync && [ ! -s "$M/sync.json" ]; then
  # the CPU part's threads: one fewer than the most swept (a core for the GPU's host thread)
  top=$(echo "$THREADS" | tr ',' '\n' | sort -n | tail -1)
  run 86400 python3 -m latpred coexec sync --device "$GPU" --threads $(( top > 1 ? top - 1 : 1 )) $GT --models "$M"
fi
if want dev; then  # the runtime rounds a calibration fits on: the development suites benched
  bench_suites "${DEV_S:-86400}" "$R/dev" "--models $M --device $GPU $GT $(COMPARE="" BENCH_ARGS="" bench_opts)" \
    ${DEV_SUITES:-$DEV_BENCH}
fi
if want calibrate; then  # the shipped H100 models' recipe (v3gpurel) on those rounds
  G=""; for d in "$R"/dev/*/; do [ -d "$d" ] && G="$G --grid ${d%/}"; done
  [ -n "$G" ] && [ ! -e "$M.calibrated" ] && run 86400 python3 -m latpred coexec calibrate \
    --models "$M" $G --what both --relative --target gpu_total_us --native --trees 100 \
    --residual-model xgboost --no-check --out "$M.calibrated"
fi
if want bench; then
  bench_suites "${BENCH_S:-86400}" "$R/bench" "--models $M --device $GPU $GT $(bench_opts)" $BENCH
fi
log "all done"
