"""Where a GPU predictor's ranking of a conv's kernels leans: its relative error by kernel
family and output-map parity, on the profiler's sweep rows and on the runtime's rows.

    python scripts/family_bias.py --models DIR [--data datasets/h100/conv] [--grid PATH ...]
        [--kernel 3] [--stride 1]

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
from thread_choice import DEV, add_runtime_args, runtime_inputs, shape_keys  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runtime_args(ap)
    ap.add_argument("--data", action="append", default=None,
                    help="profiler datasets (default datasets/h100/conv)")
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    loaded, _paths, rows, _frames = runtime_inputs(args.models[:1], args.grid, "gpu_total_us")
    model = loaded[args.models[0]][0].models["gpu_total_us"]
    sweep = load(args.data or ["datasets/h100/conv"])
    sweep = sweep[(sweep["status"] == "ok") & convs(sweep, args.kernel, args.stride)]
    sweep = sweep.reset_index(drop=True)
    parts = [("sweep rows", relative_errors(sweep, model.predict(sweep),
                                            sweep["total_us"].to_numpy(np.float64)))]
    X = rows.X.assign(op=rows.X["op"], backend="gpu").reset_index(drop=True)
    at = convs(X, args.kernel, args.stride)
    rt = relative_errors(X[at], model.predict(X[at]), np.asarray(rows.y_us)[at])
    dev = np.isin(np.asarray(rows.suite)[at], list(DEV))
    parts += [("runtime, development suites", rt[dev]), ("runtime, networks added later",
                                                         rt[~dev])]
    print(f"{args.kernel}x{args.kernel} stride-{args.stride} convs, {args.models[0]}: "
          f"{len(parts[0][1])} sweep rows, {int(dev.sum())} + {int((~dev).sum())} runtime rows")
    print(table(parts))


if __name__ == "__main__":
    main()
