#!/usr/bin/env bash
# The real-device sweep we ran on the NVIDIA H100 host (see BENCHMARKS.md), in priority order.
# Every step is resumable: rerunning the script skips configurations already stored.
# Usage (on the device, after `source .dev/gpu-env.sh`): RUNS=/tmp/runs bash scripts/device_sweep.sh
# (.whl/, the packages the host lacks: `python scripts/device_wheels.py` here, once.)
# STEPS="3 4 5" runs only those steps (default: all); STEP_S caps each step's seconds.
set -u
R=${RUNS:-/tmp/runs}
GPU=${GPU:-nvidia}
SAMPLES=${SAMPLES:-300}
mkdir -p "$R"
DEADLINE=${DEADLINE:-$(( $(date +%s) + 86400 ))}   # epoch seconds; a step is cut there and resumes on the next run
STEPS=${STEPS:-1 2 3 4 5}
STEP_S=${STEP_S:-86400}
RUN_LOG=$R/sweep.log; . "$(dirname "$0")/lib.sh"
P() { run "$STEP_S" python3 -m latpred "$@" --no-progress; }
H="--max-seconds 0.25 --repeats 5:30"
LIN_SUITES=$(suites $DEV_LIN); CONV_SUITES=$(suites $DEV_CONV)
log "start"
[ -s "$R/devices.json" ] || python3 -m latpred devices --json > "$R/devices.json" 2>> "$R/sweep.log"
if want 1 && [ ! -s "$R/gemm_bench.json" ]; then
  timeout "$(( DEADLINE - $(date +%s) ))" python3 -m latpred.profiler.bench_gemm --device "$GPU" --sizes 1024 4096 --json "$R/gemm_bench.json" > "$R/gemm_bench.txt" 2>> "$R/sweep.log"
  log "gemm bench done"
fi
# 1. GPU: linear forward (suites + random), conv (suites + random)
want 1 && P profile --op linear --device "$GPU" --backend gpu $LIN_SUITES --samples "$SAMPLES" --passes forward $H --out "$R/linear"
want 1 && P profile --op conv2d --device "$GPU" --backend gpu $CONV_SUITES --samples "$SAMPLES" $H --out "$R/conv"
# 2. CPU numpy/BLAS, threads 1..16
want 2 && P profile --op linear --backend cpu --threads 1-16 --pocl-threads none $LIN_SUITES --samples "$SAMPLES" --passes forward $H --out "$R/linear"
want 2 && P profile --op conv2d --backend cpu --threads 1-16 --pocl-threads none $CONV_SUITES --samples "$SAMPLES" $H --out "$R/conv"
# 3. training passes (backward_input, backward_weight) on suites + the random shapes, every
#    work-group size, BLAS threads 1..16 (sessions 2-4 filled this in parts; see BENCHMARKS 2b)
want 3 && P profile --op linear --device "$GPU" --backend all --threads 1-16 --pocl-threads none $LIN_SUITES --samples "$SAMPLES" --passes backward_input,backward_weight --max-seconds 0.1 --repeats 5:30 --out "$R/linear"
# 4. the OpenCL CPU device (PoCL) through sub-devices, a subset of kernels and shapes
want 4 && P profile --op linear --backend cpu --threads none --pocl-threads 1,2,4,8,16 --suite mnist_mlp --suite bert_base --suite gpt2_small_decode --samples "${POCL_LIN_SAMPLES:-30}" --passes forward --impl gemm_naive --impl gemm_tiled --impl gemm_vec4 --impl gemv --max-local-sizes 2 $H --out "$R/linear"
want 4 && P profile --op conv2d --backend cpu --threads none --pocl-threads 1,2,4,8,16 --suite mobilenetv2 --samples "${POCL_CONV_SAMPLES:-20}" --impl conv_direct --impl conv_depthwise --impl conv_1x1 --max-local-sizes 2 $H --out "$R/conv"
# 5. numpy/BLAS threads 1..16 with a live GPU context (co-execution conditions), suites first
# (committed as h100/linear_cpu_live and h100/conv_cpu_live)
want 5 && P profile --op linear --backend cpu --device "$GPU" --gpu-context --threads 1-16 --pocl-threads none $LIN_SUITES --samples "$SAMPLES" --passes forward --max-seconds 0.05 --repeats 5:30 --out "$R/cpu_live_linear"
want 5 && P profile --op conv2d --backend cpu --device "$GPU" --gpu-context --threads 1-16 --pocl-threads none $CONV_SUITES --samples "$SAMPLES" --max-seconds 0.05 --repeats 5:30 --out "$R/cpu_live_conv"
log "all done"
