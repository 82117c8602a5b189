#!/usr/bin/env bash
# The co-execution benchmark run on the NVIDIA H100 host (see BENCHMARKS.md):
# CPU sweep -> CPU predictor (trained there, 16 cores) -> sync overhead -> coexec bench.
# GPU predictors come trained from the committed H100 datasets (MODELS dir, see README).
# Usage there: source .dev/gpu-env.sh; MODELS=models_h100 RUNS=/tmp/runs bash scripts/device_coexec.sh
set -u
R=${RUNS:-/tmp/runs}; M=${MODELS:-models_h100}; GPU=${GPU:-nvidia}
DEADLINE=${DEADLINE:-$(( $(date +%s) + 86400 ))}
mkdir -p "$R" "$M"
log() { echo "[$(date +%T)] $*" | tee -a "$R/progress.log"; }
left() { echo $(( DEADLINE - $(date +%s) - ${1:-0} )); }
run() {  # run [reserve_s] cmd...: stop at the deadline minus reserve
  local reserve=$1; shift
  [ "$(left "$reserve")" -gt 10 ] || { log "skipped (deadline): $*"; return; }
  timeout "$(left "$reserve")" "$@" >> "$R/run.log" 2>&1; log "done ($?): ${*:0:160}"
}
H="--max-seconds 0.1 --repeats 3:20"
CPU_T=${CPU_T:-1,2,4,6,8,12,15,16}
LIN="--suite mnist_mlp --suite bert_base --suite gpt2_small_decode --suite resnet50_fc --suite mobilenetv2_fc --suite vgg16_fc"
CONV="--suite resnet50 --suite mobilenetv2 --suite vgg16"
# 1. CPU (numpy/BLAS) sweeps: suites + the first random shapes of the GPU sweep's seed
run 450 python3 -m latpred profile --op linear --backend cpu --threads "$CPU_T" --pocl-threads none $LIN --samples 120 --passes forward $H --no-progress --out "$R/linear"
run 370 python3 -m latpred profile --op conv2d --backend cpu --threads "$CPU_T" --pocl-threads none $CONV --samples 120 $H --no-progress --out "$R/conv"
# 2. predictors, trained here with the code that will load them (optuna time-boxed)
run 240 python3 -m latpred train --data datasets/h100/linear --data datasets/h100/conv --target gpu_total_us --model xgboost --n-trials 4 --timeout 60 --out "$M/gpu_total_us.pkl"
run 195 python3 -m latpred train --data "$R/linear" --data "$R/conv" --data datasets/h100/linear --target cpu_us --model xgboost --n-trials 4 --timeout 25 --out "$M/cpu_us.pkl"
# 3. sync overhead per memory mode
run 175 python3 -m latpred coexec sync --device "$GPU" --threads 15 --models "$M"
# 4. the bench: batch-1 linear layers, then conv layers (each resumable)
B="--models $M --device $GPU --steps 8 --threads 4,8,15 --top-k 2 --max-local-sizes 2 --quick --no-progress"
for s in gpt2_small_decode vgg16_fc resnet50_fc mobilenetv2_fc; do
  run 110 python3 -m latpred coexec bench $B --suite $s --out "$R/bench/$s"
done
run 50 python3 -m latpred coexec bench $B --suite resnet50 --limit-layers ${CONV_LAYERS:-8} --out "$R/bench/resnet50"
run 5 python3 -m latpred coexec bench $B --suite mobilenetv2 --limit-layers ${CONV_LAYERS:-8} --out "$R/bench/mobilenetv2"
log "all done"
