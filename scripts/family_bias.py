"""Where a GPU predictor's ranking of a conv's kernels leans: its relative error by kernel
family and output-map parity, on the profiler's sweep rows and on the runtime's rows.

    python scripts/family_bias.py --models DIR [--data datasets/h100/conv] [--grid PATH ...]
        [--kernel 3] [--stride 1] [--logo]

Rows: GPU conv rows of kernel ``--kernel`` x ``--kernel``, stride ``--stride``, not grouped.
Per row, e = log(predicted / measured) minus the mean of e over its layer shape's rows
(what ranks a shape's configurations; the level against the CPU is left out). Per family
(implementation, and the GEMM a conv_im2col / conv_winograd runs) and parity of the output
map's width: the mean of that relative error (negative: predicted faster than it runs,
relative to the shape's other configurations), its spread and the rows. Sweep rows are
``--data``'s (the predictor's training rows where it was trained on them); runtime rows the
committed grids' and confirmation rounds' GPU-only rows (``planner.calibrate.runtime_rows``,
as ``gpu_choice.py``; default every one under datasets/h100/coexec), split into the
development suites and the networks added later. A development guide, not a bench result.

``--logo``: whether the lean is a correction that carries. Per suite group left out (the
groups of ``thread_choice.py``), every GPU-only runtime row's prediction is divided by
exp(offset), the offset its cell's (family, parity, kernel size; linear rows one cell) mean
relative error on the other groups' rows, shrunk toward 0 by n / (n + 50) for a cell of n
rows; each group is scored as ``gpu_choice.py`` scores it (the pick with the planner's
memory-mode overheads over the measured best), against the predictor as it is.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.store import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_choice import score  # noqa: E402
from thread_choice import DEV, add_runtime_args, group, runtime_inputs, shape_keys  # noqa: E402

GEMM = r'"gemm": "(\w+)"'


def relative_errors(rows: pd.DataFrame, predicted: np.ndarray, measured: np.ndarray
                    ) -> pd.DataFrame:
    """``rows`` (configuration rows) with columns family, odd (output width odd) and rel
    (log(predicted / measured) minus its mean over the row's shape)."""
    impl = rows["impl"].astype(str).to_numpy()
    gemm = rows["params"].astype(str).str.extract(GEMM)[0].fillna("").to_numpy()
    out_w = (pd.to_numeric(rows["width"]) + 2 * pd.to_numeric(rows["padding"])
             - pd.to_numeric(rows["dilation"]) * (pd.to_numeric(rows["kernel_w"]) - 1) - 1
             ) // pd.to_numeric(rows["stride"]) + 1
    e = pd.Series(np.log(predicted / measured), index=rows.index)
    shape = pd.Series(shape_keys(rows), index=rows.index)
    return pd.DataFrame({"family": [f"{i} {g}".strip() for i, g in zip(impl, gemm)],
                         "odd": (out_w % 2 == 1).to_numpy(),
                         "rel": (e - e.groupby(shape).transform("mean")).to_numpy()})


def convs(rows: pd.DataFrame, kernel: int, stride: int) -> np.ndarray:
    """Mask of GPU conv rows of a ``kernel`` x ``kernel`` kernel, ``stride``, groups 1."""
    num = {c: pd.to_numeric(rows[c], errors="coerce") for c in ("kernel_h", "kernel_w",
                                                                "stride", "groups")}
    return ((rows["op"].astype(str) == "conv2d") & (rows["backend"].astype(str) == "gpu")
            & (num["kernel_h"] == kernel) & (num["kernel_w"] == kernel)
            & (num["stride"] == stride) & (num["groups"] == 1)).to_numpy(bool)


def table(parts: list[tuple[str, pd.DataFrame]]) -> str:
    """Markdown: one row per family and parity, a column group per part (mean, rows)."""
    stats = {name: d.groupby(["family", "odd"])["rel"].agg(["mean", "std", "size"])
             for name, d in parts}
    keys = sorted(set().union(*(s.index for s in stats.values())))
    head = " | ".join(f"{n}: mean (sd, rows)" for n, _ in parts)
    lines = [f"| family | output width | {head} |", "|---|---|" + "---:|" * len(parts)]
    for fam, odd in keys:
        cells = []
        for name, _ in parts:
            s = stats[name]
            if (fam, odd) in s.index:
                r = s.loc[(fam, odd)]
                cells.append(f"{r['mean']:+.3f} ({r['std']:.3f}, {int(r['size'])})")
            else:
                cells.append("")
        lines.append(f"| {fam} | {'odd' if odd else 'even'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell_keys(rows: pd.DataFrame, rel: pd.DataFrame) -> np.ndarray:
    """Each row's offset cell: family | parity | kernel size for convs, "linear" else."""
    conv = (rows["op"].astype(str) == "conv2d").to_numpy()
    k = pd.to_numeric(rows["kernel_h"], errors="coerce").fillna(0).astype(int).astype(str)
    return np.where(conv, rel["family"] + np.where(rel["odd"], " odd k", " even k") + k.to_numpy(),
                    "linear")


def logo_offsets(df: pd.DataFrame, predicted: np.ndarray, overhead: np.ndarray,
                 shrink_rows: float = 50.0) -> pd.DataFrame:
    """Per suite group but the development suites: ``gpu_choice.score`` of the predictions
    as they are and divided by the offsets learnt on the other groups (columns of ``df``:
    suite, shape, wall_us, cell, rel)."""
    df = df.assign(grp=[group(s) for s in df["suite"]], base=predicted + overhead)
    out = []
    for g in sorted(set(df["grp"]) - {"development"}):
        cells = df[df["grp"] != g].groupby("cell")["rel"].agg(["mean", "size"])
        off = (cells["mean"] * cells["size"] / (cells["size"] + shrink_rows))
        o = off.reindex(df["cell"]).fillna(0.0).to_numpy()
        test = df.assign(corr=predicted * np.exp(-o) + overhead)[df["grp"] == g]
        a, b = score(test, "base", 5), score(test, "corr", 5)
        if len(a):
            out.append((g, int(a["shapes"].iloc[0]), float(a["loss"].iloc[0]),
                        float(b["loss"].iloc[0])))
    return pd.DataFrame(out, columns=["group", "shapes", "as is", "offsets"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runtime_args(ap)
    ap.add_argument("--data", action="append", default=None,
                    help="profiler datasets (default datasets/h100/conv)")
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--logo", action="store_true",
                    help="also score per-cell offsets learnt leave-one-group-out")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    loaded, _paths, rows, _frames = runtime_inputs(args.models[:1], args.grid, "gpu_total_us")
    model = loaded[args.models[0]][0].models["gpu_total_us"]
    sweep = load(args.data or ["datasets/h100/conv"])
    sweep = sweep[(sweep["status"] == "ok") & convs(sweep, args.kernel, args.stride)]
    sweep = sweep.reset_index(drop=True)
    parts = [("sweep rows", relative_errors(sweep, model.predict(sweep),
                                            sweep["total_us"].to_numpy(np.float64)))]
    X = rows.X.reset_index(drop=True)
    pred = model.predict(X)  # every GPU-only runtime row, once
    # linear rows lack the conv columns: filled so that their (unused) map width is defined
    full = X.assign(**{c: X[c].fillna(v) for c, v in (
        ("width", 1), ("padding", 0), ("dilation", 1), ("kernel_w", 1), ("stride", 1))})
    rel = relative_errors(full, pred, np.asarray(rows.y_us))  # per shape: convs stay whole
    at = convs(X.assign(backend="gpu"), args.kernel, args.stride)
    dev = np.isin(np.asarray(rows.suite), list(DEV))
    parts += [("runtime, development suites", rel[at & dev]),
              ("runtime, networks added later", rel[at & ~dev])]
    print(f"{args.kernel}x{args.kernel} stride-{args.stride} convs, {args.models[0]}: "
          f"{len(parts[0][1])} sweep rows, {int((at & dev).sum())} + {int((at & ~dev).sum())} "
          "runtime rows")
    print(table(parts))
    if args.logo:
        from latpred.planner.calibrate import layer_sizes
        from latpred.planner.split import activation_mib

        df = pd.DataFrame({"suite": np.asarray(rows.suite), "wall_us": rows.wall("mean"),
                           "shape": shape_keys(X), "cell": cell_keys(X, rel),
                           "rel": rel["rel"].to_numpy()})
        sync = loaded[args.models[0]][3]
        over = sync.single_us(X["mem_mode"].astype(str).to_numpy(),
                              layer_sizes(X, activation_mib))
        res = logo_offsets(df, pred, over)
        print("\n| suite group left out | shapes | pick / best: as is | with offsets |")
        print("|---|---:|---:|---:|")
        for r in res.itertuples():
            print(f"| {r.group} | {r.shapes} | {r._3:.4f} | {r.offsets:.4f} |")


if __name__ == "__main__":
    main()
