# Shared by the device scripts (device_sweep.sh, device_coexec.sh, new_pair.sh); sourced,
# not run. The sourcing script sets R (its output folder) and DEADLINE (epoch seconds), and
# STEPS for `want`; RUN_LOG (default $R/run.log) takes the commands' output.

log() { echo "[$(date +%T)] $*" | tee -a "$R/progress.log"; }
want() { [[ " $STEPS " == *" $1 "* ]]; }
run() {  # run CAP_S cmd...: stop at DEADLINE or after CAP_S seconds, whichever is first
  local cap=$1; shift
  local left=$(( DEADLINE - $(date +%s) )); [ "$cap" -lt "$left" ] && left=$cap
  [ "$left" -gt 10 ] || { log "skipped (deadline): ${*:0:160}"; return; }
  timeout "$left" "$@" >> "${RUN_LOG:-$R/run.log}" 2>&1; log "done ($?): ${*:0:160}"
}
suites() { for s in "$@"; do printf -- "--suite %s " "$s"; done; }  # --suite options
bench_suites() {  # bench_suites CAP_S OUT "OPTIONS" SUITE...: `coexec bench OPTIONS` of each
  # suite into OUT/<suite>, CAP_S seconds for all of them (and DEADLINE, as run does)
  local cap=$1 out=$2 opts=$3 t0; t0=$(date +%s); shift 3
  for s in "$@"; do
    run $(( cap - ($(date +%s) - t0) )) python3 -m latpred coexec bench $opts --suite "$s" --out "$out/$s"
  done
}
# the development suites the sweeps cover by default
DEV_LIN="mnist_mlp bert_base gpt2_small gpt2_small_decode resnet50_fc mobilenetv2_fc vgg16_fc"
DEV_CONV="resnet50 mobilenetv2 vgg16"
# the development suites the benches time (BENCHMARKS.md section 5; bench_table.py ALL)
DEV_BENCH="gpt2_small_decode vgg16_fc resnet50_fc mobilenetv2_fc bert_base resnet50 mobilenetv2 vgg16"
# `coexec bench` options of every bench in BENCHMARKS.md section 5 (CPU threads THREADS,
# LOCAL_SIZES work-group sizes, SHORTLIST plans measured next to the plan), then
# COMPARE="NAME=DIR ..." (other models directories planned and timed in the same rounds)
# and BENCH_ARGS (more options, e.g. --as-trained)
bench_opts() {
  local cmp=""; for c in ${COMPARE:-}; do cmp="$cmp --compare $c"; done
  echo "--steps 8 --threads ${THREADS:-4,8,12,15,16} --top-k 2" \
       "--max-local-sizes ${LOCAL_SIZES:-2} --quick --confirm-seconds 2" \
       "--shortlist ${SHORTLIST:-6} --no-progress$cmp ${BENCH_ARGS:-}"
}
