"""Out-of-fold metrics of one target with fixed booster parameters (no tuning noise): an
A/B tool for feature changes. GroupKFold by layer shape; metrics as shared/metrics.md.

    python scripts/cv_fixed.py --data datasets/h100/linear_cpu_live \\
        --data datasets/h100/conv_cpu_live --target cpu_us

Prints the metrics over all rows and the mean absolute per-shape log error by op.
``--within-shape``: also a booster fitted on each row's log time minus its shape's mean
(how a layer's configurations rank, not its level), scored with the first booster's
per-shape mean as the level: the ranking metrics (Kendall tau, top1) of a model that spends
all its trees on the ranking.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd
from latpred.datasets import load
from latpred.features import CATEGORICAL, FEATURE_NAMES, feature_matrix
from latpred.models import boosters
from latpred.models.metrics import all_metrics
from latpred.models.splits import group_kfold, shape_groups
from latpred.models.targets import target_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--target", default="cpu_us")
    ap.add_argument("--model", default="xgboost", choices=boosters.MODEL_TYPES)
    ap.add_argument("--splits", type=int, default=4)
    ap.add_argument("--within-shape", action="store_true",
                    help="also a booster of the log time relative to the shape's mean")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    df = load(args.data)
    rows, y = target_rows(df, args.target)
    F = feature_matrix(rows, df.attrs["meta"]["devices"])
    groups = shape_groups(rows)
    params = boosters.start_params(args.model)
    cat = [FEATURE_NAMES.index(c) for c in CATEGORICAL]
    ly = np.log(y)
    shape_mean = pd.Series(ly).groupby(groups).transform("mean").to_numpy()
    oof = np.empty(len(y))
    rel = np.empty(len(y))
    for tr, te in group_kfold(groups, args.splits):
        b = boosters.train(args.model, params, F[tr], ly[tr], cat, 0, 2)
        oof[te] = b.predict(F[te])
        if args.within_shape:
            r = boosters.train(args.model, params, F[tr], ly[tr] - shape_mean[tr], cat, 0, 2)
            rel[te] = r.predict(F[te])
    m = all_metrics(y, np.exp(oof), groups, None)
    print(f"{args.target}: {len(y)} rows, {len(set(groups.tolist()))} shapes, "
          f"{args.model} {params}")
    print(pd.Series(m).round(3).to_string())
    if args.within_shape:  # the level: the first booster's mean over the shape's rows
        level = pd.Series(oof).groupby(groups).transform("mean").to_numpy()
        m = all_metrics(y, np.exp(level + rel), groups, None)
        print("within-shape booster (level from the first):")
        print(pd.Series(m).round(3).to_string())
    per = pd.DataFrame({"op": rows["op"].astype(str).to_numpy(), "g": groups,
                        "e": oof - np.log(y)}).groupby(["op", "g"])["e"].mean().abs()
    print("mean |per-shape log error| by op:", per.groupby(level=0).mean().round(3).to_dict())


if __name__ == "__main__":
    main()
