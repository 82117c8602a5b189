"""A layer's whole-layer GPU timings in an oracle grid next to a GPU predictor's predictions
of the same configurations, by implementation and memory mode: where a predictor is out of
its training data's range, the two part ways (BENCHMARKS.md section 5, session 31).

    python scripts/grid_vs_predicted.py --models DIR --grid GRID --layer NAME

MODELS is a models directory (its ``gpu_total_us`` export) and GRID a ``coexec grid`` or
``coexec bench`` grid dataset. Prints per (implementation, memory mode) the configurations
timed, their total and output-copy times (us, min-max) and the predictions (us, min-max).
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd
from latpred.datasets.store import load
from latpred.models.persist import load_model

from latpred.errors import bad_value


def table(model, grid: pd.DataFrame, layer: str) -> pd.DataFrame:
    """The GPU-only rows of ``layer`` (the GPU computing every output) in ``grid``, grouped."""
    rows = grid[(grid.layer == layer) & (grid.impl != "blas")].copy()
    if rows.empty:
        raise bad_value("layer", layer, "has no GPU rows in the grid")
    n_total = rows.n.where(rows.op == "linear", rows.out_channels).astype(int)
    split = rows.params.str.extract(r'"_split_n": (\d+)')[0].astype(float)
    rows = rows[split.isna() | (split == n_total)]
    rows["predicted_us"] = model.predict(rows)
    g = rows.groupby(["impl", "mem_mode"])
    return pd.DataFrame({
        "configs": g.size(),
        "total_us": g.total_us.min().round().astype(int).astype(str) + "-"
        + g.total_us.max().round().astype(int).astype(str),
        "copy_out_us": g.transfer_out_us.min().round().astype(int).astype(str) + "-"
        + g.transfer_out_us.max().round().astype(int).astype(str),
        "predicted_us": g.predicted_us.min().round().astype(int).astype(str) + "-"
        + g.predicted_us.max().round().astype(int).astype(str),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--grid", required=True)
    ap.add_argument("--layer", required=True)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    model = load_model(f"{args.models}/gpu_total_us")
    print(table(model, load(args.grid), args.layer).to_string())


if __name__ == "__main__":
    main()
