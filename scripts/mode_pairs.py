"""Map against buffer, timed side by side: the confirmation rounds' GPU-only plans of one
kernel configuration in both memory modes, by operator and activations moved.

    python scripts/mode_pairs.py [--coexec datasets/h100/coexec ...] [--since-session 36]

For each round, layer and kernel configuration timed GPU-only in both ``map`` and
``buffer``, the ratio of their median wall times; printed per band of activations moved
(``split.activation_mib``) and operator: the pairs, the geometric mean of map / buffer and
the share of pairs where map was faster; then, above 3.35 MiB (where the H100's map curve
ends), per suite. Rounds of sessions before ``--since-session`` are left out (36: the
runtime as it is timed now); folders without a session number in their path are kept.
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import pandas as pd
from latpred.datasets.suites import suite_layers
from latpred.planner.bench import geomean
from latpred.planner.oracle import load_grid
from latpred.planner.split import activation_mib

BANDS = (0, 1, 3.35, 6, 12.25, 1e9)
KEYS = ["src", "suite", "layer", "op", "impl", "gpu_params", "local_size"]


def pairs(dirs: list[str], since: int) -> pd.DataFrame:
    """One row per (round, layer, configuration) timed GPU-only in map and in buffer: its
    ``KEYS``, ``mib`` and ``ratio`` (map / buffer median wall time)."""
    frames = []
    for root in dirs:
        for p in sorted(Path(root).rglob("confirm")):
            m = re.search(r"session(\d+)", str(p))
            if m and int(m.group(1)) < since:
                continue
            g = load_grid(p)
            g = g[(g["status"] == "ok") & (g["backend"] == "gpu")
                  & g["mem_mode"].isin(["map", "buffer"])]
            frames.append(g[[*KEYS[1:], "mem_mode", "total_us"]].assign(src=str(p)))
    if not frames:
        return pd.DataFrame(columns=[*KEYS, "map", "buffer", "mib", "ratio"])
    g = pd.concat(frames, ignore_index=True)
    med = g.groupby([*KEYS, "mem_mode"])["total_us"].median().unstack("mem_mode")
    out = med.dropna(subset=["map", "buffer"]).reset_index()
    mib = {(s, n): activation_mib(layer) for s in out["suite"].unique()
           for n, _c, layer in suite_layers(s)}
    return out.assign(mib=[mib[k] for k in zip(out["suite"], out["layer"])],
                      ratio=out["map"] / out["buffer"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coexec", action="append", metavar="DIR",
                    help="folders of bench runs (repeatable; default datasets/h100/coexec)")
    ap.add_argument("--since-session", type=int, default=36)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    pr = pairs(args.coexec or ["datasets/h100/coexec"], args.since_session)
    if pr.empty:
        raise SystemExit("no configuration timed GPU-only in both map and buffer")
    pr["band"] = pd.cut(pr["mib"], BANDS)

    def faster(v: pd.Series) -> int:
        return int((v < 1).sum())

    agg = {"pairs": "size", "map_over_buffer": geomean, "map_faster": faster}
    print(f"{len(pr)} pairs; map / buffer by activations moved (MiB) and operator:")
    print(pr.groupby(["band", "op"], observed=True)["ratio"].agg(**agg).round(3).to_string())
    print(f"\nabove {BANDS[2]} MiB, by suite:")
    big = pr[pr["mib"] > BANDS[2]]
    print(big.groupby(["op", "suite"])["ratio"].agg(**agg).round(3).to_string())


if __name__ == "__main__":
    main()
