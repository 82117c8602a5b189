#!/usr/bin/env bash
# One predictor per training seed, each in a copy of a models directory (its other files
# kept), to see how much one training run's result owes to its seed:
#
#   OUT=/tmp/seeds SEEDS="0 1 2 3 4" bash scripts/train_seeds.sh \
#       --data datasets/h100/linear_cpu_live --data datasets/h100/conv_cpu_live
#   python scripts/choice_floor.py --target cpu --spread --models /tmp/seeds/seed{0,1,2,3,4}
#
# BASE: the models directory copied (default datasets/h100/models/v3gpurel); TARGET: the
# predictor retrained (default cpu_us); PARAMS_FROM: its parameters, no tuning (default
# BASE/TARGET's); the arguments: `latpred train`'s --data (and --exclude-suite) options.
# Writes OUT/seed<N>/ for each seed, refusing one that exists; a seed's directory appears
# only once its predictor is trained.
set -euo pipefail
BASE=${BASE:-datasets/h100/models/v3gpurel}; TARGET=${TARGET:-cpu_us}
PARAMS_FROM=${PARAMS_FROM:-$BASE/$TARGET}; SEEDS=${SEEDS:-0 1 2 3 4}
: "${OUT:?set OUT, where the models directories go}"
[ $# -gt 0 ] || { echo "train_seeds.sh: no --data given" >&2; exit 2; }
[ -d "$BASE" ] || { echo "train_seeds.sh: BASE=$BASE is not a directory" >&2; exit 2; }
for s in $SEEDS; do [ ! -e "$OUT/seed$s" ] || { echo "train_seeds.sh: $OUT/seed$s exists" >&2; exit 2; }; done
mkdir -p "$OUT"
tmp=""; trap 'rm -rf "${tmp:-/nonexistent}"' EXIT  # a seed cut short leaves nothing
for s in $SEEDS; do
  tmp="$OUT/.seed$s.tmp"; rm -rf "$tmp"; cp -r "$BASE" "$tmp"; rm -rf "${tmp:?}/$TARGET"
  python -m latpred train "$@" --target "$TARGET" --params-from "$PARAMS_FROM" --n-jobs "${N_JOBS:-2}" \
    --seed "$s" --native "$tmp/$TARGET" --out "$tmp/$TARGET.pkl" | awk 'NR == 1'
  rm -f "$tmp/$TARGET.pkl"; mv "$tmp" "$OUT/seed$s"; echo "seed $s: $OUT/seed$s"
done
