"""Batched-prediction latency of saved predictors: 1,000 candidate configurations drawn
from a dataset (models.bench.candidate_batch), predicted in one call.

    python scripts/predict_latency.py --model MODEL.pkl [--model ...] --data DIR [--data ...]

Prints warm median / p90 and cold time per model (models.bench.time_predict).
"""

from __future__ import annotations

import argparse
import logging

import joblib
from latpred.datasets import load
from latpred.models.bench import candidate_batch, time_predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    df = load(args.data)
    for path in args.model:
        model = joblib.load(path)
        cands = candidate_batch(model, df, args.n)
        t = time_predict(model, cands)
        trees = getattr(model.booster_.booster, "num_boosted_rounds", lambda: "?")()
        print(f"{path}: {model.target}, {len(cands)} rows, {trees} trees: "
              + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))


if __name__ == "__main__":
    main()
