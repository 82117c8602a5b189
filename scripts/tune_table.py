"""Measure-and-pick from the CLI: a table of ``latpred plan --tune --csv`` outputs.

    python scripts/tune_table.py [--dir datasets/h100/coexec/session7/tune]

Reads ``r<run>_<suite>.csv`` files. Per file: layers, layers whose measured pick differs
from the predicted plan, the count-weighted sums of the measured medians (the predicted
plans' and the picks', us, timed side by side in the same rounds) and the geometric mean
over layers of predicted plan / pick.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd


def summarize(df: pd.DataFrame) -> dict[str, float]:
    """One file's row of the table."""
    w = df["count"].to_numpy(float)
    plan, pick = df["predicted_plan_measured_us"].to_numpy(float), df["measured_us"].to_numpy(float)
    ok = np.isfinite(plan)
    return {"layers": len(df), "changed": int((df["tune_pick"] != 0).sum()),
            "plan_us": float((w * plan)[ok].sum()), "pick_us": float((w * pick)[ok].sum()),
            "gain_geomean": float(np.exp(np.mean(np.log(plan[ok] / pick[ok])))),
            "failed_plans": int((~ok).sum())}


def runs(folder: Path) -> dict[int, dict[str, pd.DataFrame]]:
    """run -> suite -> its CSV (``r<run>_<suite>.csv``; other names: run 0)."""
    out: dict[int, dict[str, pd.DataFrame]] = {}
    for path in sorted(folder.glob("*.csv")):
        m = re.fullmatch(r"r(\d+)_(.+)", path.stem)
        run, suite = (int(m.group(1)), m.group(2)) if m else (0, path.stem)
        out.setdefault(run, {})[suite] = pd.read_csv(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="datasets/h100/coexec/session7/tune")
    found = runs(Path(ap.parse_args().dir))
    print("| run | suite | layers | changed by measurement | predicted plans, measured (us) "
          "| measure-and-pick (us) | per layer, geomean plan / pick |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for run, suites in found.items():
        blocks = [*suites.items(), (None, pd.concat(suites.values()))]
        for suite, df in blocks:
            r = summarize(df)
            who = suite or f"**all {r['layers']} layers**"
            print(f"| {run} | {who} | {r['layers']} | {r['changed']} | {r['plan_us']:,.0f} | "
                  f"{r['pick_us']:,.0f} | {r['gain_geomean']:.3f}x |")


if __name__ == "__main__":
    main()
