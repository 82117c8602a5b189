"""Planner speed benchmark: prints a table of planning time per layer and per network.

    python -m latpred.planner.benchmark [--models DIR] [--suite resnet50] [--repeats 5]

With ``--models`` the real predictors (and their device metadata) are used; without, fast
analytic stub predictors on this machine's PoCL device as the "GPU", which measures the
planner's own overhead (enumeration, frames, decision). Targets: <= 2 ms per layer,
<= 100 ms for all of ResNet-50 on a 2-core machine. Not a test: timings are printed only.
A Planner memoises its predictions, so this times re-planning (the decision, made anew);
``scripts/plan_cold.py`` times layers seen for the first time.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd


class StubPredictor:
    """Analytic latency (us) from flops: ``overhead + flops / (rate * threads)``, with a
    +-20 % interval; sklearn-style ``predict(df)``."""

    def __init__(self, rate_flops_per_us: float, overhead_us: float, per_thread: bool):
        self.rate, self.overhead, self.per_thread = rate_flops_per_us, overhead_us, per_thread

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        flops = df["flops"].to_numpy(dtype=float, na_value=0.0)
        t = df["threads"].to_numpy(dtype=float, na_value=1.0) if self.per_thread else 1.0
        return self.overhead + flops / (self.rate * t)

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(df)
        return 0.8 * p, 1.2 * p


def stub_predictors(components: bool = False) -> Any:
    from latpred.planner.predictors import Predictors

    models: dict[str, Any] = {"cpu_us": StubPredictor(2e4, 5.0, True)}
    if components:
        models.update(gpu_kernel_us=StubPredictor(2e5, 5.0, False),
                      gpu_dispatch_us=StubPredictor(1e18, 10.0, False),
                      gpu_transfer_us=StubPredictor(1e18, 15.0, False))
    else:
        models["gpu_total_us"] = StubPredictor(2e5, 30.0, False)
    return Predictors(models, {}, "stub")


def main(argv: list[str] | None = None) -> int:
    from latpred.datasets.suites import suite_layers
    from latpred.planner.planner import Planner, PlannerOptions
    from latpred.planner.sync import SyncModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=None, help="models directory (default: stubs)")
    ap.add_argument("--suite", default="resnet50")
    ap.add_argument("--repeats", type=int, default=5, help="best of N")
    ap.add_argument("--components", action="store_true", help="stubs: GPU component models")
    ap.add_argument("--risk", default="none")
    args = ap.parse_args(argv)

    if args.models:
        from latpred.planner.cli import load_models

        preds, gpu_info, cpu_info, sync = load_models(args.models)
    else:
        from latpred.profiler.devices import cl_device_info, pocl_cpu_device
        from latpred.profiler.devices import cpu_info as host_cpu

        preds = stub_predictors(args.components)
        dev = pocl_cpu_device()
        if dev is None:
            raise SystemExit("no PoCL device for the stub GPU")
        gpu_info = {**cl_device_info(dev), "type": "GPU"}
        cpu_info = host_cpu()
        sync = SyncModel.constant(30.0)
    planner = Planner(preds, gpu_info, cpu_info, sync, PlannerOptions(risk=args.risk))
    items = [(n, c, lay) for n, c, lay in suite_layers(args.suite)]

    def best(fn: Any) -> tuple[float, Any]:
        best_s, out = np.inf, None
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = fn()
            best_s = min(best_s, time.perf_counter() - t)
        return best_s * 1e3, out

    print(f"planner benchmark: suite {args.suite}, {len(items)} layers, predictors "
          f"{preds.source} ({planner.gpu_mode}), GPU {gpu_info.get('name')}, best of "
          f"{args.repeats}")
    t = time.perf_counter()
    planner.plan_layers(items)
    cold_ms = (time.perf_counter() - t) * 1e3
    print(f"{'layer':28s} {'candidates':>10s} {'plan ms':>8s}  choice")
    per_layer = []
    for name, count, layer in items:
        ms, ch = best(lambda layer=layer, name=name, count=count:
                      planner.plan_layer(layer, name, count))
        per_layer.append(ms)
        print(f"{name[:28]:28s} {ch.n_candidates:>10d} {ms:8.2f}  {ch.plan.kind}")
    net_ms, choices = best(lambda: planner.plan_layers(items))
    print(f"per layer (one plan_layer call each, predictions memoised): median "
          f"{np.median(per_layer):.2f} ms, max {np.max(per_layer):.2f} ms (target <= 2 ms)")
    # conditions change (here: no sync overhead at all): every layer decided anew
    planner.sync, loaded_sync = SyncModel.constant(0.0), planner.sync
    t = time.perf_counter()
    changed = [planner.plan_layer(layer, name, count) for name, count, layer in items]
    new_ms = (time.perf_counter() - t) * 1e3 / len(items)
    planner.sync = loaded_sync
    moved = sum(a.plan.describe() != b.plan.describe() for a, b in zip(choices, changed))
    print(f"re-planning each layer after the sync model changed (to 0 us): {new_ms:.2f} ms "
          f"per layer; {moved} of {len(items)} plans changed")
    print(f"whole {args.suite} in one batch: {net_ms:.1f} ms warm, {cold_ms:.1f} ms cold (first "
          f"call: candidate enumeration and the predictors' feature caches) (target <= 100 "
          f"ms for resnet50); {sum(c.n_candidates for c in choices)} candidate plans scored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
