"""Do the predictors rank GPU memory modes as the runtime does? Scored on confirmation rounds.

    python scripts/mode_bias.py --models DIR [--coexec datasets/h100/coexec]
        [--since-session N] [--fade-from own|longest]

A bench's confirmation rounds time each layer's finalists side by side, often one GPU kernel
configuration in several memory modes. For every (round, layer, kernel configuration) timed
in two modes, this prints the median ratio of the modes' measured wall times next to the
ratio the planner predicts (GPU predictor + the models' single-device overhead per mode,
``SyncModel.single``, or its size curve ``single_by_mib`` where sync.json has one), and how often the predicted faster mode is the measured faster one.
Then, per memory mode and suite group, the median of measured - predicted wall time (us);
and over every committed bench (``bench.csv``), the memory modes of the GPU-only plans the
planner chose against the oracle's, with the summed log loss (-log efficiency) of the plans
whose mode matched and did not. ``--since-session N``: only the rounds of sessions >= N
(36: the runtime as it is timed now); ``--fade-from``: score with that
``SyncModel.curve_fade_from`` instead of the models' own; the regret table (per band of
activation MiB, pairs timed in both modes: the measured time of the mode predicted faster
over the faster one's, geometric mean) shows what it moves.
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.schema import shape_id
from latpred.planner.calibrate import layer_sizes, runtime_rows
from latpred.planner.cli import load_models
from latpred.planner.oracle import load_grid
from latpred.planner.split import activation_mib
from latpred.planner.sync import CURVE_FADE_FROM

KEY = ["round", "shape", "impl", "params", "local_size"]
GROUPS = {"efficientnet_b0": "session 7", "resnext50_32x4d": "session 7", "vit_b16": "session 7",
          "densenet121": "session 9", "convnext_tiny": "session 9",
          "convnext_tiny_mlp": "session 9", "googlenet": "session 9"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--coexec", default="datasets/h100/coexec")
    ap.add_argument("--since-session", type=int, default=0, metavar="N")
    ap.add_argument("--fade-from", choices=CURVE_FADE_FROM, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    preds, gpu, cpu, sync = load_models(args.models)
    if args.fade_from:
        sync.curve_fade_from = args.fade_from
    frames = []
    for path in sorted(Path(args.coexec).rglob("confirm")):  # a round's GPU-only plans
        num = re.search(r"session(\d+)", str(path))
        if (int(num.group(1)) if num else 0) < args.since_session:
            continue
        rr = runtime_rows([load_grid(path)], gpu, cpu)["gpu_total_us"]
        if not len(rr):
            continue
        mode = rr.X["mem_mode"].astype(str).to_numpy()
        mib = layer_sizes(rr.X, activation_mib)
        frames.append(pd.DataFrame({
            "round": str(path), "suite": rr.suite, "shape": shape_id(rr.X).to_numpy(),
            **{c: rr.X[c].astype(str).to_numpy() for c in ("impl", "params", "local_size")},
            "mem_mode": mode, "wall": rr.wall_us, "mib": mib,
            "pred": preds.models["gpu_total_us"].predict(rr.X) + sync.single_us(mode, mib)}))
    R = pd.concat(frames, ignore_index=True)
    wm = R.pivot_table(index=KEY, columns="mem_mode", values="wall")
    wp = R.pivot_table(index=KEY, columns="mem_mode", values="pred")
    print(f"{len(R)} GPU-only plans in {R['round'].nunique()} confirmation rounds; "
          f"overheads {sync.single} ({sync.source})")
    print("| modes a / b | pairs | measured median a / b | predicted median a / b | "
          "predicted faster = measured faster |")
    print("|---|---:|---:|---:|---:|")
    for a, b in (("svm_coarse", "buffer"), ("map", "buffer"), ("svm_coarse", "map")):
        if a not in wm or b not in wm:
            continue
        ok = wm[[a, b]].notna().all(axis=1)
        rm, rp = (wm[a] / wm[b])[ok], (wp[a] / wp[b])[ok]
        print(f"| {a} / {b} | {int(ok.sum())} | {rm.median():.3f} | {rp.median():.3f} | "
              f"{100 * ((rm < 1) == (rp < 1)).mean():.0f} % |")
    mib = R.groupby(KEY)["mib"].first().reindex(wm.index)
    pick = np.where(wp.isna() | wm.isna(), np.inf, wp).argmin(axis=1)
    regret = np.log(wm.to_numpy()[np.arange(len(wm)), pick] / wm.min(axis=1).to_numpy())
    two = (wm.notna().sum(axis=1) >= 2).to_numpy()
    band = pd.cut(mib.to_numpy()[two], [0, 0.5, 1, 2, 4, 8, 16, 64])
    reg = pd.DataFrame({"MiB": band, "regret": regret[two]}).groupby("MiB", observed=True)
    print(f"\nthe mode predicted faster, its measured time over the faster mode's "
          f"(curve_fade_from {sync.curve_fade_from}):")
    print("| activation MiB | configurations timed in 2+ modes | geometric mean |")
    print("|---|---:|---:|")
    for b, g in reg:
        print(f"| {b} | {len(g)} | {np.exp(g['regret'].mean()):.3f} |")
    print(f"| all | {int(two.sum())} | {np.exp(regret[two].mean()):.3f} |")
    R["group"] = R["suite"].map(GROUPS).fillna("development")
    R["resid"] = R["wall"] - R["pred"]
    print("\nmedian measured - predicted wall time (us), by memory mode:")
    print(R.pivot_table(index="group", columns="mem_mode", values="resid",
                        aggfunc="median").round(1).to_string())
    benches = sorted(Path(args.coexec).rglob("bench.csv"))
    b = pd.concat([pd.read_csv(f) for f in benches], ignore_index=True)
    b = b[b["plan"].str.startswith("GPU only") & b["oracle_config"].str.startswith("GPU")]
    b = b.assign(plan_mode=b["plan"].str.extract(r" (\w+)$")[0],
                 oracle_mode=b["oracle_config"].str.extract(r" (\w+) split=")[0],
                 loss=-np.log(b["efficiency"]))
    same = b["plan_mode"] == b["oracle_mode"]
    print(f"\n{len(b)} GPU-only plans with a GPU-only oracle in {len(benches)} benches; "
          f"memory mode chosen (rows) against the oracle's (columns):")
    print(pd.crosstab(b["plan_mode"], b["oracle_mode"]).to_string())
    print(f"summed log loss: {b.loss[same].sum():.2f} where the modes match, "
          f"{b.loss[~same].sum():.2f} where they differ")


if __name__ == "__main__":
    main()
