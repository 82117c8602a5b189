"""Which plans does a models directory change? Each suite planned with the first ``--models``
directory and with every other one, the same planner options; per suite, the layers whose
plan differs from the first directory's, and how (device kind, GPU configuration, CPU
thread count). What a paired bench of those directories can tell apart is on those
layers only.

    python scripts/plan_diff.py --models A --models B [--models C ...] [--suite S ...]
        [--steps 8] [--threads 4,8,12,15,16] [--max-local-sizes 2]

Suites default to the seven networks no shipped predictor was fitted on; the planner
options to ``PlannerOptions()``'s (``--steps 8 --threads 4,8,12,15,16
--max-local-sizes 2`` are the H100 benches', ``scripts/device_coexec.sh``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from latpred.datasets.suites import suite_layers
from latpred.planner.cli import load_models
from latpred.planner.planner import PlanChoice, Planner, PlannerOptions
from latpred.planner.runtime import Plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_cold import add_option_args, options_from  # noqa: E402

NEVER_SEEN = ("googlenet", "densenet121", "convnext_tiny", "convnext_tiny_mlp",
              "efficientnet_b0", "resnext50_32x4d", "vit_b16")


def plans(models: str, suites: list[str], opts: PlannerOptions) -> dict[str, list[PlanChoice]]:
    """suite -> its layers' choices, planned in one batch by a fresh planner."""
    preds, gpu, cpu, sync = load_models(models)
    return {s: Planner(preds, gpu, cpu, sync, opts).plan_layers(list(suite_layers(s)))
            for s in suites}


def how(a: Plan, b: Plan) -> tuple[bool, bool, bool, bool]:
    """(differs, device kind differs, GPU configuration differs, CPU threads differ)."""
    kind = a.kind != b.kind
    gpu = repr(a.gpu) != repr(b.gpu)  # None on a CPU-only plan
    threads = (a.cpu.threads if a.cpu else None) != (b.cpu.threads if b.cpu else None)
    return repr(a) != repr(b), kind, gpu, threads


def table(ref: dict[str, list[PlanChoice]], other: dict[str, list[PlanChoice]],
          name: str) -> list[str]:
    """Markdown rows: per suite and in all, layers and the plans that differ."""
    rows, total = [], [0, 0, 0, 0, 0]
    for suite, choices in ref.items():
        counts = [len(choices), 0, 0, 0, 0]
        for a, b in zip(choices, other[suite], strict=True):
            for i, flag in enumerate(how(a.plan, b.plan)):
                counts[i + 1] += flag
        total = [t + c for t, c in zip(total, counts)]
        rows.append(counts)
    names = [*ref, "all"]
    return [f"| {name} | {s} | {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[4]} |"
            for s, c in zip(names, [*rows, total])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", action="append", required=True,
                    help="models directory (repeat; the first is the reference)")
    ap.add_argument("--suite", action="append", default=None,
                    help="suite (repeat; default the seven never-seen networks)")
    add_option_args(ap)
    args = ap.parse_args()
    if len(args.models) < 2:
        ap.error("needs two --models directories or more")
    opts = options_from(args)
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    suites = args.suite or list(NEVER_SEEN)
    ref = plans(args.models[0], suites, opts)
    print(f"plans that differ from {args.models[0]}'s")
    print("| models | suite | layers | plan differs | device kind | GPU configuration | "
          "CPU threads |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for m in args.models[1:]:
        print("\n".join(table(ref, plans(m, suites, opts), m)))


if __name__ == "__main__":
    main()
