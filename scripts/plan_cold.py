"""First-time planning cost: each layer of a network planned once by a planner that has
only seen another network (so nothing of these layers is memoised: candidate enumeration,
kernel geometry, feature rows). ``latpred.planner.benchmark`` times re-planning instead.

    python scripts/plan_cold.py --models DIR [--warm-suite mobilenetv2] [--suite resnet50]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from latpred.datasets.suites import suite_layers
from latpred.features.geometry import clear_caches
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--suite", default="resnet50")
    ap.add_argument("--warm-suite", default="mobilenetv2")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    preds, gpu, cpu, sync = load_models(args.models)
    items = list(suite_layers(args.suite))
    warm = list(suite_layers(args.warm_suite))
    Planner(preds, gpu, cpu, sync, PlannerOptions()).plan_layers(warm)  # the process
    clear_caches()
    Planner(preds, gpu, cpu, sync, PlannerOptions()).plan_layers(warm)
    t = time.perf_counter()
    Planner(preds, gpu, cpu, sync, PlannerOptions()).plan_layers(items)
    batch_ms = (time.perf_counter() - t) * 1e3
    clear_caches()  # the kernel geometry memo is per process
    planner = Planner(preds, gpu, cpu, sync, PlannerOptions())
    planner.plan_layers(warm)
    ms = []
    for name, count, layer in items:
        t = time.perf_counter()
        planner.plan_layer(layer, name, count)
        ms.append((time.perf_counter() - t) * 1e3)
    print(f"{args.suite}, first time seen: the whole network in one batch {batch_ms:.0f} ms; "
          f"each of its {len(items)} layers by its own plan_layer call: median "
          f"{np.median(ms):.1f} ms, max {np.max(ms):.1f} ms")


if __name__ == "__main__":
    main()
