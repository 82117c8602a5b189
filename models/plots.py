"""PNG plots of an Evaluation (matplotlib, Agg backend; imported only when plots are asked)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from latpred.models.evaluate import MODEL, Evaluation


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(ev: Evaluation, out_dir: str | os.PathLike, split: str = "group") -> list[Path]:
    """Write pred_vs_measured.png, error_cdf.png and workgroup_heatmap.png; returns paths."""
    plt = _plt()
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    pr = ev.predictions
    if split not in set(pr["split"]):
        split = str(pr["split"].iloc[0])
    pr = pr[pr["split"] == split]
    paths = []

    # predicted vs measured, log-log
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for method, alpha in ((MODEL, 0.5), ("random_forest", 0.25)):
        sub = pr[pr["method"] == method]
        if len(sub):
            ax.scatter(sub["y_us"], sub["p_us"], s=4, alpha=alpha, label=method)
    lo = float(np.nanmin(pr[["y_us", "p_us"]].to_numpy()))
    hi = float(np.nanmax(pr[["y_us", "p_us"]].to_numpy()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.plot([lo, hi], [lo * 1.1, hi * 1.1], "k:", lw=0.7)
    ax.plot([lo, hi], [lo / 1.1, hi / 1.1], "k:", lw=0.7)
    ax.set(xscale="log", yscale="log", xlabel="measured (us)", ylabel="predicted (us)",
           title=f"{ev.target}: predicted vs measured ({split} split)")
    ax.legend()
    paths.append(_save(fig, d / "pred_vs_measured.png", plt))

    # error CDF per method
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, sub in pr.groupby("method", sort=False):
        e = np.sort(np.abs(sub["p_us"] - sub["y_us"]) / sub["y_us"] * 100)
        ax.plot(e, np.arange(1, len(e) + 1) / len(e) * 100, label=method)
    ax.axvline(10, color="k", ls=":", lw=0.8)
    ax.set(xscale="log", xlabel="|error| (%)", ylabel="rows (%)",
           title=f"{ev.target}: error CDF ({split} split)")
    ax.legend(fontsize=8)
    paths.append(_save(fig, d / "error_cdf.png", plt))

    # per-implementation work-group heatmap of the model's median |error|
    sub = pr[pr["method"] == MODEL].copy()
    loc = sub["local_size"].astype(str).str.split("x", expand=True)
    if loc.shape[1] >= 2:
        sub["lx"] = pd.to_numeric(loc[0], errors="coerce")
        sub["ly"] = pd.to_numeric(loc[1], errors="coerce")
    else:
        sub["lx"] = sub["ly"] = np.nan
    sub = sub.dropna(subset=["lx", "ly"])
    sub["ae"] = np.abs(sub["p_us"] - sub["y_us"]) / sub["y_us"] * 100
    impls = sorted(set(sub["impl"]))
    if impls:
        cols = min(3, len(impls))
        rows = -(-len(impls) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
        for ax, impl in zip(axes.flat, impls):
            piv = sub[sub["impl"] == impl].pivot_table(index="ly", columns="lx", values="ae",
                                                       aggfunc="median")
            im = ax.imshow(piv.to_numpy(), origin="lower", cmap="viridis", aspect="auto")
            ax.set_xticks(range(len(piv.columns)), [str(int(v)) for v in piv.columns])
            ax.set_yticks(range(len(piv.index)), [str(int(v)) for v in piv.index])
            ax.set(xlabel="local x", ylabel="local y", title=impl)
            fig.colorbar(im, ax=ax, label="median |error| %")
        for ax in list(axes.flat)[len(impls):]:
            ax.axis("off")
        fig.suptitle(f"{ev.target}: model error by work-group ({split} split)")
    else:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no work-group sizes in these rows", ha="center")
        ax.axis("off")
    paths.append(_save(fig, d / "workgroup_heatmap.png", plt))
    return paths


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
