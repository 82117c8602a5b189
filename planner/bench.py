"""``latpred coexec bench``: how good are the planner's choices, measured.

Per layer of a suite (metric definitions: /work/shared/metrics.md, "Co-execution"):

- T_single: min(best measured CPU-only time over thread counts, best measured GPU-only
  time over impl x work-group (x memory mode)), end to end: dispatch, transfers, sync;
- T_oracle: the best measured co-execution time over the oracle grid (``planner.oracle``:
  split x CPU threads x GPU configuration, the GPU axis searched as "every configuration
  alone at that split, then the top-K of them in co-execution"), 0 and 1 included;
- T_plan: the measured time of the plan the planner chose from predictions alone;
- T_tuned (with a planner ``shortlist`` > 1): the fastest confirmed plan of the planner's
  shortlist, i.e. what ``planner.tune`` (measure the shortlist, keep the fastest) reaches.
  It is chosen and scored on the same confirmed medians, as T_oracle is.

With confirmation (default, ``confirm_top`` > 0), the finalists of each layer (the plan,
the grid's ``confirm_top`` fastest configurations, its best CPU-only and GPU-only ones)
are re-measured side by side, interleaved (``planner.confirm``), and T_plan, T_single and
T_oracle are the minima over those confirmed medians (T_oracle over every finalist, the
plan included: it is a point of the exhaustive grid too). The grid's own numbers stay in
the table (``*_grid_us``).

speedup_plan = T_single / T_plan, speedup_oracle = T_single / T_oracle, efficiency =
T_oracle / T_plan; geometric means over layers (efficiency in %).

A check of that metric's noise, not a replacement (``split_half``): T_oracle, a minimum
over the same medians that time it, is biased low, so the efficiency is biased low.
``efficiency_split_half`` chooses the oracle on the even confirmation rounds and times it
on the odd ones, and the other way round (``plan_vs_single_split_half`` likewise for
T_single): no winner's curse, but the configuration chosen on one half is not always the
best, so that efficiency is biased high. The true one lies between, in expectation.

Paired comparison (``compare``: name -> another planner, e.g. other predictors): each
variant's plan joins the finalists of the same confirmation rounds, so the variants are
scored on the same medians, within one run of the machine (``t_plan_<name>_us``,
``efficiency_<name>``, ...); T_oracle is the best of all finalists, theirs included.

Writes ``bench.csv``,
``bench.parquet``, ``bench.png`` (bar plot) and ``summary.json`` into the output directory;
the grid measurements go to ``OUT/grid``, the plan measurements to ``OUT/plans`` and the
confirmations to ``OUT/confirm`` (resumable datasets).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from latpred.datasets.store import DatasetWriter, load
from latpred.planner.confirm import ConfirmPolicy, confirm_layer
from latpred.planner.oracle import (
    BACKEND_SIDES,
    GridConfig,
    LayerItem,
    OracleGrid,
    breakdown,
    describe_row,
    load_grid,
    plan_backend,
    plan_of_row,
    split_params,
    summarize,
)
from latpred.planner.planner import PlanChoice, Planner
from latpred.planner.runtime import Plan
from latpred.profiler.backends.opencl import OpenCLDevice

from latpred.errors import bad_value

log = logging.getLogger(__name__)

#: T_plan may exceed T_single by at most this fraction (the goal on the target hardware)
SLOWDOWN_TOLERANCE = 0.02


def geomean(x: Any) -> float:
    v = np.asarray(list(x), float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.exp(np.mean(np.log(v)))) if len(v) else math.nan


def measure_plans(choices: list[PlanChoice], items: list[LayerItem], gpu: OpenCLDevice,
                  grid: OracleGrid, out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Measure each chosen plan; returns layer -> row (``t_plan_source``: "grid" when the
    oracle grid measured the identical configuration, whose row is then reused, so plan
    and oracle are compared within one measurement; else "plans", a new row in the
    resumable dataset ``out_dir``)."""
    writer = DatasetWriter(out_dir, {"kind": "coexec_plans", "devices": grid.writer.meta["devices"]})
    stored: dict[str, dict[str, Any]] = {}
    if writer.done_keys():
        stored = {str(r["config_key"]): r for r in load(writer.path).to_dict("records")}
    out = {}
    try:
        for ch, item in zip(choices, items):
            plan = ch.plan
            backend = plan_backend(plan)
            row = grid._row(item, backend, plan.split_n, plan.gpu,
                            plan.cpu.threads if plan.cpu else None)
            key = row["config_key"]
            in_grid = grid._stored(item).get(key)
            if in_grid is not None and in_grid.get("status") == "ok":
                out[item.name] = {**in_grid, "t_plan_source": "grid"}  # same measurement
                continue
            if key in stored:
                out[item.name] = {**stored[key], "t_plan_source": "plans"}
                continue
            arrays = grid_arrays(item, grid)
            row.update(grid._measure(item, arrays, plan, BACKEND_SIDES[backend]))
            writer.append(row)
            out[item.name] = {**row, "t_plan_source": "plans"}
    finally:
        writer.close()
    return out


def grid_arrays(item: LayerItem, grid: OracleGrid) -> dict[str, np.ndarray]:
    problem = item.layer if hasattr(item.layer, "out_channels") else item.layer.gemm()
    return problem.arrays(np.random.default_rng(grid.cfg.seed))


def _finalists(grid_rows: pd.DataFrame, item: LayerItem, choice: PlanChoice, top: int,
               extra: Sequence[tuple[str, Plan]] = ()) -> list[tuple[str, Plan, str]]:
    """(backend, plan, role) of a layer's finalists: the plan ("plan"), the rest of its
    shortlist ("shortlist"), the compared variants' plans (``extra``: (name, plan) ->
    "plan:<name>"), the ``top`` fastest grid rows, the fastest CPU-only and GPU-only rows
    ("grid"); deduplicated, in that order."""
    from latpred.planner.split import layer_extent

    n = layer_extent(item.layer)
    ok = grid_rows[grid_rows["status"] == "ok"]
    # whole-layer plans only (a "gpu" row with split_n < n timed the GPU part alone)
    ok = ok[(ok["backend"] != "gpu") | (ok["split_n"] == n)].sort_values("total_us",
                                                                            kind="stable")
    picks = [ok.head(top)]
    picks.append(ok[ok["backend"] == "cpu"].head(1))
    picks.append(ok[(ok["backend"] == "gpu") & (ok["split_n"] == n)].head(1))
    out: list[tuple[str, Plan, str]] = [(plan_backend(choice.plan), choice.plan, "plan")]
    seen = {choice.plan.describe()}
    for p, _us in choice.shortlist:
        if p.describe() not in seen:
            seen.add(p.describe())
            out.append((plan_backend(p), p, "shortlist"))
    for name, p in extra:
        if p.describe() not in seen:
            seen.add(p.describe())
            out.append((plan_backend(p), p, f"plan:{name}"))
    for part in picks:
        for _, r in part.iterrows():
            p = plan_of_row(item.layer, r)
            if p.describe() not in seen:
                seen.add(p.describe())
                out.append((str(r["backend"]), p, "grid"))
    return out


def confirm_finalists(choices: list[PlanChoice], items: list[LayerItem], gpu: OpenCLDevice,
                      grid: OracleGrid, out_dir: str | os.PathLike, top: int,
                      policy: ConfirmPolicy,
                      extra: Sequence[Sequence[tuple[str, Plan]]] | None = None
                      ) -> pd.DataFrame:
    """Confirm every layer's finalists (resumable: a layer is stored whole, after its
    rounds); returns the confirmation rows of these layers (``finalist``: the role of
    ``_finalists``; ``plan_desc``: the plan's ``describe()``). ``extra``: per layer, the
    compared variants' (name, plan)."""
    grid_df = load_grid(grid.out_dir)
    writer = DatasetWriter(out_dir, {"kind": "coexec_confirm",
                                     "devices": grid.writer.meta["devices"]})
    stored: dict[str, dict[str, Any]] = {}
    if writer.done_keys():
        stored = {f"{r['layer']}|{r['config_key']}": r
                  for r in load(writer.path).to_dict("records")}
    rows = []
    try:
        for i_layer, (ch, item) in enumerate(zip(choices, items)):
            fin = _finalists(grid_df[grid_df["layer"] == item.name], item, ch, top,
                             extra[i_layer] if extra else ())
            base = []
            for backend, plan, _role in fin:
                r = grid._row(item, backend, plan.split_n, plan.gpu,
                              plan.cpu.threads if plan.cpu and backend != "gpu" else None)
                base.append(r)
            keys = [f"{item.name}|{r['config_key']}" for r in base]
            if all(k in stored for k in keys):
                got = [stored[k] for k in keys]
            else:
                arrays = grid_arrays(item, grid)
                res = confirm_layer(item.layer, arrays, [p for _, p, _r in fin], gpu, policy,
                                    grid.cfg.seed)
                got = []
                for r, m in zip(base, res):
                    sides = {k: m.pop(k) for k in ("cpu_us", "gpu_total_us", "even_us",
                                                   "odd_us") if k in m}
                    r = {**r, **m, "kernel_breakdown_us": json.dumps(sides)}
                    writer.append(r)
                    got.append(r)
            for i, r in enumerate(got):
                split, gparams = split_params(str(r["params"]))
                rows.append({**r, **_halves(r), "split_n": int(split or 0),
                             "gpu_params": gparams, "finalist": fin[i][2],
                             "plan_desc": fin[i][1].describe()})
    finally:
        writer.close()
    return pd.DataFrame(rows)


def _halves(row: dict[str, Any]) -> dict[str, float]:
    """A confirmation row's ``even_us`` / ``odd_us`` (from its ``kernel_breakdown_us``
    JSON; NaN where the rounds predate them)."""
    d = breakdown(str(row.get("kernel_breakdown_us") or ""))
    return {k: float(d[k]) if d.get(k) is not None else math.nan for k in ("even_us", "odd_us")}


def split_half(c: pd.DataFrame, plan: pd.Series, single: pd.DataFrame) -> dict[str, float]:
    """The layer's efficiency and T_plan / T_single with the oracle (and the best single
    device plan) chosen on one half of the confirmation rounds and timed on the other:
    geometric means over the two ways round. ``c``: the layer's ok confirmation rows with
    ``even_us`` / ``odd_us``; ``plan``: the plan's row; ``single``: the single-device rows.
    NaN where a half is missing. T_oracle as the minimum over the same medians that time it
    is biased low (a near-tied finalist wins by noise: the efficiency biased low); chosen on
    the other half it is not, but it is not always the best finalist (the efficiency biased
    high): the two bracket the true efficiency, in expectation."""
    eff, vs_single = [], []
    for h, o in (("even_us", "odd_us"), ("odd_us", "even_us")):
        if not (np.isfinite(c[o]).all() and np.isfinite(c[h]).all()) or not len(single):
            return {"efficiency_split_half": math.nan, "plan_vs_single_split_half": math.nan}
        eff.append(c.loc[c[o].idxmin(), h] / plan[h])
        vs_single.append(plan[h] / single.loc[single[o].idxmin(), h])
    return {"efficiency_split_half": float(np.sqrt(eff[0] * eff[1])),
            "plan_vs_single_split_half": float(np.sqrt(vs_single[0] * vs_single[1]))}


def run_bench(planner: Planner, items: list[LayerItem], gpu: OpenCLDevice,
              grid_cfg: GridConfig, out_dir: str | os.PathLike,
              progress: bool = False, confirm_top: int = 4,
              confirm_policy: ConfirmPolicy | None = None,
              compare: Mapping[str, Planner] | None = None,
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Plan, measure the oracle grid and the plans, confirm the finalists; returns (per-layer
    table, summary). ``confirm_top=0``: no confirmation (grid numbers only). ``compare``:
    name -> planner whose plans are confirmed beside (needs ``confirm_top`` > 0)."""
    compare = dict(compare or {})
    if compare and confirm_top <= 0:
        raise bad_value("confirm-top", confirm_top, "a paired comparison needs confirmation "
                        "rounds (> 0)")
    out = Path(out_dir)
    layers = [(it.name, it.count, it.layer) for it in items]
    t0 = time.perf_counter()
    choices = planner.plan_layers(layers)
    plan_ms = (time.perf_counter() - t0) * 1e3
    alt = {name: p.plan_layers(layers) for name, p in compare.items()}
    extra = [[(name, alt[name][i].plan) for name in alt] for i in range(len(items))]
    grid = OracleGrid(gpu, grid_cfg, out / "grid", progress=progress)
    try:
        for it in items:
            grid.run_layer(it)
    finally:
        grid.writer.close()
    oracle = summarize(load_grid(out / "grid")).set_index("layer")
    measured = measure_plans(choices, items, gpu, grid, out / "plans")
    conf = None
    if confirm_top > 0:
        conf = confirm_finalists(choices, items, gpu, grid, out / "confirm", confirm_top,
                                 confirm_policy or ConfirmPolicy(), extra if alt else None)
    rows = []
    for i_layer, (ch, it) in enumerate(zip(choices, items)):
        m = measured.get(it.name, {})
        o = oracle.loc[it.name] if it.name in oracle.index else None
        t_plan = float(m["total_us"]) if m.get("status") == "ok" else math.nan
        t_single = float(o["t_single_us"]) if o is not None else math.nan
        t_oracle = float(o["t_oracle_us"]) if o is not None else math.nan
        row = {
            "layer": it.name, "count": it.count, "n_total": ch.plan.n_total,
            "plan_kind": ch.plan.kind, "plan_split_n": ch.plan.split_n,
            "plan_ratio": round(ch.plan.ratio, 4), "plan": ch.plan.describe(),
            "plan_status": m.get("status", "missing"),
            "t_plan_source": m.get("t_plan_source", ""),
            "predicted_plan_us": ch.plan_us, "predicted_single_us": ch.single_us,
            "t_plan_grid_us": t_plan, "t_single_grid_us": t_single,
            "t_oracle_grid_us": t_oracle,
            "single_kind": o["single_kind"] if o is not None else "",
            "oracle_ratio": float(o["oracle_ratio"]) if o is not None else math.nan,
            "oracle_config": o["oracle_config"] if o is not None else "",
            "confirmed": False, "n_shortlist": len(ch.shortlist),
            "t_tuned_us": math.nan, "tuned_config": "",
            "efficiency_split_half": math.nan, "plan_vs_single_split_half": math.nan,
        }
        if conf is not None and len(conf):
            c = conf[(conf["layer"] == it.name) & (conf["status"] == "ok")]
            pl = c[c["finalist"] == "plan"]
            single = c[(c["backend"] == "cpu")
                       | ((c["backend"] == "gpu") & (c["split_n"] == ch.plan.n_total))]
            if len(pl) and len(single):
                best = c.loc[c["total_us"].idxmin()]
                sb = single.loc[single["total_us"].idxmin()]
                t_plan, t_oracle = float(pl["total_us"].iloc[0]), float(best["total_us"])
                t_single = float(sb["total_us"])
                row.update(confirmed=True, single_kind=str(sb["backend"]),
                           oracle_config=describe_row(best),
                           oracle_ratio=float(best["split_n"]) / ch.plan.n_total)
                # measure-and-pick over the shortlist (planner.tune): its fastest finalist
                sl = c[c["finalist"].isin(["plan", "shortlist"])]
                tb = sl.loc[sl["total_us"].idxmin()]
                row.update(t_tuned_us=float(tb["total_us"]), tuned_config=describe_row(tb))
                row.update(split_half(c, pl.iloc[0], single))
                for name in alt:
                    row.update(_variant_row(name, alt[name][i_layer], ch, c))
        for name in alt:  # unconfirmed layers: the plan, no time
            if f"plan_{name}" not in row:
                row.update(_variant_row(name, alt[name][i_layer], ch, None))
        row.update({
            "t_plan_us": t_plan, "t_single_us": t_single, "t_oracle_us": t_oracle,
            "speedup_plan": t_single / t_plan, "speedup_oracle": t_single / t_oracle,
            "efficiency": t_oracle / t_plan,
            "slower_than_single": t_plan > (1 + SLOWDOWN_TOLERANCE) * t_single,
            "efficiency_tuned": t_oracle / row["t_tuned_us"],
            "tuned_slower_than_single":
                bool(row["t_tuned_us"] > (1 + SLOWDOWN_TOLERANCE) * t_single),
        })
        for name in alt:
            tv = row.get(f"t_plan_{name}_us", math.nan)
            row.update({f"efficiency_{name}": t_oracle / tv,
                        f"slower_than_single_{name}":
                            bool(tv > (1 + SLOWDOWN_TOLERANCE) * t_single)})
        rows.append(row)
    table = pd.DataFrame(rows)
    summary = summarize_bench(table)
    summary["planning_ms"] = plan_ms
    if alt:
        summary["compare"] = {name: _variant_summary(table, name) for name in alt}
    summary["confirmed_layers"] = int(table["confirmed"].sum()) if len(table) else 0
    return table, summary


def _variant_row(name: str, vc: PlanChoice, ch: PlanChoice, conf: pd.DataFrame | None
                 ) -> dict[str, Any]:
    """A compared variant's columns of a layer's row: its plan, prediction, confirmed time
    (its finalist's median in ``conf``, the layer's ok confirmation rows; NaN without) and
    whether it is the main plan."""
    desc = vc.plan.describe()
    hit = conf[conf["plan_desc"] == desc] if conf is not None else conf
    return {f"plan_{name}": desc, f"predicted_plan_{name}_us": vc.plan_us,
            f"t_plan_{name}_us":
                float(hit["total_us"].iloc[0]) if hit is not None and len(hit) else math.nan,
            f"same_plan_{name}": desc == ch.plan.describe()}


def _variant_summary(table: pd.DataFrame, name: str) -> dict[str, Any]:
    """A compared variant's geometric means over the layers both it and the main plan
    have a confirmed time for, next to the main plan's over the same layers."""
    t = table[np.isfinite(table[f"t_plan_{name}_us"]) & np.isfinite(table["t_plan_us"])
              & np.isfinite(table["t_oracle_us"])]
    tv = t[f"t_plan_{name}_us"]
    return {"layers": int(len(t)),
            "same_plan_layers": int(t[f"same_plan_{name}"].sum()),
            "efficiency_geomean_pct": 100 * geomean(t[f"efficiency_{name}"]),
            "main_efficiency_geomean_pct": 100 * geomean(t["efficiency"]),
            "speedup_plan_geomean": geomean(t["t_single_us"] / tv),
            "layers_slower_than_single": int(t[f"slower_than_single_{name}"].sum()),
            "worst_plan_vs_single": float((tv / t["t_single_us"]).max())
            if len(t) else math.nan,
            "network_plan_us": float((t["count"].astype(float) * tv).sum())}


def summarize_bench(table: pd.DataFrame) -> dict[str, Any]:
    """Geometric means over layers and count-weighted network totals."""
    ok = table[np.isfinite(table["t_plan_us"]) & np.isfinite(table["t_oracle_us"])]
    w = ok["count"].astype(float)
    return {
        "layers": int(len(table)), "layers_measured": int(len(ok)),
        "speedup_plan_geomean": geomean(ok["speedup_plan"]),
        "speedup_oracle_geomean": geomean(ok["speedup_oracle"]),
        "efficiency_geomean_pct": 100 * geomean(ok["efficiency"]),
        "layers_slower_than_single": int(ok["slower_than_single"].sum()),
        "worst_plan_vs_single": float((ok["t_plan_us"] / ok["t_single_us"]).max())
        if len(ok) else math.nan,
        "network_single_us": float((w * ok["t_single_us"]).sum()),
        "network_plan_us": float((w * ok["t_plan_us"]).sum()),
        "network_oracle_us": float((w * ok["t_oracle_us"]).sum()),
        **_tuned_summary(ok),
        **_split_half_summary(ok),
    }


def _split_half_summary(ok: pd.DataFrame) -> dict[str, Any]:
    """The split-half columns' summary (layers whose rounds kept both halves)."""
    if "efficiency_split_half" not in ok:
        return {}
    t = ok[np.isfinite(ok["efficiency_split_half"])]
    if not len(t):
        return {"split_half_layers": 0}
    return {"split_half_layers": int(len(t)),
            "efficiency_split_half_geomean_pct": 100 * geomean(t["efficiency_split_half"]),
            "layers_slower_than_single_split_half":
                int((t["plan_vs_single_split_half"] > 1 + SLOWDOWN_TOLERANCE).sum())}


def _tuned_summary(ok: pd.DataFrame) -> dict[str, Any]:
    """The measure-and-pick columns' summary (layers whose shortlist was confirmed)."""
    if "t_tuned_us" not in ok:
        return {}
    t = ok[np.isfinite(ok["t_tuned_us"])]
    if not len(t):
        return {"tuned_layers": 0}
    return {"tuned_layers": int(len(t)),
            "shortlist_mean": float(t["n_shortlist"].mean()),
            "efficiency_tuned_geomean_pct": 100 * geomean(t["efficiency_tuned"]),
            "layers_tuned_slower_than_single": int(t["tuned_slower_than_single"].sum()),
            "worst_tuned_vs_single": float((t["t_tuned_us"] / t["t_single_us"]).max())}


def write_outputs(table: pd.DataFrame, summary: dict[str, Any], out_dir: str | os.PathLike,
                  title: str) -> list[Path]:
    """bench.csv, bench.parquet, summary.json and bench.png into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bench.csv", out / "bench.parquet", out / "summary.json", out / "bench.png"]
    table.to_csv(paths[0], index=False)
    table.to_parquet(paths[1], index=False)
    paths[2].write_text(json.dumps(summary, indent=1, default=float))
    plot(table, paths[3], title)
    return paths


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    """Grouped bars per layer: speedup of the plan and of the oracle over T_single."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(table)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * n + 2), 4.0))
    x = np.arange(n)
    ax.bar(x - 0.2, table["speedup_oracle"], 0.4, label="oracle (T_single / T_oracle)",
           color="#9ecae1")
    ax.bar(x + 0.2, table["speedup_plan"], 0.4, label="plan (T_single / T_plan)",
           color="#3182bd")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(1.0 - SLOWDOWN_TOLERANCE, color="r", lw=0.6, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(table["layer"], rotation=75, fontsize=7)
    ax.set_ylabel("speedup over best single device")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_table(table: pd.DataFrame, summary: dict[str, Any]) -> str:
    """The per-layer table and the summary lines, for the terminal."""
    lines = [f"{'layer':24s} {'plan':>10s} {'T_plan':>10s} {'T_single':>10s} "
             f"{'T_oracle':>10s} {'sp_plan':>7s} {'sp_orac':>7s} {'eff%':>6s}"]
    for _, r in table.iterrows():
        kind = r["plan_kind"] if r["plan_kind"] != "split" else f"split {r['plan_ratio']:.2f}"
        lines.append(f"{str(r['layer'])[:24]:24s} {kind:>10s} {r['t_plan_us']:10.1f} "
                     f"{r['t_single_us']:10.1f} {r['t_oracle_us']:10.1f} "
                     f"{r['speedup_plan']:7.3f} {r['speedup_oracle']:7.3f} "
                     f"{100 * r['efficiency']:6.1f}{'  SLOWER' if r['slower_than_single'] else ''}")
    s = summary
    lines.append(f"geomean over {s['layers_measured']} layers: speedup_plan "
                 f"{s['speedup_plan_geomean']:.3f}x, speedup_oracle "
                 f"{s['speedup_oracle_geomean']:.3f}x, efficiency "
                 f"{s['efficiency_geomean_pct']:.1f}% (T_oracle / T_plan)")
    lines.append(f"layers > {100 * SLOWDOWN_TOLERANCE:.0f}% slower than T_single: "
                 f"{s['layers_slower_than_single']} (worst T_plan/T_single "
                 f"{s['worst_plan_vs_single']:.3f})")
    if s.get("tuned_layers"):
        lines.append(f"measure-and-pick over the planner's shortlist (mean "
                     f"{s['shortlist_mean']:.1f} plans, {s['tuned_layers']} layers): "
                     f"efficiency {s['efficiency_tuned_geomean_pct']:.1f}%, "
                     f"{s['layers_tuned_slower_than_single']} layers > "
                     f"{100 * SLOWDOWN_TOLERANCE:.0f}% slower than T_single (worst "
                     f"{s['worst_tuned_vs_single']:.3f})")
    if s.get("split_half_layers"):
        lines.append(f"split-half check ({s['split_half_layers']} layers; T_oracle chosen on "
                     f"one half of the rounds, timed on the other): efficiency "
                     f"{s['efficiency_split_half_geomean_pct']:.1f}%, "
                     f"{s['layers_slower_than_single_split_half']} layers > "
                     f"{100 * SLOWDOWN_TOLERANCE:.0f}% slower than T_single")
    for name, v in s.get("compare", {}).items():
        lines.append(f"compared {name}: efficiency {v['efficiency_geomean_pct']:.1f}% "
                     f"(main plan {v['main_efficiency_geomean_pct']:.1f}% on the same "
                     f"{v['layers']} layers), {v['layers_slower_than_single']} layers > "
                     f"{100 * SLOWDOWN_TOLERANCE:.0f}% slower than T_single, same plan as the "
                     f"main one on {v['same_plan_layers']}")
    if s["network_single_us"] > 0:
        lines.append(f"network (count-weighted): single {s['network_single_us']:.0f} us, "
                     f"plan {s['network_plan_us']:.0f} us, oracle "
                     f"{s['network_oracle_us']:.0f} us")
    return "\n".join(lines)
