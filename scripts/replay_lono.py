"""Leave one network out, replayed: for each network of a bench, predictors trained without
that network's layer shapes plan its layers, and the plans are looked up in the bench's
measurements (as ``replay_bench.py`` does). Every layer of the bench is then planned by
predictors that never saw its network, not only the two held-out suites a device bench can
afford.

    python scripts/replay_lono.py --bench datasets/h100/coexec/session5/run4_interference \\
        --sync datasets/h100/coexec/session5/sync_interference.json \\
        --params-from models_h100/models_s4

``--keep DIR`` keeps each network's models directory (pickles + the sync.json) as
DIR/<network>, e.g. to bench them on the device. ``--params-from DIR``: booster parameters of DIR's pickles (no tuning: one fit per network
and target); default: the library's start parameters. Training data: the GPU and CPU
datasets the device predictors use (``--gpu-data``, ``--cpu-data``). A development guide
like ``replay_bench.py`` (plans the bench did not confirm are read from noisier grid
medians), not a device benchmark.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from latpred.datasets import load
from latpred.datasets.suites import suite_layers
from latpred.models import LatencyPredictor
from latpred.models.boosters import start_params
from latpred.models.splits import without_suites
from latpred.planner.bench import SLOWDOWN_TOLERANCE, geomean
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions

#: bench suite -> the network whose layer shapes are left out for it
NETWORK = {"resnet50": "resnet50", "resnet50_fc": "resnet50", "mobilenetv2": "mobilenetv2",
           "mobilenetv2_fc": "mobilenetv2", "vgg16": "vgg16", "vgg16_fc": "vgg16",
           "bert_base": "bert_base", "gpt2_small_decode": "gpt2",
           "gpt2_small": "gpt2", "mnist_mlp": "mnist_mlp"}
TARGETS = {"gpu_total_us": "gpu", "cpu_us": "cpu"}


def _replay_bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "replay_bench", Path(__file__).resolve().parent / "replay_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def without(df: pd.DataFrame, network: str) -> pd.DataFrame:
    """``df`` without every layer shape that a suite of ``network`` has."""
    return without_suites(df, [s for s, n in NETWORK.items() if n == network])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--sync", required=True, help="the sync.json to plan with")
    ap.add_argument("--grid-root", default="datasets/h100/coexec")
    ap.add_argument("--gpu-data", action="append",
                    default=None, help="default: datasets/h100/linear and conv")
    ap.add_argument("--cpu-data", action="append",
                    default=None, help="default: datasets/h100/{linear,conv}_cpu_live")
    ap.add_argument("--params-from", default=None)
    ap.add_argument("--threads", default="4,8,12,15,16")
    ap.add_argument("--max-local-sizes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--networks", default=None, help="comma-separated subset")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="keep each network's models directory as DIR/<network>")
    ap.add_argument("--cv-splits", type=int, default=4,
                    help="folds of each fit's out-of-fold intervals (LatencyPredictor)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")  # pickles of other library versions (--params-from)
    rb = _replay_bench()
    data = {"gpu": load(args.gpu_data or ["datasets/h100/linear", "datasets/h100/conv"]),
            "cpu": load(args.cpu_data or ["datasets/h100/linear_cpu_live",
                                          "datasets/h100/conv_cpu_live"])}
    params = {t: (joblib.load(Path(args.params_from) / f"{t}.pkl").best_params_
                  if args.params_from else start_params("xgboost")) for t in TARGETS}
    bench_dirs = sorted(p for p in Path(args.bench).iterdir() if (p / "bench.csv").exists())
    networks = sorted({NETWORK[d.name] for d in bench_dirs})
    if args.networks:
        networks = [n for n in networks if n in args.networks.split(",")]
    opts = PlannerOptions(steps=args.steps, max_local_sizes=args.max_local_sizes,
                          cpu_threads=tuple(int(t) for t in args.threads.split(",")))
    rows = []
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lono-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for net in networks:
            mdir = work / net
            mdir.mkdir(exist_ok=True)
            shutil.copy(args.sync, mdir / "sync.json")
            for target, side in TARGETS.items():
                pred = LatencyPredictor(target=target, model="xgboost", params=params[target],
                                        cv_splits=args.cv_splits, n_jobs=2)
                joblib.dump(pred.fit(without(data[side], net)), mdir / f"{target}.pkl")
            preds, gpu, cpu, sync = load_models(str(mdir))
            planner = Planner(preds, gpu, cpu, sync, opts)
            for d in (d for d in bench_dirs if NETWORK[d.name] == net):
                items = suite_layers(d.name)
                layers = {name: layer for name, _c, layer in items}
                bench = pd.read_csv(d / "bench.csv").set_index("layer")
                times = rb.measured_times(d, layers, Path(args.grid_root))
                for ch in planner.plan_layers(items):
                    b = bench.loc[ch.name]
                    rows.append({"network": net, "suite": d.name, "layer": ch.name,
                                 "plan": ch.plan.describe(),
                                 "t_plan_us": times.get(ch.name, {}).get(ch.plan.describe(),
                                                                        np.nan),
                                 "t_oracle_us": b["t_oracle_us"],
                                 "t_single_us": b["t_single_us"]})
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    df = pd.DataFrame(rows)
    print(f"leave one network out, replayed on {args.bench} with {args.sync}")
    print(f"{'network':14s} {'layers':>6s} {'found':>5s} {'eff plan':>8s} {'slower':>6s}")
    for net, g in [*df.groupby("network"), ("all", df)]:
        found = g[np.isfinite(g["t_plan_us"])]
        eff = np.minimum(found["t_oracle_us"] / found["t_plan_us"], 1.0)
        slow = int((found["t_plan_us"] > (1 + SLOWDOWN_TOLERANCE) * found["t_single_us"]).sum())
        print(f"{net:14s} {len(g):6d} {len(found):5d} {100 * geomean(eff):7.1f}% {slow:6d}")


if __name__ == "__main__":
    main()
