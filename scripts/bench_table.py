"""The co-execution table of BENCHMARKS.md section 5, from committed bench.csv files.

    python scripts/bench_table.py [--coexec datasets/h100/coexec]
    python scripts/bench_table.py --plot DIR/bench.csv --out bench.png   # a run's bar plot
    python scripts/bench_table.py --status   # the shipped models on never-seen networks, pooled

Geometric means over layers; "slower" counts layers more than 2 % slower than T_single.
``--status`` pools the runs in STATUS (every layer bench counts once) and gives the pooled
efficiency a 95 % interval from resampling whole suites (a network's layers share their
errors, so layers are not independent draws); then each suite over its runs. It does so
twice: for the planner those runs benched (sessions 32-39), and for the one shipped now, with
session 40's, 42's and 44's runs added (LATER) and every layer it plans differently from a
run's plan replayed from the same run's confirmation rounds (kept as benched, and counted,
where the rounds did not time its plan).
Only the first benches' bar plots are committed (``<suite>/bench.png``); ``--plot`` draws
any run's again from its bench.csv, as ``coexec bench`` drew it.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.planner.bench import SLOWDOWN_TOLERANCE, geomean

ALL = ["gpt2_small_decode", "vgg16_fc", "resnet50_fc", "mobilenetv2_fc", "resnet50",
       "mobilenetv2", "bert_base", "vgg16"]
SESSION2 = ALL[:6]
HELDOUT = ["bert_base", "vgg16"]
#: networks added after development (scripts/make_suites.py), benched in session 7
UNSEEN = ["efficientnet_b0", "resnext50_32x4d", "vit_b16"]
#: and in session 9
UNSEEN9 = ["densenet121", "convnext_tiny", "convnext_tiny_mlp"]
#: and later in session 9, to test the BLAS thread-grid features (features v3)
FRESH9 = ["googlenet"]
#: and in session 27, benched with the shipped v3gpurel on fresh oracle grids
UNSEEN27 = ["regnet_y_400mf", "squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v3_large",
            "swin_t"]
#: and in session 28, the same way (efficientnet_b2's first complete run is the second call's)
UNSEEN28 = ["mnasnet1_0", "alexnet", "vit_l16", "efficientnet_b2"]
#: and in session 31, the same way (tinyllama_prefill's first complete run is the fourth
#: call's, run 2; none of these shapes is in a profiler dataset)
UNSEEN31 = ["tinyllama_decode", "inception_v3", "mobilenet_v3_small", "efficientnet_v2_s",
            "tinyllama_prefill"]
#: and in session 32 (Qwen's first complete bench is the second call's, data_only;
#: Llama's the eighth call's, run5, on a fresh grid)
UNSEEN32 = ["qwen25_05b_prefill", "llama32_1b_prefill"]
#: and in session 35: five ONNX model-zoo networks (``latpred suite from-onnx``), each with its
#: classifier (7 of their 119 shapes are in a profiler dataset)
UNSEEN35 = [f"onnx_{n}{fc}" for n in ("shufflenet", "zfnet512", "bvlc_alexnet", "inception_v2",
                                      "inception_v1") for fc in ("", "_fc")]
#: and in session 40: networks written from their architecture tables (scripts/make_suites.py;
#: 2 of their 68 shapes, MobileNetV1's stem and first depthwise conv, are in a profiler dataset)
UNSEEN40 = ["smollm_135m_decode", "bert_large", "mobilenet_v1", "squeezenet1_0",
            "whisper_tiny_encoder", "unet"]
#: and four more, benched with the shipped planner as the plan (9 of wide_resnet50_2's 24
#: shapes, ResNet-50's, are in a profiler dataset)
MORE40 = ["deit_small", "gpt2_medium_decode", "wide_resnet50_2", "efficientnet_b1"]
#: and in session 42: four more networks (scripts/make_suites.py), benched whole with the
#: shipped planner (5 of resnet18's 11 shapes, ResNet-50's, are in a profiler dataset)
UNSEEN42 = ["efficientnet_b3", "resnet18", "qwen25_15b_decode", "llama32_3b_decode"]
#: and in session 44: four more (scripts/make_suites.py), benched whole with the planner
#: shipped since then (session 43's GPU-only overhead curves), the one before timed beside it
UNSEEN44 = ["yolov8n", "vit_b32", "t5_small_encoder", "xception"]
#: and, the same session, two more and Llama-3.2-3B decoding's four layers whose session 42
#: grid was complete (2 of regnet_x_800mf's 20 shapes are in a profiler dataset)
MORE44 = ["regnet_x_800mf", "llama32_3b_decode", "phi2_decode"]
#: the suites of the layers session 40's change moved (only those layers benched)
CHANGED40 = ["efficientnet_b0", "efficientnet_b2", "efficientnet_v2_s", "inception_v3",
             "mobilenetv2", "vgg16"]
#: session 32's third paired run: the prompts and the networks the retrained GPU base moved
RUN3_32 = ["qwen25_05b_prefill", "tinyllama_prefill", "shufflenet_v2_x1_0",
           "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_s", "inception_v3"]
# (predictors, folder under --coexec, suites): one table block each
GROUPS = [
    ("session 3, all-data predictors", "", ALL),
    ("session 3, held-out predictors (trained without vgg16 and bert_base shapes)", "heldout",
     HELDOUT),
    ("session 3, held-out predictors, scratch-term roofline (113bcff)", "heldout_scratch",
     HELDOUT),
    ("session 4, all-data predictors, run 1", "session4/run1", ALL),
    ("session 4, same predictors, run 2", "session4/run2", ALL),
    ("session 4, held-out predictors", "session4/heldout", HELDOUT),
    ("session 5, all-data predictors + single-device runtime overhead, run 1", "session5/run1",
     ALL),
    ("session 5, same, run 2", "session5/run2", ALL),
    ("session 5, held-out predictors + single-device runtime overhead", "session5/heldout",
     HELDOUT),
    ("session 5, run 1's predictors, OPENBLAS_THREAD_TIMEOUT=4", "session5/run_blas_sleep",
     ALL),
    ("session 5, held-out predictors, OPENBLAS_THREAD_TIMEOUT=4", "session5/heldout_blas_sleep",
     HELDOUT),
    ("session 5, run 1's predictors, sync fitted with an 8 MiB block, run 3",
     "session5/run3_sync8mib", ALL),
    ("session 5, held-out predictors, sync fitted with an 8 MiB block",
     "session5/heldout_sync8mib", HELDOUT),
    ("session 5, run 1's predictors, sync with interference factors, run 4",
     "session5/run4_interference", ALL),
    ("session 5, held-out predictors, sync with interference factors",
     "session5/heldout_interference", HELDOUT),
    ("session 5, run 4 again (fresh sync with interference factors), run 5",
     "session5/run5_interference", ALL),
    ("session 5, held-out predictors, run 4's held-out bench again",
     "session5/heldout_interference_2", HELDOUT),
    ("session 5, every suite by predictors trained without its network (replay_lono --keep)",
     "session5/lono_every_network", ALL),
    ("session 5, the same again", "session5/lono_every_network_2", ALL),
    ("session 7, networks never seen, session 5's all-data predictors, run 1",
     "session7/unseen/run1", UNSEEN),
    ("session 7, the same over run 1's grids, run 2", "session7/unseen/run2", UNSEEN),
    ("session 8, the same predictors recalibrated on the development suites' runtime rows "
     "(coexec calibrate), run 1", "session8/calibrated/run1", UNSEEN),
    ("session 8, the same, run 2", "session8/calibrated/run2", UNSEEN),
    ("session 9, three more networks never seen, session 5's all-data predictors, run 1",
     "session9/run1/plain", UNSEEN9),
    ("session 9, the same recalibrated on every committed runtime row (11 suites), run 1",
     "session9/run1/cal", UNSEEN9),
    ("session 9, the same recalibrated, run 2 (densenet121 only; its plain run ran out of time)",
     "session9/run2/cal", UNSEEN9),
    ("session 9, googlenet (never seen), session 5's all-data predictors", "session9/run1/plain",
     FRESH9),
    ("session 9, the same with a CPU predictor on features v3 (BLAS thread grid; same "
     "parameters and data), over the same grids", "session9/blas_grid", [*FRESH9, UNSEEN9[0]]),
    ("session 9, session 5's predictors with the GPU-only overheads refitted on the development "
     "suites' confirmation rounds (coexec calibrate --what overheads), over session 7's run-1 "
     "grids", "session9/overheads", UNSEEN),
    ("session 27, five networks no session had seen, the shipped v3gpurel, run 1 (fresh "
     "grids)", "session27/run1", UNSEEN27),
    ("session 27, the same over run 1's grids, run 2", "session27/run2", UNSEEN27),
    ("session 27, the same, run 3 (three networks)", "session27/run3", UNSEEN27[:3]),
    ("session 28, four more networks no session had seen, the shipped v3gpurel, run 1 (fresh "
     "grids)", "session28/run1", UNSEEN28),
    ("session 28, the same over run 1's grids, run 2", "session28/run2", UNSEEN28),
    ("session 28, the same, run 3 (three networks)", "session28/run3", UNSEEN28[:3]),
    ("session 31, five networks no session had seen, the shipped v3gpurel, run 1 (fresh "
     "grids)", "session31/run1", UNSEEN31),
    ("session 31, the same over run 1's grids, run 2", "session31/run2", UNSEEN31),
    ("session 31, the same, run 3", "session31/run3", UNSEEN31),
    ("session 32, Qwen2.5-0.5B prefill and session 31's networks, the shipped v3gpurel "
     "before the fades, run 1", "session32/run1", UNSEEN32[:1] + UNSEEN31),
    ("session 32, the same with the overhead curves faded, run 2", "session32/run2",
     UNSEEN32[:1] + UNSEEN31),
    ("session 32, the same, run 3", "session32/run3", RUN3_32),
    ("session 32, the same on sessions 27-28's networks", "session32/conv",
     UNSEEN27 + UNSEEN28),
    ("session 32, the shipped v3gpurel with both fades, run 4 (the prompts)", "session32/run4",
     ["qwen25_05b_prefill", "tinyllama_prefill"]),
    ("session 32, the shipped v3gpurel with both fades, Llama-3.2-1B prefill (fresh grid)",
     "session32/run5", ["llama32_1b_prefill"]),
    ("session 35, five ONNX model-zoo networks no session had seen, the shipped v3gpurel, "
     "run 1 (fresh grids)", "session35/run1", UNSEEN35),
    ("session 35, the same over run 1's grids, run 2", "session35/run2", UNSEEN35),
    ("session 35, the same, run 3", "session35/run3", UNSEEN35),
    # from session 36 on, the runtime's wall times leave out reading the profiling counters
    ("session 36, the runtime without the counters' reads: the development suites, the "
     "shipped v3gpurel as it was (its overheads fitted with them)", "session36/dev", ALL),
    ("session 36, session 35's networks, v3gpurel with its GPU-only overheads refitted on "
     "session 36's development rounds (shipped now), run 1", "session36/onnx_run1", UNSEEN35),
    ("session 36, the same, run 2", "session36/onnx_run2", UNSEEN35),
    ("session 36, the same on session 27's networks", "session36/session27_nets", UNSEEN27),
    ("session 36, the same on session 28's networks", "session36/session28_nets", UNSEEN28),
    ("session 36, the same on session 31's networks", "session36/session31_nets", UNSEEN31),
    ("session 37, sessions 7 and 9's seven networks, the shipped v3gpurel (session 36's "
     "overheads), run 1 (their committed grids)", "session37/seven_run1",
     UNSEEN + UNSEEN9 + FRESH9),
    ("session 37, the same, run 2", "session37/seven_run2", UNSEEN + UNSEEN9 + FRESH9),
    ("session 38, the same seven networks, the shipped v3gpurel (memory-mode ratios timed "
     "beside it, not shipped)", "session38/ratio_seven", UNSEEN + UNSEEN9 + FRESH9),
    ("session 38, the same on session 35's AlexNet and Inception v1 (the call's deadline "
     "came after 4 of its 10 suites)", "session38/ratio_onnx", UNSEEN35),
    # from session 40 on, the shipped planner holds the overhead curves to the longest one
    # (sync.json curve_fade_from "longest"): it ran as the bench's --compare fadelong, the
    # plan column is the planner of sessions 32-39 (curve_fade_from "own")
    ("session 40, six networks no session had seen, the planner of sessions 32-39 (the "
     "shipped one: its fadelong columns), run 1 (fresh grids)", "session40/fresh_run1",
     UNSEEN40),
    ("session 40, the same, run 2 (U-Net)", "session40/fresh_run2", UNSEEN40),
    ("session 40, four more networks no session had seen, the shipped planner (the planner of "
     "sessions 32-39 timed beside it: its own columns), run 1 (fresh grids)",
     "session40/more_run1", MORE40),
    ("session 40, the seven layers the change of curve_fade_from moves among the earlier "
     "suites, run 1 (fresh grids; those layers only)", "session40/changed_run1", CHANGED40),
    ("session 40, the same, run 2", "session40/changed_run2", CHANGED40),
    ("session 42, four networks no session had seen, the shipped planner, run 1 (fresh "
     "grids)", "session42/run1", UNSEEN42),
    ("session 42, the same, run 2 (fresh grids)", "session42/run2", UNSEEN42),
    ("session 44, four networks no session had seen, the shipped planner (session 43's "
     "GPU-only overhead curves), run 1 (fresh grids)", "session44/run1", UNSEEN44),
    ("session 44, the same, run 2 (run 1's grids, new rounds)", "session44/run2", UNSEEN44),
    ("session 44, the same, run 3 (run 1's grids, new rounds)", "session44/run3", UNSEEN44),
    ("session 44, RegNetX-800MF, Phi-2 decoding and four layers of Llama-3.2-3B decoding, "
     "the shipped planner, run 1 (fresh grids; Llama's session 42's)", "session44/more_run1",
     MORE44),
    ("session 44, the same, run 2 (run 1's grids)", "session44/more_run2", MORE44),
    ("session 44, the same, run 3 (run 1's grids)", "session44/more_run3", MORE44),
]
#: the runs of the shipped models on networks never seen, with the runtime timed as it is
#: now (session 36 on): folders of GROUPS, pooled by ``--status``
STATUS = ("session36/onnx_run1", "session36/onnx_run2", "session36/session27_nets",
          "session36/session28_nets", "session36/session31_nets", "session37/seven_run1",
          "session37/seven_run2", "session38/ratio_seven", "session38/ratio_onnx")
#: runs of the planner shipped since session 40: (folder, the ``--compare`` name it ran
#: under, or "" where it made the bench's plan)
STATUS40 = (("session40/fresh_run1", "fadelong"), ("session40/fresh_run2", "fadelong"),
            ("session40/more_run1", ""))
#: and session 42's runs of four more networks (the shipped planner made the plan)
STATUS42 = (("session42/run1", ""), ("session42/run2", ""))
#: and session 44's runs of seven more (the planner shipped since session 44 made the plan)
STATUS44 = (("session44/run1", ""), ("session44/run2", ""), ("session44/run3", ""),
            ("session44/more_run1", ""), ("session44/more_run2", ""),
            ("session44/more_run3", ""))
#: the later runs, by the session that first benched their networks
LATER = (("session 40", STATUS40), ("session 42", STATUS42), ("session 44", STATUS44))
#: the shipped models and the benches' planner options (scripts/lib.sh bench_opts)
SHIPPED = "datasets/h100/models/v3gpurel"
BENCH_OPTIONS = {"steps": 8, "cpu_threads": (4, 8, 12, 15, 16), "max_local_sizes": 2}


def line(who: str, suite: str, d: pd.DataFrame) -> str:
    return (f"| {who} | {suite} | {len(d)} | {geomean(d.speedup_plan):.3f}x | "
            f"{100 * geomean(d.efficiency):.1f} % | {int(d.slower_than_single.sum())} | "
            f"{(d.t_plan_us / d.t_single_us).max():.3f} | {d.n_shortlist.mean():.1f} | "
            f"{100 * geomean(d.efficiency_tuned):.1f} % | "
            f"{int(d.tuned_slower_than_single.sum())} | "
            f"{(d.t_tuned_us / d.t_single_us).max():.3f} |")


@functools.lru_cache(maxsize=4)
def trained_shapes(root: Path, suites: tuple[str, ...] = tuple(UNSEEN)
                   ) -> frozenset[tuple[str, str]]:
    """(suite, layer) of ``suites`` (networks never seen) whose shape (``datasets.schema.shape_id``) is in a
    committed profiler dataset (``datasets/h100/{conv,conv_cpu_live,linear,linear_cpu_live}``,
    beside ``root``): the networks share some layers (a stem conv, 1x1 convs) with the
    development suites."""
    from latpred.datasets import load
    from latpred.datasets.schema import conform, shape_id
    from latpred.datasets.suites import suite_layers
    from latpred.models.candidates import layer_shape_row

    known: set[str] = set()
    for name in ("conv", "conv_cpu_live", "linear", "linear_cpu_live"):
        if (root.parent / name).is_dir():
            known |= set(shape_id(load(root.parent / name)))
    out = set()
    for suite in suites:
        items = suite_layers(suite)
        ids = shape_id(conform(pd.DataFrame([layer_shape_row(layer)
                                             for _n, _c, layer in items])))
        out |= {(suite, name) for (name, _c, _l), sid in zip(items, ids) if sid in known}
    return frozenset(out)


def status_frame(root: Path, runs: tuple[str, ...] = STATUS) -> pd.DataFrame:
    """Every layer bench of ``runs``: their bench.csv rows with ``run`` and ``suite``."""
    suites = {sub: ss for _who, sub, ss in GROUPS}
    return pd.concat([pd.read_csv(root / sub / s / "bench.csv").assign(run=sub, suite=s)
                      for sub in runs for s in suites[sub]
                      if (root / sub / s / "bench.csv").exists()], ignore_index=True)


def replay_shipped(d: pd.DataFrame, root: Path, models: str = SHIPPED
                   ) -> tuple[pd.DataFrame, int, int]:
    """``d`` (``status_frame``) as the planner of ``models`` would have run it: where it plans
    a layer differently from the bench's plan, that plan's median in the same run's
    confirmation rounds replaces T_plan (efficiency and "slower" recomputed; T_oracle, the
    best of the rounds' medians, already counts it). Returns (frame, layer benches
    replaced, planned differently but not timed in the rounds: kept as benched)."""
    import warnings

    from latpred.datasets.suites import suite_layers
    from latpred.planner.cli import load_models
    from latpred.planner.oracle import load_grid, plan_of_row
    from latpred.planner.planner import Planner, PlannerOptions

    warnings.filterwarnings("ignore")  # exports saved with other library versions
    planner = Planner(*load_models(models), PlannerOptions(**BENCH_OPTIONS))
    plans = {(s, ch.name): ch for s in d["suite"].unique()
             for ch in planner.plan_layers(list(suite_layers(s)))}
    d = d.copy()
    replaced = untimed = 0
    for i, r in d.iterrows():
        ch = plans[r["suite"], r["layer"]]
        want = ch.plan.describe()
        if want == r["plan"]:
            continue
        g = load_grid(root / r["run"] / r["suite"] / "confirm")
        g = g[(g["status"] == "ok") & (g["layer"] == r["layer"])]
        keys = [plan_of_row(ch.layer, row).describe() for row in g.to_dict("records")]
        med = g.assign(key=keys).groupby("key")["total_us"].median()
        if want not in med:
            untimed += 1
            continue
        t = float(med[want])
        d.loc[i, ["plan", "t_plan_us", "efficiency", "slower_than_single"]] = [
            want, t, r["t_oracle_us"] / t, t > (1 + SLOWDOWN_TOLERANCE) * r["t_single_us"]]
        replaced += 1
    return d, replaced, untimed


def compared(d: pd.DataFrame, name: str) -> pd.DataFrame:
    """``d`` with the ``--compare NAME`` planner's columns as its plan's."""
    return d.assign(plan=d[f"plan_{name}"], t_plan_us=d[f"t_plan_{name}_us"],
                    efficiency=d[f"efficiency_{name}"],
                    slower_than_single=d[f"slower_than_single_{name}"])


def suite_bootstrap(d: pd.DataFrame, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the pooled geometric-mean efficiency of ``d``'s layer
    benches when whole suites are drawn with replacement (``n`` draws)."""
    per = d.assign(loss=-np.log(d["efficiency"])).groupby("suite")["loss"].agg(["sum", "size"])
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(per), size=(n, len(per)))
    eff = np.exp(-per["sum"].to_numpy()[pick].sum(1) / per["size"].to_numpy()[pick].sum(1))
    lo, hi = np.percentile(eff, [2.5, 97.5])
    return float(lo), float(hi)


def later_frames(root: Path) -> list[tuple[str, pd.DataFrame]]:
    """Each LATER group's runs as one frame (the ``--compare`` columns where the shipped
    planner of the day ran as one), with the session that benched them."""
    out = []
    for who, which in LATER:
        frames = [status_frame(root, (run,)) for run, _name in which]
        out.append((who, pd.concat([compared(d, name) if name else d
                                    for d, (_run, name) in zip(frames, which)],
                                   ignore_index=True)))
    return out


def print_status(root: Path) -> None:
    """The STATUS runs as benched, then the shipped planner (``SHIPPED``) over them and the
    LATER runs, each replayed (``replay_shipped``) where it plans a layer differently."""
    print("The planner of sessions 32-39 (sync.json curve_fade_from \"own\"), as benched:\n")
    benched = status_frame(root)
    print_pooled(benched)
    later = later_frames(root)
    pooled = pd.concat([benched, *(d for _who, d in later)], ignore_index=True)
    new, replaced, untimed = replay_shipped(pooled, root)
    print(f"\nThe planner shipped now ({SHIPPED}): the runs above, session 40's (its "
          f"fadelong columns where it ran as --compare fadelong), 42's and 44's, with the "
          f"{replaced} layer benches it plans differently taken from the same runs' "
          f"confirmation rounds ({untimed} not timed there, kept as benched):\n")
    print_pooled(new)
    at = len(benched)
    for who, d in later:
        fresh = new.iloc[at:at + len(d)]
        at += len(d)
        print(f"\n{who}'s runs alone (networks no earlier run saw): {len(fresh)} layer "
              f"benches, {100 * geomean(fresh.efficiency):.1f} %, "
              f"{int(fresh.slower_than_single.sum())} > 2 % slower than T_single")


def print_pooled(d: pd.DataFrame) -> None:
    """Each run of ``d``, all of them pooled (with ``suite_bootstrap``'s interval), and each
    suite over its runs, worst first."""
    print("| run | layers | efficiency (plan) | layers > 2 % slower than T_single | "
          "measure-and-pick | its layers > 2 % slower |")
    print("|---|---:|---:|---:|---:|---:|")
    for run, r in d.groupby("run", sort=False):
        print(f"| {run} | {len(r)} | {100 * geomean(r.efficiency):.1f} % | "
              f"{int(r.slower_than_single.sum())} ({100 * r.slower_than_single.mean():.0f} %) | "
              f"{100 * geomean(r.efficiency_tuned):.1f} % | "
              f"{int(r.tuned_slower_than_single.sum())} |")
    lo, hi = suite_bootstrap(d)
    print(f"| **all {d.run.nunique()} runs: {len(d)} layer benches, {d.suite.nunique()} suites** | "
          f"{len(d)} | **{100 * geomean(d.efficiency):.1f} %** (95 % interval over suites "
          f"{100 * lo:.1f}-{100 * hi:.1f} %) | {int(d.slower_than_single.sum())} "
          f"({100 * d.slower_than_single.mean():.0f} %) | {100 * geomean(d.efficiency_tuned):.1f} % | "
          f"{int(d.tuned_slower_than_single.sum())} |")
    print()
    print("| suite | runs | layer benches | efficiency (plan) | layers > 2 % slower |")
    print("|---|---:|---:|---:|---:|")
    per = d.groupby("suite").agg(runs=("run", "nunique"), n=("efficiency", "size"),
                                 eff=("efficiency", geomean),
                                 slower=("slower_than_single", "mean"))
    for suite, r in per.sort_values("eff").iterrows():
        print(f"| {suite} | {int(r.runs)} | {int(r.n)} | {100 * r.eff:.1f} % | {100 * r.slower:.0f} % |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coexec", default="datasets/h100/coexec")
    ap.add_argument("--status", action="store_true",
                    help="only the shipped models' runs on never-seen networks, pooled")
    ap.add_argument("--plot", default=None, metavar="BENCH_CSV",
                    help="draw this bench.csv's bar plot (to --out) instead of the table")
    ap.add_argument("--out", default="bench.png", help="--plot's PNG file")
    args = ap.parse_args()
    if args.plot:
        from latpred.planner.bench import plot

        csv = Path(args.plot)
        plot(pd.read_csv(csv), Path(args.out), f"{csv.parent.name} ({csv.parent.parent})")
        print(f"wrote {args.out}")
        return
    root = Path(args.coexec)
    if args.status:
        print_status(root)
        return
    print("| predictors | suite (batch 1) | layers | speedup_plan | efficiency (plan) | layers "
          "> 2 % slower than T_single | worst T_plan / T_single | shortlist (mean plans) | "
          "efficiency, measure-and-pick | layers > 2 % slower | worst T_tuned / T_single |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    groups = [(who, root / sub, suites) for who, sub, suites in GROUPS]
    for who, base, suites in groups:
        frames = {s: pd.read_csv(base / s / "bench.csv") for s in suites
                  if (base / s / "bench.csv").exists()}
        for s, d in frames.items():
            print(line(who, s, d))
        if set(SESSION2) <= set(frames) and len(frames) > len(SESSION2):
            six = pd.concat([frames[s] for s in SESSION2])
            print(line(who, "**the six suites of session 2**", six))
        if frames:
            d = pd.concat(frames.values())
            print(line(who, f"**all {len(d)} layers**", d))
        unseen = [u for u in (UNSEEN, UNSEEN9, FRESH9, UNSEEN27, UNSEEN27[:3], UNSEEN28,
                                  UNSEEN28[:3])
                  if set(frames) == set(u)]
        if unseen:  # the layers whose shapes no training set holds
            seen = trained_shapes(root, tuple(unseen[0]))
            d = pd.concat([f.assign(suite=s) for s, f in frames.items()])
            new = ~pd.Series([(a, b) in seen for a, b in zip(d.suite, d.layer)], index=d.index)
            print(line(who, f"**{int(new.sum())} layers of shapes in no profiler dataset**",
                       d[new.to_numpy()]))


if __name__ == "__main__":
    main()
