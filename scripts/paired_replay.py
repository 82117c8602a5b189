"""Two models directories' single-device choices, replayed on every committed round that
timed both: no device needed.

    python scripts/paired_replay.py --models A --models B [--coexec DIR ...] [--suite NAME ...]

Each suite (default: the 15 benched on the H100 host) is planned with A and with B, with
the bench's candidate space (steps 8, threads 4, 8, 12, 15, 16, two work-group sizes). For
every layer where the two choose different single-device plans (their count is printed
first), each confirmation round
that timed both plans gives a ratio T_B / T_A (median wall times of that round). Printed:
per layer, the rounds and their geometric mean (with min and max); then the geometric mean
over the differing layers, and the same with each suite group apart. Rounds are often from
other sessions than the models (host states differ), and a plan is only counted where a
bench happened to time it: a development guide to choose what to bench paired on the
device (``coexec bench --compare``), not a bench result.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.suites import suite_layers
from latpred.planner.cli import load_models
from latpred.planner.oracle import load_grid, plan_of_row
from latpred.planner.planner import Planner, PlannerOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_choice import group  # noqa: E402

SUITES = ("googlenet densenet121 convnext_tiny convnext_tiny_mlp efficientnet_b0 "
          "resnext50_32x4d vit_b16 resnet50 mobilenetv2 vgg16 bert_base gpt2_small_decode "
          "vgg16_fc resnet50_fc mobilenetv2_fc").split()
OPTIONS = {"steps": 8, "cpu_threads": (4, 8, 12, 15, 16), "max_local_sizes": 2}


def rounds(dirs: list[str]) -> pd.DataFrame:
    """Single-device rows of every confirmation round under ``dirs``."""
    frames = []
    for p in sorted({p for d in dirs for p in Path(d).rglob("confirm")}):
        g = load_grid(p)
        g = g[(g["status"] == "ok") & g["backend"].isin(["cpu", "gpu"])]
        frames.append(g.assign(src=str(p)))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", action="append", required=True, metavar="DIR")
    ap.add_argument("--coexec", action="append", metavar="DIR",
                    help="where to look for confirmation rounds (repeatable; default "
                         "datasets/h100/coexec)")
    ap.add_argument("--suite", action="append", default=None)
    args = ap.parse_args()
    if len(args.models) != 2:
        raise SystemExit("give --models twice (A, then B)")
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    a_dir, b_dir = args.models
    ma, mb = load_models(a_dir), load_models(b_dir)
    conf = rounds(args.coexec or ["datasets/h100/coexec"])
    out = []
    n_layers = n_differ = 0
    for s in args.suite or SUITES:
        items = list(suite_layers(s))
        ca = Planner(*ma, PlannerOptions(**OPTIONS)).plan_layers(items)
        cb = Planner(*mb, PlannerOptions(**OPTIONS)).plan_layers(items)
        here = conf[conf["suite"] == s]
        for a, b in zip(ca, cb):
            n_layers += 1
            if a.plan.describe() == b.plan.describe():
                continue
            n_differ += 1
            if "split" in (a.plan.kind, b.plan.kind):
                continue
            ka, kb = a.plan.describe(), b.plan.describe()
            mine = here[here["layer"] == a.name]
            mine = mine.assign(key=[plan_of_row(a.layer, r).describe()
                                    for r in mine.to_dict("records")])
            for _src, d in mine.groupby("src"):
                t = d.groupby("key")["total_us"].median()
                if ka in t and kb in t:
                    out.append((s, a.name, ka, kb, t[kb] / t[ka]))
    print(f"{n_differ} of {n_layers} layers planned differently by A and B")
    r = pd.DataFrame(out, columns=["suite", "layer", "a", "b", "ratio"])
    if r.empty:
        print("no differing layer timed both ways in any round")
        return
    per = r.groupby(["suite", "layer", "a", "b"], sort=False)["ratio"].agg(
        rounds="size", geomean=lambda v: float(np.exp(np.log(v).mean())), min="min", max="max")
    print(f"| suite | layer | A: {a_dir} | B: {b_dir} | rounds | T_B / T_A (geomean) | min | max |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for (s, layer, ka, kb), v in per.iterrows():
        print(f"| {s} | {layer} | {ka} | {kb} | {int(v.rounds)} | {v.geomean:.3f} | "
              f"{v['min']:.3f} | {v['max']:.3f} |")
    per = per.reset_index()
    per["group"] = per["suite"].map(group)
    print(f"\n{len(per)} layers planned differently and timed both ways: T_B / T_A geomean "
          f"{np.exp(np.log(per['geomean']).mean()):.3f}")
    for g, v in per.groupby("group"):
        print(f"  {g}: {len(v)} layers, {np.exp(np.log(v['geomean']).mean()):.3f}")


if __name__ == "__main__":
    main()
