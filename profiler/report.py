"""Dataset report: the tables BENCHMARKS.md quotes, computed from a profile dataset.

    python -m latpred.profiler.report --data datasets/h100/linear [--markdown]

- noise floor: median coefficient of variation of kernel, dispatch and CPU times;
- work-group spread: per shape and implementation, slowest / fastest kernel time over
  work-group sizes (and over implementations x work-groups);
- best implementation by shape class;
- kernel vs dispatch vs transfer share of the end-to-end GPU time (best config per shape);
- CPU scaling: best BLAS time per thread count relative to one thread.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from latpred.datasets.schema import shape_id
from latpred.datasets.store import load


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    out = df[df["status"] == "ok"].copy()
    out["shape"] = shape_id(out)
    return out


def noise_floor(df: pd.DataFrame) -> pd.DataFrame:
    """Median CV (%) of kernel, dispatch and total time, by backend."""
    ok = ok_rows(df)
    rows = []
    gpu = ok[ok["backend"] == "gpu"]
    if not gpu.empty:
        rows.append({"what": "GPU kernel_us", "median_cv_pct": 100 * gpu["kernel_cv"].median(),
                     "p90_cv_pct": 100 * gpu["kernel_cv"].quantile(0.9), "rows": len(gpu)})
        rows.append({"what": "GPU dispatch_us", "median_cv_pct": 100 * gpu["dispatch_cv"].median(),
                     "p90_cv_pct": 100 * gpu["dispatch_cv"].quantile(0.9), "rows": len(gpu)})
        rows.append({"what": "GPU total_us", "median_cv_pct": 100 * gpu["cv"].median(),
                     "p90_cv_pct": 100 * gpu["cv"].quantile(0.9), "rows": len(gpu)})
    for name, grp in ok[ok["backend"] == "cpu"].groupby("platform"):
        rows.append({"what": f"CPU total_us ({name})", "median_cv_pct": 100 * grp["cv"].median(),
                     "p90_cv_pct": 100 * grp["cv"].quantile(0.9), "rows": len(grp)})
    return pd.DataFrame(rows)


def workgroup_spread(df: pd.DataFrame) -> pd.DataFrame:
    """Slowest / fastest kernel_us over work-group sizes, per shape x impl x params (buffer
    mode, GPU), summarised per implementation; plus the spread over everything per shape."""
    ok = ok_rows(df)
    gpu = ok[(ok["backend"] == "gpu") & (ok["mem_mode"] == "buffer")]
    if gpu.empty:
        return pd.DataFrame()
    g = gpu.groupby(["shape", "impl", "params"])["kernel_us"].agg(["min", "max", "count"])
    g = g[g["count"] >= 2]
    g["spread"] = g["max"] / g["min"]
    per_impl = g.groupby("impl")["spread"].describe(percentiles=[0.5, 0.9])[["count", "50%", "90%", "max"]]
    allcfg = gpu.groupby("shape")["kernel_us"].agg(["min", "max"])
    spread_all = allcfg["max"] / allcfg["min"]
    per_impl.loc["(all impls x work-groups)"] = [len(spread_all), spread_all.median(),
                                                  spread_all.quantile(0.9), spread_all.max()]
    return per_impl.rename(columns={"50%": "median_x", "90%": "p90_x", "max": "max_x"})


def shape_class(df: pd.DataFrame) -> pd.Series:
    """A coarse class per row: linear by m (1, 2-32, >32) and FLOPs; conv by kernel/groups."""
    flops = df["flops"].astype(float)
    size = np.where(flops < 1e7, "small", np.where(flops < 1e9, "medium", "large"))
    if (df["op"] == "conv2d").all():
        kind = np.where(df["groups"].astype(float) > 1,
                        np.where(df["groups"] == df["in_channels"], "depthwise", "grouped"),
                        "k" + df["kernel_h"].astype(str) + "s" + df["stride"].astype(str))
    else:
        m = df["m"].astype(float)
        kind = np.where(df["pass"] != "forward", df["pass"].astype(str),
                        np.where(m == 1, "m=1", np.where(m <= 32, "m<=32", "m>32")))
    return pd.Series([f"{k} {s}" for k, s in zip(kind, size)], index=df.index)


def best_impl_by_class(df: pd.DataFrame, backend: str = "gpu") -> pd.DataFrame:
    """For each shape class: how often each implementation is the fastest (end to end)."""
    ok = ok_rows(df)
    ok = ok[ok["backend"] == backend]
    if ok.empty:
        return pd.DataFrame()
    best = ok.loc[ok.groupby("shape")["total_us"].idxmin()].copy()
    best["class"] = shape_class(best)
    tab = pd.crosstab(best["class"], best["impl"])
    tab["shapes"] = tab.sum(axis=1)
    return tab


def time_breakdown(df: pd.DataFrame) -> pd.DataFrame:
    """Share (%) of kernel, dispatch, transfer in / out and other host time in total_us for
    the fastest GPU configuration per shape, by memory mode and size class."""
    ok = ok_rows(df)
    gpu = ok[ok["backend"] == "gpu"]
    if gpu.empty:
        return pd.DataFrame()
    best = gpu.loc[gpu.groupby(["shape", "mem_mode"])["total_us"].idxmin()].copy()
    best["size"] = pd.cut(best["total_us"], [0, 100, 1000, np.inf],
                          labels=["<100us", "100us-1ms", ">1ms"])
    parts = ["kernel_us", "dispatch_us", "transfer_in_us", "transfer_out_us"]
    for p in parts:
        best[p + "_pct"] = 100 * best[p] / best["total_us"]
    best["other_pct"] = 100 - best[[p + "_pct" for p in parts]].sum(axis=1)
    cols = [p + "_pct" for p in parts] + ["other_pct"]
    out = best.groupby(["mem_mode", "size"], observed=True)[cols].median().round(1)
    out["shapes"] = best.groupby(["mem_mode", "size"], observed=True).size()
    return out


def cpu_scaling(df: pd.DataFrame) -> pd.DataFrame:
    """Median over shapes of t(1 thread) / t(n threads) for the numpy/BLAS backend."""
    ok = ok_rows(df)
    cpu = ok[(ok["backend"] == "cpu") & (ok["platform"] == "numpy")]
    if cpu.empty:
        return pd.DataFrame()
    piv = cpu.pivot_table(index="shape", columns="threads", values="total_us", aggfunc="min")
    if 1 not in piv.columns:
        return pd.DataFrame()
    speed = piv.rdiv(piv[1], axis=0)
    big = cpu.groupby("shape")["flops"].first() >= 1e8
    return pd.DataFrame({"speedup_median_all": speed.median(),
                         "speedup_median_flops>=1e8": speed[big.reindex(speed.index)].median(),
                         "best_thread_count_share_pct": 100 * piv.idxmin(axis=1).value_counts(normalize=True).reindex(piv.columns).fillna(0)}).round(2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = ap.parse_args(argv)
    df = load(args.data)
    fmt = (lambda t: t.to_markdown()) if args.markdown else (lambda t: t.to_string())
    print(f"rows: {len(df)}; by status: {df['status'].value_counts().to_dict()}")
    for title, fn in [("noise floor", noise_floor), ("work-group spread (slowest/fastest kernel time)", workgroup_spread),
                      ("best GPU implementation by shape class (count of shapes)", best_impl_by_class),
                      ("GPU time breakdown, fastest config per shape (median %)", time_breakdown),
                      ("CPU (numpy/BLAS) scaling with threads", cpu_scaling)]:
        tab = fn(df)
        if tab is not None and not tab.empty:
            print(f"\n## {title}\n")
            print(fmt(tab))
    return 0


if __name__ == "__main__":
    sys.exit(main())
