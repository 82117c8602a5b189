"""Does a within-shape ("relative") correction learned on the profiler's GPU sweeps rank
GPU configurations better? Scored twice: out of fold on the sweeps, then on the runtime.

    python scripts/profiler_relative.py [--models datasets/h100/models/v3all]
        [--calibrated datasets/h100/models/v3gpurel]

The correction is a booster on the GPU predictor's features, fitted on log(measured /
predicted) minus its mean over each layer shape's configurations (the sweep's rows of one
shape), so it reorders a shape's kernels, parameters and work-groups and keeps the level:
``RuntimeCalibrated(relative=True)``'s form, fitted on profiler rows instead of runtime rows.

1. Out of fold (GroupKFold(4) by layer shape, metrics as shared/metrics.md) on
   ``datasets/h100/{linear,conv}``: the base is the GPU predictor's recipe refitted on each
   fold (the roofline prior and a booster of MODELS' parameters), the correction fitted on
   the fold's in-sample residual.
2. On the runtime: fitted once on every sweep row over MODELS' GPU predictor, then each
   layer shape of the committed co-execution grids and confirmation rounds picks its
   GPU-only configuration as ``scripts/gpu_choice.py`` scores it (measured pick / best, by
   suite group), with and without the correction, over MODELS and over CALIBRATED (which
   carries a runtime correction already). A development guide, not a bench result.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets import load
from latpred.features import CATEGORICAL, FEATURE_NAMES, feature_matrix
from latpred.models import boosters
from latpred.models.metrics import all_metrics
from latpred.models.roofline import Roofline
from latpred.models.splits import group_kfold, shape_groups
from latpred.models.targets import target_rows
from latpred.planner.calibrate import layer_sizes
from latpred.planner.split import activation_mib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_choice import score  # noqa: E402
from thread_choice import print_scores, runtime_inputs, shape_keys  # noqa: E402

DATA = ("datasets/h100/linear", "datasets/h100/conv")
#: the correction's booster sizes tried (the base keeps MODELS' parameters)
SIZES = {"100x7": {"n_estimators": 100, "learning_rate": 0.12, "max_depth": 7},
         "300x8": {"n_estimators": 300, "learning_rate": 0.08, "max_depth": 8}}


def demeaned(r: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``r`` minus its mean over the rows of each group code."""
    return r - (np.bincount(codes, weights=r) / np.bincount(codes))[codes]


def out_of_fold(F: np.ndarray, y: np.ndarray, rows: pd.DataFrame, groups: np.ndarray,
                params: dict, cat: list[int]) -> dict[str, np.ndarray]:
    """Predictions (us) of the base and base + each correction size, out of fold."""
    dev = rows["device"].astype(str).to_numpy()
    impl = rows["impl"].astype(str).to_numpy()
    out = {name: np.full(len(y), np.nan) for name in ("base", *SIZES)}
    for tr, te in group_kfold(groups, 4):
        lp = Roofline().fit(F[tr], y[tr], dev[tr], impl[tr]).log_predict(F, dev, impl)
        r = np.log(y) - lp
        pa = boosters.train("xgboost", params, F[tr], r[tr], cat, 0, 2).predict(F)
        out["base"][te] = np.exp(lp[te] + pa[te])
        codes = pd.factorize(groups[tr])[0]
        res = demeaned(r[tr] - pa[tr], codes)
        for name, size in SIZES.items():
            b = boosters.train("xgboost", {**params, **size}, F[tr], res, cat, 0, 2)
            out[name][te] = np.exp(lp[te] + pa[te] + b.predict(F[te]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="datasets/h100/models/v3all")
    ap.add_argument("--calibrated", default="datasets/h100/models/v3gpurel")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    logging.basicConfig(level=logging.ERROR)
    loaded, paths, rt, _frames = runtime_inputs([args.models, args.calibrated], None,
                                                "gpu_total_us")
    base = loaded[args.models][0].models["gpu_total_us"]
    params = dict(base.best_params_)
    df = load(list(DATA))
    rows, y = target_rows(df, "gpu_total_us")
    devices = df.attrs["meta"]["devices"]
    F = feature_matrix(rows, devices)
    groups = shape_groups(rows)
    cat = [FEATURE_NAMES.index(c) for c in CATEGORICAL]

    oof = out_of_fold(F, y, rows, groups, params, cat)
    forward = rows["pass"].fillna("forward").astype(str).to_numpy() == "forward"
    op = rows["op"].astype(str).to_numpy()
    table = []
    for part, sel in (("all", np.ones(len(y), bool)), ("linear, forward",
                      forward & (op == "linear")), ("conv", op == "conv2d")):
        for name, p in oof.items():
            m = all_metrics(y[sel], p[sel], groups[sel], None)
            table.append({"rows": part, "model": name if name == "base" else f"base + {name}",
                          **{k: round(m[k], 3) for k in ("MAPE", "kendall_tau",
                                                          "top1_within5", "top1_regret")}})
    print(f"1. out of fold, {len(y)} sweep rows, {len(set(groups.tolist()))} shapes")
    print(pd.DataFrame(table).to_markdown(index=False))

    r = demeaned(np.log(y) - np.log(base.predict(rows)), pd.factorize(groups)[0])
    fits = {name: boosters.train("xgboost", {**params, **size}, F, r, cat, 0, 2)
            for name, size in SIZES.items()}
    X = rt.X
    Frt = feature_matrix(X, devices)
    scored = pd.DataFrame({"suite": rt.suite, "wall_us": rt.wall("mean"),
                           "shape": shape_keys(X)})
    mib = layer_sizes(X, activation_mib)
    modes = X["mem_mode"].astype(str).to_numpy()
    cols = []
    for d in (args.models, args.calibrated):
        preds, _g, _c, sync = loaded[d]
        p = preds.models["gpu_total_us"].predict(X)
        for tag, q in [("", p), *((f" + {n}", p * np.exp(b.predict(Frt)))
                                  for n, b in fits.items())]:
            scored[Path(d).name + tag] = q + sync.single_us(modes, mib)
            cols.append(Path(d).name + tag)
    print(f"\n2. runtime GPU-only picks, {len(scored)} rows from {len(paths)} datasets "
          "(with each models directory's memory-mode overheads)")
    print_scores("models", [(c, score(scored, c, 5)) for c in cols])


if __name__ == "__main__":
    main()
