"""Which plans did session 32's fades move? Every network suite planned with BEFORE's
models and the GPU-only overhead curves held flat beyond their last knot (the planner
before session 32), and with AFTER's models and the curves faded (``SyncModel.
curve_fade_doublings``); prints the layers whose plan differs. Options: the H100 benches'
(``--steps 8 --threads 4,8,12,15,16 --max-local-sizes 2``).

    git show 9a0ae3f:datasets/h100/models/v3gpurel/gpu_total_us/predictor.json > p.json
    cp -r datasets/h100/models/v3gpurel before && mv p.json before/gpu_total_us/predictor.json
    python scripts/fade_diff.py --before before --after datasets/h100/models/v3gpurel
"""

from __future__ import annotations

import argparse
import warnings

from latpred.datasets.suites import list_suites, suite_layers
from latpred.features.geometry import clear_caches
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions

#: suites that are no network (profiling probes)
PROBES = ("linear_large",)


def plans(models: str, fade: float | None, opts: PlannerOptions
          ) -> dict[tuple[str, str], str]:
    """(suite, layer) -> the chosen plan's description, curves faded over ``fade`` doublings
    (None: the SyncModel's default)."""
    clear_caches()
    preds, gpu, cpu, sync = load_models(models)
    if fade is not None:
        sync.curve_fade_doublings = fade
    planner = Planner(preds, gpu, cpu, sync, opts)
    return {(s, ch.name): ch.shortlist[0][0].describe()
            for s in list_suites() if s not in PROBES
            for ch in planner.plan_layers(suite_layers(s))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # exports saved with other library versions
    opts = PlannerOptions(steps=8, cpu_threads=(4, 8, 12, 15, 16), max_local_sizes=2)
    before = plans(args.before, float("inf"), opts)
    after = plans(args.after, None, opts)
    moved = [k for k in before if before[k] != after[k]]
    print(f"{len(moved)} of {len(before)} layers planned differently")
    for suite, layer in moved:
        print(f"{suite} {layer}\n  before: {before[suite, layer]}\n  after:  {after[suite, layer]}")


if __name__ == "__main__":
    main()
