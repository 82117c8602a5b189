"""How well CPU predictors pick a BLAS thread count, scored on runtime measurements.

    python scripts/thread_choice.py --models DIR [--models DIR2 ...] [--grid PATH ...] [--factors]
        [--measured NAME=DATA[,DATA...] ...] [--size-split US] [--fewer-threads EPS ...]
        [--held-out-ranking]

The single-device CPU rows of the committed co-execution grids and confirmation rounds
(``planner.calibrate.runtime_rows``: the geometric median per layer shape and thread count)
are the runtime's own timings of every thread count the benches tried. Per layer shape with
all of the benches' thread counts (4, 8, 12, 15, 16), each predictor picks the count it
predicts fastest; the score is the measured time of that pick over the measured best
(geometric mean, and the share of shapes within 2 %), by suite group: the development
suites, session 7's networks, session 9's (googlenet apart: added after the BLAS thread-grid
features were designed on densenet121). Fixed thread counts are the baselines. A
development guide (grid medians are single quick timings), not a bench result.
``--factors``: also each models directory's predictions times its sync.json's factors per
thread count (``SyncModel.cpu_factor`` at the layer's FLOPs): the planner's ranking of
CPU-only plans. ``--measured NAME=DATA``: a picker that reads the profiler dataset DATA's own
times (forward CPU rows) instead of predicting: how well that way of measuring ranks thread
counts for the runtime; every picker is then scored on the shapes every such dataset holds.
``--size-split US``: each group split by the shape's fastest runtime time, below / from US.
``--fewer-threads EPS``: a prior on top of each predictor (and its x factors ranking): the
fewest threads among the counts predicted within (1 + EPS) x the best.
``--held-out-ranking``: also each predictor times a relative correction
(``RuntimeCalibrated(relative=True)``, XGBoost, 100 trees) fitted on the runtime rows of every
other suite group and scored on the group left out: what the runtime's own timings of other
networks teach about a new network's thread counts.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.store import load
from latpred.planner.calibrate import runtime_rows
from latpred.planner.cli import load_models
from latpred.planner.oracle import load_grid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_table import (  # noqa: E402
    ALL,
    MORE40,
    MORE44,
    UNSEEN,
    UNSEEN27,
    UNSEEN28,
    UNSEEN31,
    UNSEEN32,
    UNSEEN35,
    UNSEEN40,
    UNSEEN42,
    UNSEEN44,
)

DEV = set(ALL)  # the development suites
#: suite group of the networks benched after development (scripts/make_suites.py); the
#: rest of those, session 9's, are "session 9"
NEVER_SEEN = {**{s: "session 7" for s in UNSEEN}, "googlenet": "session 9, googlenet",
              **{s: "session 27" for s in UNSEEN27}, **{s: "session 28" for s in UNSEEN28},
              **{s: "session 31" for s in UNSEEN31}, **{s: "session 32" for s in UNSEEN32},
              **{s: "session 35" for s in UNSEEN35}, **{s: "session 40" for s in UNSEEN40 + MORE40},
              **{s: "session 42" for s in UNSEEN42}, **{s: "session 44" for s in UNSEEN44 + MORE44}}
SHAPE = ("op", "m", "n", "k", "in_channels", "out_channels", "height", "width", "kernel_h",
         "stride", "groups")


def group(suite: str) -> str:
    return "development" if suite in DEV else NEVER_SEEN.get(suite, "session 9")


def shape_keys(frame: pd.DataFrame) -> list[str]:
    """One string per row naming its layer shape (the SHAPE columns, missing ones -1)."""
    cols = [frame["op"].astype(str)] + [
        pd.to_numeric(frame[c], errors="coerce").fillna(-1).astype(np.int64) for c in SHAPE[1:]]
    return ["|".join(map(str, t)) for t in zip(*cols)]


def measured_picker(spec: str, rows: pd.DataFrame) -> tuple[str, np.ndarray]:
    """(NAME, times (len(rows),), NaN where DATA lacks the shape and thread count) of a
    ``NAME=DATA[,DATA...]`` argument."""
    name, _, paths = spec.partition("=")
    data = load(paths.split(","))
    data = data[(data["status"] == "ok") & (data["backend"] == "cpu")
                & (data["pass"].fillna("forward") == "forward")]
    at = pd.Series(data["total_us"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [shape_keys(data), data["threads"].astype(int).to_numpy()]))
    at = at.groupby(level=[0, 1]).min()
    idx = pd.MultiIndex.from_arrays([rows["shape"], rows["threads"]])
    return name, at.reindex(idx).to_numpy(np.float64)


def fewest_threads(df: pd.DataFrame, col: str, eps: float) -> np.ndarray:
    """A picker's column, shape (len(df),): per shape, the row with the fewest threads among
    those whose ``col`` is within (1 + eps) x the shape's smallest is smallest (ties in
    threads: the smaller ``col``); the others inf."""
    best = df.groupby("shape")[col].transform("min").to_numpy()
    v = df[col].to_numpy(np.float64)
    near = v <= best * (1.0 + eps)
    return np.where(near, df["threads"].to_numpy(np.float64) + 1e-9 * v / best, np.inf)


def score(rows: pd.DataFrame, col: str, size_split: float | None = None) -> pd.DataFrame:
    """Per suite group: shapes, geometric-mean loss of ``col``'s pick, share within 2 %."""
    out = []
    for _key, d in rows.groupby("shape", sort=False):
        if d["threads"].nunique() < 5:
            continue
        y = d["y_us"].to_numpy()
        g = group(d["suite"].iloc[0])
        if size_split is not None:
            g += f" {'<' if y.min() < size_split else '>='} {size_split:g} us"
        out.append((g, y[np.argmin(d[col].to_numpy())] / y.min()))
    return summarise(out)


def summarise(picks: list[tuple[str, float]]) -> pd.DataFrame:
    """(group, measured pick / best) pairs -> per group: shapes, geometric mean, share
    within 2 %."""
    s = pd.DataFrame(picks, columns=["group", "loss"])
    return s.groupby("group")["loss"].agg(
        shapes="size", loss=lambda v: float(np.exp(np.log(v).mean())),
        within_2pct=lambda v: float((v <= 1.02).mean()))


def runtime_inputs(models: list[str], grids: list[str] | None, target: str
                   ) -> tuple[dict[str, tuple], list, object, list[pd.DataFrame]]:
    """(each models directory loaded, the datasets read, their ``runtime_rows`` of
    ``target`` for the first directory's devices, the datasets' frames); ``grids`` None:
    every grid / confirm dataset under datasets/h100/coexec."""
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    root = Path("datasets/h100/coexec")
    paths = grids or sorted({*root.rglob("grid"), *root.rglob("confirm")})
    loaded = {d: load_models(d) for d in models}
    _p, gpu, cpu, _s = loaded[models[0]]
    frames = [load_grid(p) for p in paths]
    return loaded, paths, runtime_rows(frames, gpu, cpu)[target], frames


def cpu_factors(sync: object, threads: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """``sync.cpu_factor`` of each row, shape (n,): rows of thread counts ``threads`` (n,)
    on layers of ``flops`` (n,), one call per distinct FLOPs."""
    fac = np.ones(len(threads))
    for f in np.unique(flops):
        at = flops == f
        fac[at] = sync.cpu_factor(threads[at], float(f))
    return fac


def held_out_ranking(base: object, X: pd.DataFrame, df: pd.DataFrame) -> np.ndarray:
    """``base``'s predictions of X's rows times a relative correction fitted, per suite group,
    on the other groups' rows (groups: ``df["shape"]``; times: ``df["y_us"]``), shape (n,)."""
    from latpred.models.calibrated import RuntimeCalibrated

    grp = np.array([group(s) for s in df["suite"]])
    out = np.full(len(df), np.nan)
    for g in np.unique(grp):
        tr = grp != g
        model = RuntimeCalibrated(base, relative=True, model_type="xgboost", n_estimators=100,
                                  learning_rate=0.1).fit(
            X[tr], df["y_us"].to_numpy()[tr], groups=df["shape"].to_numpy()[tr])
        out[~tr] = model.predict(X[~tr])
    return out


def add_runtime_args(ap: argparse.ArgumentParser) -> None:
    """The options ``runtime_inputs`` reads: --models (repeatable, one or more DIRs each) and
    --grid."""
    ap.add_argument("--models", action="extend", nargs="+", required=True, metavar="DIR")
    ap.add_argument("--grid", action="append", metavar="PATH",
                    help="grid / confirm datasets (default: every one under "
                         "datasets/h100/coexec)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runtime_args(ap)
    ap.add_argument("--factors", action="store_true",
                    help="also score the predictions times sync.json's CPU factors")
    ap.add_argument("--measured", action="append", default=[], metavar="NAME=DATA",
                    help="a picker reading a profiler dataset's own times (repeatable)")
    ap.add_argument("--fewer-threads", type=float, action="append", default=[], metavar="EPS",
                    help="also a picker per predictor taking the fewest threads among the "
                         "counts predicted within (1 + EPS) x its best (repeatable)")
    ap.add_argument("--size-split", type=float, default=None, metavar="US",
                    help="split each group at this fastest runtime time (us)")
    ap.add_argument("--held-out-ranking", action="store_true",
                    help="also each predictor with a relative correction fitted on the other "
                         "suite groups' runtime rows, scored on the group left out")
    args = ap.parse_args()
    loaded, paths, rows, _frames = runtime_inputs(args.models, args.grid, "cpu_us")
    X = rows.X
    df = pd.DataFrame({"suite": rows.suite, "y_us": rows.y_us,
                       "threads": X["threads"].astype(int).to_numpy(),
                       "shape": shape_keys(X)})
    cols = []
    flops = X["flops"].to_numpy(np.float64)
    for d in args.models:
        df[d] = loaded[d][0].models["cpu_us"].predict(X)
        cols.append(d)
        if args.factors:
            fac = cpu_factors(loaded[d][3], df["threads"].to_numpy(), flops)
            df[f"{d} x factors"] = df[d] * fac
            cols.append(f"{d} x factors")
        if args.held_out_ranking:
            df[f"{d}, ranking from the other groups"] = held_out_ranking(
                loaded[d][0].models["cpu_us"], X.reset_index(drop=True), df)
            cols.append(f"{d}, ranking from the other groups")
    for eps in args.fewer_threads:  # a prior: the fewest threads among near-ties
        for d in list(cols):  # the predictors and their x factors rankings, so far
            name = f"{d}, fewest threads within {100 * eps:g} %"
            df[name] = fewest_threads(df, d, eps)
            cols.append(name)
    for spec in args.measured:
        name, times = measured_picker(spec, df)
        df[name] = times
        cols.append(name)
        held = df.groupby("shape")[name].transform(lambda v: v.notna().all())
        df = df[held.to_numpy(bool)]
    for t in (4, 8, 12, 15, 16):
        df[f"always {t} threads"] = -(df["threads"] == t).astype(float)
        cols.append(f"always {t} threads")
    print(f"{len(df)} runtime CPU rows from {len(paths)} datasets"
          + (" (the shapes every --measured dataset holds)" if args.measured else ""))
    print_scores("picker", [(c, score(df, c, args.size_split)) for c in cols])


def print_scores(head: str, scores: list[tuple[str, pd.DataFrame]]) -> None:
    """A markdown table of (name, ``summarise`` table) pairs; ``head``: the first column's."""
    print(f"| {head} | suites | shapes | measured pick / best (geomean) | within 2 % |")
    print("|---|---|---:|---:|---:|")
    for c, table in scores:
        for g, r in table.iterrows():
            print(f"| {c} | {g} | {int(r.shapes)} | {r.loss:.3f} | {100 * r.within_2pct:.0f} % |")


if __name__ == "__main__":
    main()
