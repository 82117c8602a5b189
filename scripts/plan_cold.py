"""First-time planning cost: each layer of a network planned once by a planner that has
only seen another network (so nothing of these layers is memoised: candidate enumeration,
kernel geometry, feature rows). ``latpred.planner.benchmark`` times re-planning instead.

    python scripts/plan_cold.py --models DIR [--warm-suite mobilenetv2] [--suite resnet50]
        [--breakdown] [--steps 16] [--threads 4,8,12,15,16] [--max-local-sizes 2] [--repeat 5]
        [--predict-threads 1] [--geometry-memoised]

The planner options default to ``PlannerOptions()``'s (16 split steps, every thread count,
every work-group size); ``--steps 8 --threads 4,8,12,15,16 --max-local-sizes 2`` are the
options of the H100 benches (``scripts/device_coexec.sh``), whose plans were measured.

``--breakdown``: wall time inside the stages of the batch call and of the single-layer
calls (the kernel launch geometry, the whole feature pass, the booster calls, the predict
path, the candidate enumeration, and the planner's own steps: the first stage's rows,
building the second stage's, deciding), from timers wrapped around those functions: the
batch's in ms, the single-layer calls' in ms per layer. Stages nest (the predict path
holds the feature pass, which holds the geometry), so they do not add up.

``--geometry-memoised``: each layer alone once more, by a new planner that has seen only
the warm-up network, while the process's launch geometry memo (``features.geometry``)
already holds the layer's rows: what a first-seen layer would cost if its geometry were
free (the candidates, feature rows, booster calls and decisions still first seen).
"""

from __future__ import annotations

import argparse
import functools
import time
import warnings
from collections import Counter
from typing import Any

import numpy as np
from latpred.datasets.suites import suite_layers
from latpred.features.geometry import clear_caches
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions

#: (module, class or None, function, label) timed by --breakdown; functions are replaced
#: where their callers look them up (``models.predictor`` imports
#: ``feature_matrix_and_labels`` by name)
STAGES = (
    ("latpred.features.geometry", None, "_compute", "launch geometry (new rows)"),
    ("latpred.models.predictor", None, "feature_matrix_and_labels",
     "feature pass, geometry included"),
    ("latpred.models.boosters", "Booster", "predict", "booster calls"),
    ("latpred.models.predictor", None, "predict_many", "predict path, all of the above"),
    ("latpred.planner.candidates", "CandidateSpace", "gpu_configs",
     "GPU configuration enumeration"),
    ("latpred.planner.planner", "Planner", "_anchor_points", "first-stage rows"),
    ("latpred.planner.planner", "Planner", "_prune_cpu", "CPU first stage, its predict too"),
    ("latpred.planner.planner", "Planner", "_build", "second-stage rows"),
    ("latpred.planner.planner", "Planner", "_decide", "decisions"),
)


def time_stages(acc: Counter) -> None:
    """Wrap each of STAGES with a timer adding its wall time (s) to ``acc[label]``."""
    import importlib

    for module, cls, name, label in STAGES:
        owner: Any = importlib.import_module(module)
        if cls is not None:
            owner = getattr(owner, cls)
        fn = getattr(owner, name)

        def timed(*a: Any, _fn: Any = fn, _label: str = label, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                acc[_label] += time.perf_counter() - t

        setattr(owner, name, functools.wraps(fn)(timed))


def add_option_args(ap: argparse.ArgumentParser) -> None:
    """The planner options these scripts take: --steps, --threads, --max-local-sizes."""
    ap.add_argument("--steps", type=int, default=PlannerOptions.steps)
    ap.add_argument("--threads", default=None, help="CPU thread counts, e.g. 4,8,16")
    ap.add_argument("--max-local-sizes", type=int, default=None)


def options_from(args: argparse.Namespace) -> PlannerOptions:
    """``PlannerOptions`` of ``add_option_args``' options, validated."""
    return PlannerOptions(
        steps=args.steps, max_local_sizes=args.max_local_sizes,
        cpu_threads=tuple(int(t) for t in args.threads.split(",")) if args.threads else None,
    ).validate()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--suite", default="resnet50")
    ap.add_argument("--warm-suite", default="mobilenetv2")
    ap.add_argument("--breakdown", action="store_true",
                    help="time the stages of the single-layer calls")
    add_option_args(ap)
    ap.add_argument("--predict-threads", type=int, default=1,
                    help="threads of the predictors' boosters (default 1, as `latpred plan`)")
    ap.add_argument("--geometry-memoised", action="store_true",
                    help="also time each layer alone with its launch geometry already "
                         "memoised (the rest of the path first seen)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="plan the network and its layers this many times, each time first "
                         "seen, and report the fastest batch and each layer's fastest call "
                         "(a shared host's noise)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error(f"--repeat must be >= 1, got {args.repeat}")
    opts = options_from(args)
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    preds, gpu, cpu, sync = load_models(args.models)
    preds.set_predict_threads(args.predict_threads)
    items = list(suite_layers(args.suite))
    warm = list(suite_layers(args.warm_suite))
    Planner(preds, gpu, cpu, sync, opts).plan_layers(warm)  # the process

    def first_seen() -> Planner:
        """A planner that has seen only the warm-up network (the kernel geometry memo is
        per process: cleared first)."""
        clear_caches()
        planner = Planner(preds, gpu, cpu, sync, opts)
        planner.plan_layers(warm)
        return planner

    batch_ms = np.inf  # the fastest of --repeat batches, each first seen
    for _ in range(args.repeat):
        planner = first_seen()
        t = time.perf_counter()
        planner.plan_layers(items)
        batch_ms = min(batch_ms, (time.perf_counter() - t) * 1e3)
    acc: Counter = Counter()
    if args.breakdown:  # one more batch, timers on (the numbers above are without)
        time_stages(acc)
        planner = first_seen()
        acc.clear()
        t = time.perf_counter()
        planner.plan_layers(items)
        timed_batch_ms = (time.perf_counter() - t) * 1e3
        batch_acc = Counter(acc)
    ms = np.full((args.repeat, len(items)), np.inf)
    for r in range(args.repeat):
        planner = first_seen()
        acc.clear()
        for i, (name, count, layer) in enumerate(items):
            t = time.perf_counter()
            planner.plan_layer(layer, name, count)
            ms[r, i] = (time.perf_counter() - t) * 1e3
    best = ms.min(axis=0)  # each layer's fastest repetition: the host's noise filtered
    print(f"{args.suite}, first time seen: the whole network in one batch {batch_ms:.0f} ms"
          + (f" (best of {args.repeat})" if args.repeat > 1 else "") + "; "
          f"each of its {len(items)} layers by its own plan_layer call: median "
          f"{np.median(best):.1f} ms, max {np.max(best):.1f} ms"
          + (f" (each layer's best of {args.repeat})" if args.repeat > 1 else ""))
    if args.geometry_memoised:
        geo = np.full((args.repeat, len(items)), np.inf)
        for r in range(args.repeat):
            first_seen().plan_layers(items)  # the geometry memo now holds these layers
            planner = Planner(preds, gpu, cpu, sync, opts)  # no candidate / row memo
            planner.plan_layers(warm)
            for i, (name, count, layer) in enumerate(items):
                t = time.perf_counter()
                planner.plan_layer(layer, name, count)
                geo[r, i] = (time.perf_counter() - t) * 1e3
        best_geo = geo.min(axis=0)
        print(f"each layer by its own plan_layer call, its launch geometry already memoised: "
              f"median {np.median(best_geo):.1f} ms, max {np.max(best_geo):.1f} ms")
    if args.breakdown:
        print(f"the batch once more, timers on: {timed_batch_ms:.1f} ms; of which")
        for _m, _c, _f, label in STAGES:
            print(f"  {label:34s} {batch_acc[label] * 1e3:6.2f} ms")
        print(f"per layer, mean of the {len(items)} calls of the last repetition (timers on): "
              f"{np.mean(ms[-1]):.2f} ms; of which")
        for _m, _c, _f, label in STAGES:
            print(f"  {label:34s} {acc[label] * 1e3 / len(items):6.2f} ms")


if __name__ == "__main__":
    main()
