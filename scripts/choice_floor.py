"""How close the predictors' single-device picks come to what a measurement could pick.

    python scripts/choice_floor.py --target gpu|cpu --models DIR [--models DIR2 ...]
        [--grid PATH ...] [--min-configs 5] [--spread] [--profile REGEX]

A measurement taken in another host state is the best a planner could know before it
runs a layer. This script makes that a yardstick. For each layer shape and each ordered
pair (A, B) of committed datasets (``latpred coexec grid`` / ``bench`` confirmation
rounds under datasets/h100/coexec) that both timed at least ``--min-configs`` of its
single-device configurations (GPU: implementation x parameters x work-group x memory
mode; CPU: BLAS thread count), every picker chooses among those common configurations:

- "measured in another dataset": the configuration fastest in A's times;
- each models directory: the one it scores fastest, as the planner scores a
  single-device plan. GPU: predictor + the runtime's overhead of that memory mode at the
  layer's activations (``SyncModel.single_us``). CPU: predictor x the runtime's factor
  per thread count (``SyncModel.cpu_factor``).

The score is B's time of the pick over B's best (the end-to-end wall time, ``total_us``;
per dataset and configuration, the median over the rows that timed it). Per shape it is
the geometric mean over its pairs. By suite group (as in ``thread_choice.py``) it is the
geometric mean over shapes, with the share of shapes within 2 %. A shape's group is that of
the suite of its first timed row.

A picker near "measured in another dataset" loses about what the host's drift between
datasets loses; a measurement in the current host state (``latpred plan --tune``) is what
avoids that. Confirmation rounds time a shortlist, so the common sets are small (a median
of 5-6 configurations on the committed data). A development guide, not a bench result.

``--spread``: the models directories are draws of one recipe (e.g. one training run per
``--seed``, ``scripts/train_seeds.sh``): also, per suite group, the smallest, median and
largest of their geometric means, the spread a single draw's result carries.

``--profile REGEX``: for the shapes whose key matches, every configuration's time over
each dataset's fastest (geometric mean over the datasets that timed it) and the models'
scores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.planner.calibrate import RuntimeRows, layer_sizes
from latpred.planner.split import activation_mib, layer_flops

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_choice import (  # noqa: E402
    add_runtime_args,
    cpu_factors,
    group,
    print_scores,
    runtime_inputs,
    shape_keys,
    summarise,
)

#: the columns naming a single-device configuration, per target (raw grid column names)
CONFIG_COLS = {"gpu": ("impl", "gpu_params", "local_size", "mem_mode"), "cpu": ("threads",)}
#: the runtime rows' names of the same columns (``FrameBuilder.frame``)
FRAME_COLS = {"gpu": ("impl", "params", "local_size", "mem_mode"), "cpu": ("threads",)}
TARGETS = {"gpu": "gpu_total_us", "cpu": "cpu_us"}
MEASURED = "measured in another dataset"


def config_keys(frame: pd.DataFrame, cols: tuple[str, ...]) -> list[str]:
    """One string per row naming its configuration (``cols`` joined; threads as ints)."""
    parts = [pd.to_numeric(frame[c]).astype(np.int64).astype(str) if c == "threads"
             else frame[c].astype(str) for c in cols]
    return ["|".join(t) for t in zip(*parts)]


def single_device_rows(grid: pd.DataFrame, target: str) -> pd.DataFrame:
    """The single-device rows of one dataset for ``target`` ("gpu" or "cpu"): status ok,
    the whole layer on one device, a positive wall time."""
    ok = grid[(grid["status"] == "ok") & (grid["backend"] == target)
              & (pd.to_numeric(grid["total_us"], errors="coerce") > 0)]
    split = pd.to_numeric(ok["split_n"], errors="coerce")
    if target == "cpu":
        return ok[split.fillna(0) == 0]
    # confirmation rounds leave n_total empty: their GPU rows are whole-layer plans
    n_total = pd.to_numeric(ok["n_total"], errors="coerce")
    return ok[n_total.isna() | (split == n_total)]


def measured_table(grids: list[pd.DataFrame], target: str) -> pd.DataFrame:
    """(shape, config, ds, suite, wall_us): each dataset's median wall time of each
    configuration of each shape (``ds``: the dataset's index in ``grids``)."""
    frames = []
    for i, grid in enumerate(grids):
        g = single_device_rows(grid, target)
        if not len(g):
            continue
        frames.append(pd.DataFrame({
            "shape": shape_keys(g), "config": config_keys(g, CONFIG_COLS[target]), "ds": i,
            "suite": g["suite"].astype(str).to_numpy(),
            "wall_us": pd.to_numeric(g["total_us"]).to_numpy(np.float64)}))
    raw = pd.concat(frames, ignore_index=True)
    return raw.groupby(["shape", "config", "ds"], as_index=False, sort=False).agg(
        wall_us=("wall_us", "median"), suite=("suite", "first"))


def model_scores(loaded: dict[str, tuple], rows: RuntimeRows, target: str
                 ) -> dict[str, dict[tuple[str, str], float]]:
    """Per models directory (``load_models``'s tuple): (shape, config) -> its score (us)
    of each runtime row, as the planner ranks single-device plans."""
    X = rows.X
    keys = list(zip(shape_keys(X), config_keys(X, FRAME_COLS[target])))
    out = {}
    for d in loaded:
        preds, _g, _c, sync = loaded[d]
        pred = preds.models[TARGETS[target]].predict(X)
        if target == "gpu":
            score = pred + sync.single_us(X["mem_mode"].astype(str).to_numpy(),
                                          layer_sizes(X, activation_mib))
        else:
            score = pred * cpu_factors(sync, X["threads"].astype(int).to_numpy(),
                                       layer_sizes(X, layer_flops))
        out[d] = dict(zip(keys, score))
    return out


def pair_scores(table: pd.DataFrame, scores: dict[str, dict[tuple[str, str], float]],
                min_configs: int) -> pd.DataFrame:
    """Per (shape, A, B) pair with >= ``min_configs`` common configurations: each picker's
    B time / B best. Columns: group, shape, n_configs, MEASURED, then one per models
    directory."""
    recs = []
    for shape, d in table.groupby("shape", sort=False):
        wide = d.pivot(index="config", columns="ds", values="wall_us")
        if wide.shape[1] < 2:
            continue
        pred = {m: np.array([s.get((shape, c), np.nan) for c in wide.index])
                for m, s in scores.items()}
        grp = group(d["suite"].iloc[0])
        times = wide.to_numpy(np.float64)  # (configs, datasets), NaN: not timed there
        timed = ~np.isnan(times)
        for a in range(times.shape[1]):
            for b in range(times.shape[1]):
                both = timed[:, a] & timed[:, b]
                if a == b or both.sum() < min_configs:
                    continue
                ta, tb = times[both, a], times[both, b]
                rec = {"group": grp, "shape": shape, "n_configs": int(both.sum()),
                       MEASURED: tb[np.argmin(ta)] / tb.min()}
                for m, p in pred.items():
                    pm = p[both]
                    rec[m] = tb[np.argmin(pm)] / tb.min() if np.isfinite(pm).all() \
                        else np.nan
                recs.append(rec)
    return pd.DataFrame(recs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runtime_args(ap)
    ap.add_argument("--target", choices=sorted(TARGETS), required=True)
    ap.add_argument("--min-configs", type=int, default=5,
                    help="score pairs of datasets timing at least this many common "
                         "configurations of a shape (default 5)")
    ap.add_argument("--profile", metavar="REGEX",
                    help="also print, for each shape whose key (as in the per-pair table: "
                         "op|m|n|k|in|out|h|w|kernel|stride|groups) matches, every "
                         "configuration's time over each dataset's best and the models' "
                         "scores")
    ap.add_argument("--spread", action="store_true",
                    help="also the min / median / max over the models directories, per "
                         "suite group (draws of one recipe, e.g. training seeds)")
    args = ap.parse_args()
    if args.min_configs < 2:
        ap.error(f"--min-configs must be >= 2, got {args.min_configs}")
    loaded, paths, rows, grids = runtime_inputs(args.models, args.grid, TARGETS[args.target])
    scores = model_scores(loaded, rows, args.target)
    table = measured_table(grids, args.target)
    pairs = pair_scores(table, scores, args.min_configs)
    if not len(pairs):
        sys.exit("no shape was timed in two datasets with enough common configurations")
    pickers = [MEASURED, *args.models]
    pairs = pairs.dropna(subset=pickers)  # shapes every picker can score
    per_shape = pairs.groupby(["group", "shape"])[pickers].agg(
        lambda v: float(np.exp(np.log(v).mean()))).reset_index()
    print(f"{args.target}: {len(pairs)} dataset pairs over {len(per_shape)} shapes from "
          f"{len(paths)} datasets; common configurations per pair: median "
          f"{int(pairs['n_configs'].median())}")
    summaries = {p: summarise(list(zip(per_shape["group"], per_shape[p]))) for p in pickers}
    print_scores("picker", list(summaries.items()))
    if args.spread:
        print()
        print(f"over the {len(args.models)} models directories, the geometric mean of each:")
        print(spread([summaries[m] for m in args.models]).to_markdown(
            floatfmt=("", ".0f", ".0f", ".3f", ".3f", ".3f")))
    if args.profile:
        print()
        print(profile(table, scores, args.profile).to_string())


def spread(summaries: list[pd.DataFrame]) -> pd.DataFrame:
    """Per suite group: shapes, and the min / median / max of the geometric means over
    ``summaries`` (``summarise`` tables, one per models directory, of the same shapes)."""
    geo = pd.concat([t["loss"] for t in summaries], axis=1)
    return pd.DataFrame({"shapes": summaries[0]["shapes"], "draws": len(summaries),
                         "min": geo.min(axis=1), "median": geo.median(axis=1),
                         "max": geo.max(axis=1)})


def profile(table: pd.DataFrame, scores: dict[str, dict[tuple[str, str], float]],
            pattern: str) -> pd.DataFrame:
    """Per shape matching ``pattern`` and configuration: datasets that timed it, the
    geometric mean over them of its time / that dataset's fastest of the shape, and each
    models directory's score (us). Index (suite, shape, config)."""
    recs = []
    sel = table[table["shape"].str.contains(pattern, regex=True)]
    for shape, d in sel.groupby("shape", sort=True):
        wide = d.pivot(index="config", columns="ds", values="wall_us")
        rel = wide / wide.min(axis=0)
        for config in sorted(wide.index, key=lambda c: (len(c), c)):
            v = rel.loc[config].dropna().to_numpy()
            recs.append({"suite": d["suite"].iloc[0], "shape": shape, "config": config,
                         "datasets": len(v),
                         "time / best": round(float(np.exp(np.log(v).mean())), 3),
                         **{m: round(float(s.get((shape, config), np.nan)), 1)
                            for m, s in scores.items()}})
    if not recs:
        sys.exit(f"no shape matches --profile {pattern!r}")
    return pd.DataFrame(recs).set_index(["suite", "shape", "config"])


if __name__ == "__main__":
    main()
