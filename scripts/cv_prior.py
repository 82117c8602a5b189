"""Out-of-fold A/B of the roofline prior: the fitted roofline alone and fixed boosters with
no prior, the prior as a residual target, or the prior as a feature; GroupKFold by shape
and leave one network out. Metrics as shared/metrics.md.

    python scripts/cv_prior.py --data datasets/h100/linear_cpu_live \\
        --data datasets/h100/conv_cpu_live --target cpu_us
    # before the scratch term: the same after `git checkout 113bcff~1 -- models/roofline.py`
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
from latpred.models.roofline import Roofline
from latpred.models.splits import Split, group_kfold, leave_one_network_out, shape_groups
from latpred.models.targets import target_rows

NETWORKS = ("resnet50", "mobilenetv2", "vgg16", "bert_base", "gpt2_small", "mnist_mlp")
MODES = ("roof", "none", "residual", "feature")


def lono_splits(groups: np.ndarray, suite: np.ndarray) -> list[Split]:
    """``models.splits.leave_one_network_out``, for the networks of NETWORKS present."""
    folds = dict(leave_one_network_out(suite, groups))
    return [folds[net] for net in NETWORKS if net in folds]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--target", default="cpu_us")
    ap.add_argument("--splits", default="group,lono")
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    df = load(args.data)
    rows, y = target_rows(df, args.target)
    F = feature_matrix(rows, df.attrs["meta"]["devices"])
    groups = shape_groups(rows)
    dev = rows["device"].astype(str).to_numpy()
    impl = rows["impl"].astype(str).to_numpy()
    suite = rows["suite"].fillna("random").astype(str).to_numpy()
    cat = [FEATURE_NAMES.index(c) for c in CATEGORICAL]
    params = boosters.start_params("xgboost")
    splits = {"group": group_kfold(groups, 4), "lono": lono_splits(groups, suite)}
    for name in args.splits.split(","):
        table = {}
        for mode in args.modes.split(","):
            pred = np.full(len(y), np.nan)
            for tr, te in splits[name]:
                lp = None
                if mode != "none":
                    lp = Roofline().fit(F[tr], y[tr], dev[tr], impl[tr]).log_predict(F, dev, impl)
                if mode == "roof":
                    pred[te] = np.exp(lp[te])
                    continue
                X = np.column_stack([F, lp / np.log(2.0)]) if mode == "feature" else F
                off = lp if mode == "residual" else np.zeros(len(y))
                b = boosters.train("xgboost", params, X[tr], np.log(y[tr]) - off[tr], cat, 0, 2)
                pred[te] = np.exp(b.predict(X[te]) + off[te])
            m = ~np.isnan(pred)
            met = all_metrics(y[m], pred[m], groups[m], None)
            table[mode] = {k: round(met[k], 3)
                           for k in ("MAPE", "acc10", "top1_within5", "top1_regret")}
        print(f"{args.target}, {name}: {len(y)} rows, {len(set(groups.tolist()))} shapes")
        print(pd.DataFrame(table).T.to_string())


if __name__ == "__main__":
    main()
