"""Replay the planner against measured co-execution benches, with no device.

    python scripts/replay_bench.py --models DIR [--shortlist 4] [--bench datasets/h100/coexec]
        [--measured datasets/h100/conv --measured datasets/h100/conv_cpu_live ...]

For every suite directory under ``--bench`` (``bench.csv`` + ``grid/`` + ``confirm/`` from
``latpred coexec bench``), plans each layer with the predictors in ``--models`` on the
bench's candidate space (its thread counts and work-group limit) and looks the chosen plan
(and its shortlist) up in the measurements: the confirmed median where the plan was a
finalist, else the grid's single quick median. T_oracle and T_single are the bench's
confirmed ones. A plan the bench never measured counts as missing. This is a development
guide to compare planner policies and models, not a benchmark result: grid medians are
noisier than confirmed ones, and the replayed plans were not measured side by side.

``--grid-best``: each layer's fastest plan in its oracle grid instead of the planner's
(how far an exhaustive measurement from the grid's session gets in the bench's session).
``--measured DATA``: the predictors answer with the profiler's own measurement of a row
(same shape and configuration, forward pass) where DATA has one: the ceiling of any model
trained on those measurements, when the bench ran in another session than the sweep.
``--scale TARGET=F``: a predictor's answers times F (a per-session calibration of one side,
as ``scripts/session_drift.py`` measures the sides' shifts; repeatable).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.suites import suite_layers
from latpred.planner.bench import SLOWDOWN_TOLERANCE, geomean
from latpred.planner.cli import load_models
from latpred.planner.oracle import load_grid, plan_of_row
from latpred.planner.planner import Planner, PlannerOptions
from latpred.planner.predictors import Predictors
from latpred.planner.split import layer_extent

#: columns naming a configuration besides its shape (``datasets.schema.shape_id``)
_CONFIG = ("backend", "impl", "params", "local_size", "threads", "mem_mode")


def _keys(df: pd.DataFrame) -> pd.Series:
    from latpred.datasets.schema import shape_id

    key = shape_id(df)
    for c in _CONFIG:
        v = df[c]
        if c == "threads":
            v = pd.to_numeric(v, errors="coerce").astype("Int64")
        key = key + "|" + v.astype("string").fillna("")
    return key


class Measured:
    """A predictor that answers with the profiler's own measurement (``total_us``) of a
    (shape, configuration) where a dataset holds one, else with ``model``: how far
    perfect knowledge of the training measurements would get the planner."""

    def __init__(self, model: object, measured: pd.DataFrame):
        self.model = model
        ok = measured[measured["status"] == "ok"]
        self.table = pd.Series(ok["total_us"].astype(float).to_numpy(), index=_keys(ok))
        self.table = self.table[~self.table.index.duplicated()]
        self.hits = self.rows = 0

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        got = self.table.reindex(_keys(df)).to_numpy(dtype=float)
        hit = np.isfinite(got)
        self.hits += int(hit.sum())
        self.rows += len(got)
        return np.where(hit, got, self.model.predict(df))

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(df)
        return p, p


class Scaled:
    """A predictor's answers times ``factor``."""

    def __init__(self, model: object, factor: float):
        self.model, self.factor = model, factor

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return self.factor * np.asarray(self.model.predict(df), float)

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.model.predict_interval(df)
        return self.factor * np.asarray(lo, float), self.factor * np.asarray(hi, float)


def parse_scales(texts: list[str], targets: list[str]) -> dict[str, float]:
    """``["cpu_us=0.95"]`` -> {"cpu_us": 0.95}; a clear error for a bad entry."""
    out = {}
    for text in texts:
        target, _, value = text.partition("=")
        if target not in targets:
            raise SystemExit(f"--scale {text}: target must be one of {', '.join(targets)}")
        try:
            out[target] = float(value)
        except ValueError:
            raise SystemExit(f"--scale {text}: factor must be a number") from None
        if not out[target] > 0:
            raise SystemExit(f"--scale {text}: factor must be > 0")
    return out


def grid_dir(suite_dir: Path, grid_root: Path) -> Path:
    """A bench's oracle grid: its own, or (a bench stored without it) the one it reused
    unchanged from ``grid_root``: ``<suite>/grid`` there, else the first
    ``**/<suite>/grid`` (as ``scripts/device_coexec.sh``'s REUSE_GRID finds it)."""
    grid = suite_dir / "grid"
    if grid.is_dir():
        return grid
    top = grid_root / suite_dir.name / "grid"
    if top.is_dir():
        return top
    found = sorted(str(p) for p in grid_root.glob(f"**/{suite_dir.name}/grid") if p.is_dir())
    return Path(found[0]) if found else top


def whole_layer_plans(df: pd.DataFrame, layers: dict) -> Iterator[tuple[str, str, float]]:
    """(layer, plan description, total_us) of the "ok" rows of a grid or confirmation
    dataset that time a whole plan of one of ``layers``, in the frame's order (a "gpu" row
    below the full split timed the GPU part of a split alone: left out)."""
    for r in df[df["status"] == "ok"].to_dict("records"):
        layer = layers.get(r["layer"])
        if layer is None:
            continue
        if r["backend"] == "gpu" and int(r["split_n"] or 0) != layer_extent(layer):
            continue
        yield r["layer"], plan_of_row(layer, r).describe(), float(r["total_us"])


def measured_times(suite_dir: Path, layers: dict, grid_root: Path
                   ) -> dict[str, dict[str, float]]:
    """layer -> plan description -> measured total_us (confirmed medians win over grid's)."""
    out: dict[str, dict[str, float]] = {}
    # confirmation rows are grid rows re-measured (same params with "_split_n"); read
    # second, they overwrite
    for src in (load_grid(grid_dir(suite_dir, grid_root)), load_grid(suite_dir / "confirm")):
        for name, plan, us in whole_layer_plans(src, layers):
            out.setdefault(name, {})[plan] = us
    return out


def grid_best(suite_dir: Path, layers: dict, grid_root: Path) -> dict[str, str]:
    """layer -> description of its fastest whole-layer plan in the oracle grid (the grid's
    quick medians, measured in the session that built the grid)."""
    grid = load_grid(grid_dir(suite_dir, grid_root)).sort_values("total_us", kind="stable")
    out: dict[str, str] = {}
    for name, plan, _us in whole_layer_plans(grid, layers):
        out.setdefault(name, plan)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--bench", default="datasets/h100/coexec")
    ap.add_argument("--grid-root", default="datasets/h100/coexec",
                    help="where a bench without grid/ finds its suite's grid")
    ap.add_argument("--shortlist", type=int, default=4)
    ap.add_argument("--threads", default="4,8,12,15,16", help="the bench's thread counts")
    ap.add_argument("--max-local-sizes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--risk", default="none")
    ap.add_argument("--margin", type=float, default=PlannerOptions.margin,
                    help="split margin (fraction)")
    ap.add_argument("--shortlist-tol", type=float, default=PlannerOptions.shortlist_tol)
    ap.add_argument("--thread-gap", type=float, default=PlannerOptions.thread_gap)
    ap.add_argument("--measured", action="append", default=[], metavar="DATA",
                    help="answer with these datasets' measurements where they have the row "
                         "(forward pass), the models elsewhere (repeatable)")
    ap.add_argument("--grid-best", action="store_true",
                    help="instead of planning, take each layer's fastest plan in the oracle "
                         "grid (an exhaustive measurement from the grid's session)")
    ap.add_argument("--rows", metavar="CSV", help="write the per-layer replay rows here")
    ap.add_argument("--scale", action="append", default=[], metavar="TARGET=F",
                    help="multiply a predictor's answers by F, e.g. cpu_us=0.95 (repeatable)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    preds, gpu, cpu, sync = load_models(args.models)
    scales = parse_scales(args.scale, sorted(preds.models))
    measured: dict[str, Measured] = {}
    if args.measured:
        from latpred.datasets import load

        data = load(args.measured)
        data = data[data["pass"].astype("string").fillna("forward") == "forward"]
        measured = {t: Measured(m, data) for t, m in preds.models.items()}
        preds = Predictors(dict(measured), preds.devices,
                           f"{args.models} + measurements of {', '.join(args.measured)}")
    if scales:
        preds = Predictors({t: Scaled(m, scales[t]) if t in scales else m
                            for t, m in preds.models.items()}, preds.devices,
                           f"{preds.source} scaled {scales}")
    opts = PlannerOptions(steps=args.steps, risk=args.risk, margin=args.margin,
                          cpu_threads=tuple(int(t) for t in args.threads.split(",")),
                          max_local_sizes=args.max_local_sizes, shortlist=args.shortlist,
                          shortlist_tol=args.shortlist_tol, thread_gap=args.thread_gap)
    planner = Planner(preds, gpu, cpu, sync, opts)
    rows = []
    for d in sorted(p for p in Path(args.bench).iterdir() if (p / "bench.csv").exists()):
        items = suite_layers(d.name)
        layers = {name: layer for name, _c, layer in items}
        bench = pd.read_csv(d / "bench.csv").set_index("layer")
        times = measured_times(d, layers, Path(args.grid_root))
        best = grid_best(d, layers, Path(args.grid_root)) if args.grid_best else {}
        for ch in planner.plan_layers(items):
            t = times.get(ch.name, {})
            b = bench.loc[ch.name]
            descs = [best.get(ch.name, "")] if args.grid_best else \
                [p.describe() for p, _us in ch.shortlist]
            short = [t.get(p, np.nan) for p in descs]
            rows.append({"suite": d.name, "layer": ch.name, "plan": descs[0],
                         "t_plan_us": short[0], "t_short_us": np.nanmin(short)
                         if np.isfinite(short).any() else np.nan,
                         "n_short": len(short), "t_oracle_us": b["t_oracle_us"],
                         "t_single_us": b["t_single_us"]})
    df = pd.DataFrame(rows)
    if args.rows:
        df.to_csv(args.rows, index=False)
    for target, m in measured.items():  # their counts (a --scale wrapper has none)
        print(f"{target}: {m.hits} of {m.rows} predicted rows answered by a measurement")
    print(f"replayed {len(df)} layers; models {args.models}; shortlist {args.shortlist} "
          f"(tol {args.shortlist_tol}, thread gap {args.thread_gap})")
    print(f"{'suite':20s} {'layers':>6s} {'found':>5s} {'eff plan':>8s} {'slower':>6s} "
          f"{'eff short':>9s} {'slower':>6s}")
    for suite, g in list(df.groupby("suite")) + [("all", df)]:
        found = g[np.isfinite(g["t_plan_us"])]
        eff = np.minimum(found["t_oracle_us"] / found["t_plan_us"], 1.0)
        effs = np.minimum(g["t_oracle_us"] / g["t_short_us"], 1.0)
        slow = (found["t_plan_us"] > (1 + SLOWDOWN_TOLERANCE) * found["t_single_us"]).sum()
        slows = (g["t_short_us"] > (1 + SLOWDOWN_TOLERANCE) * g["t_single_us"]).sum()
        print(f"{suite:20s} {len(g):6d} {len(found):5d} {100 * geomean(eff):7.1f}% {slow:6d} "
              f"{100 * geomean(effs):8.1f}% {slows:6d}")


if __name__ == "__main__":
    main()
