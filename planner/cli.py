"""``latpred plan`` and ``latpred coexec {sync,grid,bench,calibrate,cpu-rounds,run}``.

Handlers take the argparse Namespace and return an exit code; user errors raise
LatpredError (the main CLI prints one line and exits with 2).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from latpred.errors import LatpredError, bad_value

#: ``plan --tune``'s default shortlist (the H100 benches of BENCHMARKS.md section 5)
TUNE_SHORTLIST = 6
#: ``coexec calibrate --what`` values that refit sync.json alone (no correction: they
#: read only the confirmation rounds and take no residual options)
OVERHEADS_ONLY = ("overheads", "gpu-overheads", "mode-ratios")

GRID_HELP = (
    "The oracle grid: split ratios i/STEPS (snapped to each GPU configuration's tile "
    "width) plus 0 and 1, x CPU thread counts, x GPU configurations. Exhaustive search "
    "of the GPU axis is too big on real hardware, so per split every GPU configuration "
    "(implementation x parameters x work-group) is measured ALONE on its part (reference "
    "memory mode buffer; the TOP_K best again in every other memory mode), then only the "
    "TOP_K fastest of them are measured in CO-EXECUTION with every thread count. "
    "T_single = min(best CPU only, best GPU only); T_oracle = the best of the grid. "
    "Resumable: re-running skips stored configurations."
)


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="choose how to run a layer (or a network) on a CPU-GPU pair",
        description="Plan CPU-GPU co-execution from predictions: split ratio (GPU share "
                    "of the output features), CPU threads, GPU implementation x work-group "
                    "x memory mode; CPU-only and GPU-only included. Prints the chosen plan "
                    "and its predicted time next to the best single-device plan.")
    _layer_args(p)
    p.add_argument("--models", required=True,
                   help="models directory: cpu_us.pkl, gpu_total_us.pkl (or gpu_kernel_us, "
                        "gpu_dispatch_us, gpu_transfer_us .pkl), manifest.json, sync.json")
    p.add_argument("--device", default=None,
                   help="take the GPU's limits from this live OpenCL device (default: the "
                        "models' manifest); with --tune, the GPU the plans run on")
    p.add_argument("--gpu-threads", type=int, default=None,
                   help="use a sub-device of this many compute units as the GPU (PoCL)")
    _planner_args(p)
    g = p.add_argument_group("measure-and-pick (on this machine's devices)")
    g.add_argument("--tune", action="store_true",
                   help="time each layer's shortlist side by side on the live GPU (--device) "
                        "and this CPU, and keep the fastest (default --shortlist 6)")
    g.add_argument("--tune-seconds", type=float, default=None,
                   help="most seconds of timing rounds per layer (default 0.5)")
    p.add_argument("--json", action="store_true", help="one JSON object per layer")
    p.add_argument("--csv", default=None,
                   help="also write the per-layer plans to this CSV (runtime.plan_from_row "
                        "rebuilds a plan from a row)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("coexec", help="co-execution: sync overhead, oracle grid, benchmark, run")
    csub = p.add_subparsers(dest="coexec_command", metavar="COMMAND")
    p.set_defaults(func=lambda a: _no_sub(p))

    q = csub.add_parser(
        "sync", help="measure co-execution overhead per sync mechanism into MODELS/sync.json",
        description="Run three small linear layers split in half, co-executed and each part "
                    "alone, for every memory mode (sync mechanism) of the GPU; store "
                    "overhead = T(co-executed) - max(T(parts)) as base + per-MiB in "
                    "MODELS/sync.json for the planner.")
    _device_args(q)
    q.add_argument("--models", required=True, help="models directory (sync.json goes here)")
    q.add_argument("--threads", type=int, default=1, help="CPU threads of the CPU part")
    q.add_argument("--mem-modes", default=None, help="comma-separated (default: all)")
    q.add_argument("--quick", action="store_true", help="short timing policy")
    q.set_defaults(func=cmd_sync)

    q = csub.add_parser("grid", help="measure the oracle grid of layers (resumable)",
                        description=GRID_HELP)
    _layer_args(q)
    _device_args(q)
    _grid_args(q)
    q.add_argument("--out", required=True, help="dataset directory (created; resumable)")
    q.set_defaults(func=cmd_grid)

    q = csub.add_parser(
        "bench", help="measure T_single, T_oracle and T_plan per layer of a suite",
        description="Per layer: T_single (best single device, measured), T_oracle (best of "
                    "the oracle grid, measured) and T_plan (measured time of the plan chosen "
                    "from predictions alone); prints speedups T_single/T_plan, "
                    "T_single/T_oracle and efficiency T_oracle/T_plan (geometric means), "
                    "writes bench.csv, bench.parquet, summary.json, bench.png. " + GRID_HELP)
    q.add_argument("--models", required=True, help="models directory (see `latpred plan`)")
    q.add_argument("--suite", required=True,
                   help="a shipped suite's name or a suite file (see `latpred suite`)")
    q.add_argument("--limit-layers", type=int, default=None, help="only the first N layers")
    q.add_argument("--layer", action="append", default=None, help="only these layer names")
    q.add_argument("--pass", dest="pass_", default="forward",
                   help="linear suites: forward, backward_input or backward_weight")
    _device_args(q)
    _grid_args(q)
    _planner_args(q)
    q.add_argument("--confirm-top", type=int, default=4,
                   help="re-measure, interleaved, the plan, the grid's N fastest and its best "
                        "single-device configurations of each layer, and take T_plan, "
                        "T_single, T_oracle from those medians (0: grid numbers only; "
                        "default 4)")
    q.add_argument("--confirm-seconds", type=float, default=None,
                   help="most seconds of confirmation rounds per layer (default 4; "
                        "--quick shortens the grid's timing, not the confirmation's)")
    q.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                   help="also plan with the predictors of models directory DIR (same "
                        "options) and confirm that plan in the same rounds: a paired "
                        "comparison, columns *_NAME (repeatable)")
    q.add_argument("--out", required=True, help="output directory")
    q.set_defaults(func=cmd_bench)

    q = csub.add_parser(
        "calibrate", help="recalibrate predictors on runtime measurements (grids)",
        description="Fit a correction of the CPU and GPU-total predictors in MODELS on the "
                    "single-device rows of co-execution grids and benches (runtime "
                    "measurements of other layers) and write a complete models directory "
                    "with the corrected predictors to OUT. Prints, suite by suite, the "
                    "predictors' errors on those rows next to a correction fitted on the "
                    "other suites only.")
    q.add_argument("--models", required=True, help="models directory (see `latpred plan`)")
    q.add_argument("--grid", action="append", default=[], metavar="PATH",
                   help="a grid or confirmation dataset, or a directory searched for grid/ "
                        "and confirm/ datasets (repeatable; every --what but cpu-ranking)")
    q.add_argument("--cpu-rounds", action="append", default=[], metavar="DATASET",
                   help="cpu-ranking: a `coexec cpu-rounds` dataset (repeatable)")
    q.add_argument("--exclude-suite", action="append", default=[], metavar="SUITE",
                   help="leave this suite's rows out (repeatable)")
    q.add_argument("--out", required=True, help="new models directory (must not exist)")
    q.add_argument("--no-check", action="store_true",
                   help="skip the suite-by-suite held-out check")
    q.add_argument("--relative", action="store_true",
                   help="correction: learn only how a layer's configurations rank against "
                        "each other (the residual minus its mean over the layer's rows), the "
                        "predictor's level kept (RuntimeCalibrated(relative=True))")
    q.add_argument("--native", action="store_true",
                   help="write the corrected predictors as native exports (OUT/<target>/: "
                        "model files + predictor.json, loadable with other library versions) "
                        "instead of pickles")
    q.add_argument("--target", action="append", default=[], metavar="TARGET",
                   help="correction: correct only this predictor (cpu_us, gpu_total_us; "
                        "repeatable; default both)")
    q.add_argument("--trees", type=int, default=None, metavar="N",
                   help="correction, cpu-ranking: trees of the residual model "
                        "(default 300; fewer plan faster, each GPU row pays for every tree)")
    q.add_argument("--residual-model", choices=["lightgbm", "xgboost"], default=None,
                   help="correction, cpu-ranking: the residual's library (default lightgbm, "
                        "15-leaf trees; xgboost: depth-4 trees, faster to predict)")
    q.add_argument("--seed", type=int, default=None, metavar="N",
                   help="correction, cpu-ranking: seed of the residual's row and column "
                        "subsampling (default 0)")
    q.add_argument("--fade-doublings", type=float, default=None, metavar="D",
                   help="correction, cpu-ranking: beyond the runtime rows' largest FLOPs and "
                        "bytes moved the correction fades to none over D doublings (default "
                        "1; 0: it applies at every size)")
    q.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                   help="correction, cpu-ranking: the residual's learning rate (default 0.03 "
                        "x 300 / --trees: the same shrinkage in all)")
    q.add_argument("--what", choices=["correction", "overheads", "gpu-overheads", "both",
                                      "cpu-ranking", "mode-ratios", "thread-neighbours"],
                   default="correction",
                   help="correction: the predictors' LightGBM correction; overheads: the "
                        "runtime's overhead around GPU-only plans per memory mode (a constant "
                        "and a curve over the activations moved) and its factor on CPU-only "
                        "plans per thread count (a curve over the layer's FLOPs), refitted "
                        "on the confirmation rounds, and a factor on split plans per memory "
                        "mode, on the split plans of every dataset (sync.json; predictors "
                        "copied); gpu-overheads: only the GPU-only overheads per memory mode "
                        "and their curves (the CPU factors and split factors kept: after a "
                        "change of the runtime that moves only GPU plans); both; "
                        "cpu-ranking: a relative correction of the CPU "
                        "predictor (how a layer's thread counts rank, its level kept) fitted "
                        "on --cpu-rounds datasets (thread counts timed as the runtime times "
                        "plans); it replaces sync.json's CPU-only thread factors, which the "
                        "new directory drops; mode-ratios: per memory mode, a GPU-only "
                        "plan's wall time over the same configuration's in buffer mode, by "
                        "the activations moved, from the confirmation rounds' pairs "
                        "(sync.json's single_ratio_by_mib; the planner then scores GPU-only "
                        "plans of those modes through it); thread-neighbours: the thread-count "
                        "profiles of every layer the datasets timed CPU-only at each of "
                        "--threads (sync.json's cpu_thread_neighbours; the planner then "
                        "reorders a CPU-only plan's thread counts by its nearest neighbours')")
    q.add_argument("--threads", default="4,8,12,15,16", metavar="T,T,...",
                   help="thread-neighbours: the thread counts a reference layer must have "
                        "been timed at (default 4,8,12,15,16: the benches')")
    q.add_argument("--neighbours", type=int, default=None, metavar="K",
                   help="thread-neighbours: layers averaged per planned layer (default 10)")
    q.add_argument("--rounds", choices=["mean", "median"], default="mean",
                   help="overheads: a row's wall time over the rounds that timed it, the "
                        "mean (default: expected over the host states met, so a memory mode "
                        "or thread count that is sometimes far slower pays for it) or the "
                        "median (the typical round; what sessions before 11 fitted)")
    q.add_argument("--keep-below-mib", type=float, default=None, metavar="MIB",
                   help="overheads, gpu-overheads: refit the GPU-only overhead curves above "
                        "MIB MiB of activations only; the models' knots at or below it and "
                        "the memory modes' constants are kept (default: refit all)")
    q.add_argument("--min-band-layers", type=int, default=1, metavar="K",
                   help="overheads, gpu-overheads: a knot of the GPU-only overhead curves "
                        "needs rows of at least K distinct layer shapes (sparser octaves are "
                        "pooled with the next; default 1: rows alone count)")
    q.add_argument("--split-floor", choices=["none", "single"], default=None,
                   help="overheads, gpu-overheads: sync.json's split_floor, what a split "
                        "plan's overhead is at least: none (its sync line) or single (the "
                        "GPU-only overhead of the activations its GPU part moves) (default: "
                        "kept)")
    q.set_defaults(func=cmd_calibrate)

    q = csub.add_parser(
        "cpu-rounds", help="CPU training data timed as the runtime times plans (resumable)",
        description="Time every BLAS thread count of each layer as CPU-only plans of the "
                    "runtime, interleaved in rounds as the bench confirms finalists "
                    "(optionally beside the planner's best GPU-only plan), into a dataset in "
                    "the profiler's schema (backend cpu) for `latpred train --target "
                    "cpu_us`. Resumable: re-running skips stored layers.")
    q.add_argument("--from", dest="from_", action="append", default=[], metavar="DATASET",
                   help="the forward layer shapes of this profiler dataset's CPU rows "
                        "(repeatable)")
    q.add_argument("--max-best-us", type=float, default=None,
                   help="with --from: only shapes whose fastest CPU row took at most this")
    q.add_argument("--suite", action="append", default=[], metavar="NAME",
                   help="the layers of this suite: a shipped name or a suite file "
                        "(repeatable)")
    q.add_argument("--threads", default=None, help="BLAS thread counts (default 1..cores)")
    _device_args(q)
    q.add_argument("--models", default=None,
                   help="time the best GPU-only plan of these predictors in the same rounds "
                        "(needs --device)")
    q.add_argument("--seconds", type=float, default=None,
                   help="most seconds of rounds per layer (default 1)")
    q.add_argument("--deadline-s", type=float, default=None,
                   help="start no layer once this many seconds of measuring have passed (the rest: a rerun)")
    q.add_argument("--seed", type=int, default=0, help="seed of the inputs and the order")
    q.add_argument("--out", required=True, help="dataset directory (created; resumable)")
    q.set_defaults(func=cmd_cpu_rounds)

    q = csub.add_parser("run", help="run one plan on random inputs: verify and time it")
    _layer_args(q)
    _device_args(q)
    q.add_argument("--ratio", type=float, default=None, help="GPU share in [0, 1]")
    q.add_argument("--split-n", type=int, default=None, help="GPU output features [0, N)")
    q.add_argument("--impl", default=None, help="GPU implementation")
    q.add_argument("--params", default="{}", help="GPU implementation parameters (JSON)")
    q.add_argument("--local-size", default="driver", help="work-group AxBxC or driver")
    q.add_argument("--mem-mode", default="auto",
                   help="sync: auto (svm_fine > svm_coarse > buffer), buffer, map, "
                        "svm_coarse, svm_fine")
    q.add_argument("--threads", type=int, default=1, help="CPU BLAS threads")
    q.add_argument("--quick", action="store_true", help="short timing policy")
    q.set_defaults(func=cmd_run)


def _no_sub(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


# -- shared arguments -------------------------------------------------------------------------
def _layer_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("layer (one of --op ... or --suite)")
    g.add_argument("--suite", default=None,
                   help="a layer suite: a shipped name (e.g. resnet50) or a suite file "
                        "(`latpred suite from-onnx` writes one)")
    g.add_argument("--layer", action="append", default=None, help="only these suite layers")
    g.add_argument("--limit-layers", type=int, default=None, help="only the first N layers")
    g.add_argument("--op", default=None, help="linear or conv2d")
    g.add_argument("--m", type=int, default=None, help="linear: batch rows")
    g.add_argument("--n", type=int, default=None, help="linear: output features")
    g.add_argument("--k", type=int, default=None, help="linear: input features")
    g.add_argument("--pass", dest="pass_", default="forward",
                   help="linear: forward, backward_input or backward_weight")
    for name in ("batch", "in-channels", "out-channels", "height", "width", "kernel",
                 "stride", "padding", "dilation", "groups"):
        g.add_argument(f"--{name}", type=int, default=None, help=f"conv2d: {name}")


def _device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None,
                   help="OpenCL device of the GPU role: index or name substring (default: "
                        "the first GPU)")
    p.add_argument("--gpu-threads", type=int, default=None,
                   help="use a sub-device of this many compute units as the GPU (PoCL)")


def _grid_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("oracle grid")
    g.add_argument("--steps", type=int, default=16, help="split grid steps (default 16)")
    g.add_argument("--threads", default=None,
                   help="CPU thread counts, e.g. 1,2,4 (default 1,2,4,...,cores)")
    g.add_argument("--top-k", type=int, default=3,
                   help="GPU configurations per split taken into co-execution (default 3)")
    g.add_argument("--impl", action="append", default=None, help="only these GPU kernels")
    g.add_argument("--mem-modes", default=None, help="comma-separated (default: all)")
    g.add_argument("--max-local-sizes", type=int, default=None,
                   help="at most N work-group sizes per implementation x params")
    g.add_argument("--quick", action="store_true", help="short timing policy")
    g.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _planner_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("planner")
    has_steps = any(a.dest == "steps" for a in p._actions)
    g.add_argument("--plan-steps", type=int, default=None,
                   help="planner split grid steps (default: "
                        + ("--steps if given, else 16)" if has_steps else "16)"))
    g.add_argument("--margin", type=float, default=3.0,
                   help="a split must be predicted this many %% faster than the best single "
                        "device (default 3)")
    g.add_argument("--risk", default="none",
                   help="none, or p90: score plans by the upper ends of the predictors' "
                        "prediction intervals")
    g.add_argument("--gpu-model", default="auto", help="auto, components or total")
    g.add_argument("--exhaustive", action="store_true",
                   help="predict every GPU configuration at every split (no top-k pruning)")
    g.add_argument("--shortlist", type=int, default=None,
                   help="plans per layer to measure and pick from (planner.tune): the plan "
                        "and its best alternatives (default 1: the plan alone; 6 with "
                        "plan --tune)")
    g.add_argument("--sync-us", type=float, default=None,
                   help="assume this co-execution overhead (us) instead of sync.json")
    g.add_argument("--as-trained", action="store_true",
                   help="plan a live GPU the predictors were not trained on with their "
                        "GPU's predictions (default: refuse it)")
    g.add_argument("--predict-threads", type=int, default=1,
                   help="threads of the predictors' boosters (default 1: the cores stay free "
                        "for a co-executing CPU part; more plan faster on an idle host)")
    if not any(a.dest == "threads" for a in p._actions):
        g.add_argument("--threads", default=None, help="CPU thread counts (default 1..cores)")
    if not any(a.dest == "impl" for a in p._actions):
        g.add_argument("--impl", action="append", default=None, help="only these GPU kernels")
    if not any(a.dest == "mem_modes" for a in p._actions):
        g.add_argument("--mem-modes", default=None, help="comma-separated (default: all)")
    if not any(a.dest == "max_local_sizes" for a in p._actions):
        g.add_argument("--max-local-sizes", type=int, default=None,
                       help="at most N work-group sizes per implementation x params")


# -- parsing helpers -------------------------------------------------------------------------
def layer_items(args: argparse.Namespace) -> list[Any]:
    """The layers named on the command line as oracle LayerItems (suite or --op shape)."""
    from latpred.datasets import suites
    from latpred.planner.oracle import LayerItem
    from latpred.profiler.problems import PASSES, ConvLayer, LinearLayer

    pass_ = getattr(args, "pass_", "forward")
    if pass_ not in PASSES:
        raise bad_value("pass", pass_, f"must be one of {', '.join(PASSES)}")
    suite = getattr(args, "suite", None)
    if suite and getattr(args, "op", None) is not None:
        raise bad_value("op", args.op, "give --op with its shape or --suite, not both")
    if suite:
        items = []
        label = suites.suite_label(suite)  # a suite file's rows carry its name
        for name, count, layer in suites.suite_layers(suite):
            if isinstance(layer, LinearLayer) and pass_ != "forward":
                layer = LinearLayer(layer.m, layer.n, layer.k, pass_)
            items.append(LayerItem(label, name, layer, count))
        wanted = getattr(args, "layer", None)
        if wanted:
            known = {it.name for it in items}
            for w in wanted:
                if w not in known:
                    raise bad_value("layer", w, f"not in suite {label}")
            items = [it for it in items if it.name in wanted]
        limit = getattr(args, "limit_layers", None)
        if limit is not None:
            if limit < 1:
                raise bad_value("limit-layers", limit, "must be >= 1")
            items = items[:limit]
        return items
    op = getattr(args, "op", None)
    if op in ("linear", "conv2d"):
        from latpred.profiler.cli import refuse_other_op_args

        refuse_other_op_args(args, op)
    if op == "linear":
        missing = [f"--{f}" for f in ("m", "n", "k") if getattr(args, f) is None]
        if missing:
            raise bad_value("op", op, f"needs {', '.join(missing)}")
        layer = LinearLayer(args.m, args.n, args.k, pass_)
        return [LayerItem("cli", f"linear_{args.m}x{args.n}x{args.k}_{pass_}", layer)]
    if op == "conv2d":
        need = ("in_channels", "out_channels", "height", "width", "kernel")
        missing = ["--" + f.replace("_", "-") for f in need if getattr(args, f) is None]
        if missing:
            raise bad_value("op", op, f"needs {', '.join(missing)}")
        kw = {f: getattr(args, f) for f in ("batch", "stride", "padding", "dilation", "groups")
              if getattr(args, f) is not None}
        layer = ConvLayer(in_channels=args.in_channels, out_channels=args.out_channels,
                          height=args.height, width=args.width, kernel_h=args.kernel,
                          kernel_w=args.kernel, **{"batch": 1, **kw})
        return [LayerItem("cli", f"conv_{args.in_channels}x{args.out_channels}_"
                                 f"{args.height}x{args.width}_k{args.kernel}", layer)]
    if op is None:
        raise bad_value("op", None, "give --op linear|conv2d with its shape, or --suite")
    raise bad_value("op", op, "must be linear or conv2d")


def _int_list(field: str, text: str | None) -> list[int] | None:
    if text is None:
        return None
    from latpred.profiler.cli import parse_int_list

    return parse_int_list(field, text)


def _modes(text: str | None) -> list[str] | None:
    if not text:
        return None
    from latpred.profiler.backends.opencl import MEM_MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    for m in modes:
        if m not in MEM_MODES:
            raise bad_value("mem-modes", m, f"must be among {', '.join(MEM_MODES)}")
    return modes


def _impls(names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    from latpred.profiler.kernels import get

    for n in names:
        get(n)  # LatpredError if unknown
    return names


def gpu_device(args: argparse.Namespace) -> Any:
    """The OpenCLDevice of the GPU role (--device, --gpu-threads)."""
    from latpred.profiler.backends.opencl import OpenCLDevice
    from latpred.profiler.devices import select_device

    dev = select_device(args.device, kind="GPU")
    threads = getattr(args, "gpu_threads", None)
    if threads is not None and threads < 1:
        raise bad_value("gpu-threads", threads, "must be >= 1")
    return OpenCLDevice(dev, threads=threads)


def device_pair(preds: Any, gpu_dev: Any, as_trained: bool = False
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(GPU metadata, CPU metadata) to plan for: the live GPU if given, else the models'
    manifest; the manifest's numpy CPU, else this host.

    A live GPU the predictors were not trained on is refused (their features know the
    devices of their training rows only), unless ``as_trained``: then it is planned with
    the predictions of the predictors' (first) GPU, under the live GPU's own limits
    (work-group size, memory modes), i.e. the live metadata under the trained GPU's name.

    Raises:
        LatpredError: no GPU anywhere, or a live GPU the predictors do not know.
    """
    import logging

    from latpred.models.candidates import device_backend
    from latpred.planner.predictors import device_names
    from latpred.profiler.devices import cl_device_info, cpu_info

    log = logging.getLogger(__name__)
    manifest_gpu = preds.device("GPU")
    here: dict[str, Any] | None = None  # this host's CPU, read once
    if gpu_dev is not None:
        gpu = cl_device_info(gpu_dev.device)
        if gpu["name"] not in device_names(preds.devices) and manifest_gpu is not None:
            trained = manifest_gpu.get("name")
            if not as_trained:
                raise bad_value("device", gpu["name"],
                                f"the predictors in {preds.source} were trained on "
                                f"{trained!r}: profile this GPU (scripts/new_pair.sh), or "
                                "pass --as-trained to plan it with their GPU's predictions")
            log.warning("planning %s with the predictions of %s (--as-trained)",
                        gpu["name"], trained)
            gpu = {**gpu, "name": trained}
        here = cpu_info()
        trained_cpu = (preds.device("CPU") or {}).get("name")
        if trained_cpu and here.get("name") != trained_cpu:
            log.warning("this host's CPU is %s; the CPU predictor was trained on %s",
                        here.get("name"), trained_cpu)
    elif manifest_gpu is not None:
        gpu = manifest_gpu
        gpus = [n for n, info in preds.devices.items() if device_backend(info) == "gpu"]
        if len(gpus) > 1 and gpu.get("name") not in preds.named:
            log.warning("planning for %s, the first of the %d GPUs the predictors know "
                        "(%s): pass --device, or name one in %s/manifest.json", gpu.get("name"),
                        len(gpus), ", ".join(gpus), preds.source)
    else:
        raise bad_value("models", preds.source, "the manifest names no GPU: pass --device")
    return gpu, preds.device("CPU") or here or cpu_info()


def load_models(models_dir: str, gpu_dev: Any = None, as_trained: bool = False
                ) -> tuple[Any, dict[str, Any], dict[str, Any], Any]:
    """(Predictors, GPU metadata, CPU metadata, SyncModel) of a models directory, for the
    live GPU if given (``device_pair``), else the models' own devices."""
    from latpred.planner.predictors import Predictors
    from latpred.planner.sync import SyncModel

    preds = Predictors.load(models_dir)
    gpu, cpu = device_pair(preds, gpu_dev, as_trained)
    return preds, gpu, cpu, SyncModel.load(models_dir, gpu.get("name"), cpu.get("name"))


def make_planner(args: argparse.Namespace, gpu_dev: Any = None) -> Any:
    from latpred.planner.planner import Planner, PlannerOptions
    from latpred.planner.predictors import Predictors
    from latpred.planner.sync import SyncModel

    preds = Predictors.load(args.models)
    preds.set_predict_threads(getattr(args, "predict_threads", 1))
    if gpu_dev is None and getattr(args, "device", None) is not None:
        gpu_dev = gpu_device(args)
    gpu, cpu = device_pair(preds, gpu_dev, getattr(args, "as_trained", False))
    if args.sync_us is not None and args.sync_us < 0:
        raise bad_value("sync-us", args.sync_us, "must be >= 0")
    if not 0 <= args.margin < 100:
        raise bad_value("margin", args.margin, "must be a percentage in [0, 100)")
    steps = args.plan_steps or getattr(args, "steps", None) or 16
    opts = PlannerOptions(
        steps=steps, margin=args.margin / 100.0, risk=args.risk, gpu_model=args.gpu_model,
        cpu_threads=tuple(_int_list("threads", args.threads) or ()) or None,
        mem_modes=tuple(_modes(args.mem_modes) or ()) or None,
        impls=tuple(_impls(args.impl) or ()) or None,
        max_local_sizes=args.max_local_sizes,
        prune_top_k=None if args.exhaustive else PlannerOptions.prune_top_k,
        cpu_top_k=None if args.exhaustive else PlannerOptions.cpu_top_k,
        shortlist=args.shortlist if args.shortlist is not None
        else TUNE_SHORTLIST if getattr(args, "tune", False) else 1,
    ).validate()  # before loading sync.json (it may warn): a bad option is the one line
    sync = (SyncModel.constant(args.sync_us) if args.sync_us is not None
            else SyncModel.load(args.models, gpu.get("name"), cpu.get("name")))
    return Planner(preds, gpu, cpu, sync, opts)


def _policy(quick: bool) -> Any:
    from latpred.profiler.harness import QUICK, TimingPolicy

    return QUICK if quick else TimingPolicy()


def grid_config(args: argparse.Namespace) -> Any:
    from latpred.planner.oracle import GridConfig, default_threads

    return GridConfig(
        steps=args.steps, threads=_int_list("threads", args.threads) or default_threads(),
        top_k=args.top_k, impls=_impls(args.impl), mem_modes=_modes(args.mem_modes),
        max_local_sizes=args.max_local_sizes, policy=_policy(args.quick), seed=args.seed,
    ).validate()


# -- handlers ----------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    import time

    from latpred.planner.planner import network_summary

    items = layer_items(args)
    policy = _tune_policy(args.tune_seconds) if args.tune else None
    if args.tune_seconds is not None and not args.tune:
        raise bad_value("tune-seconds", args.tune_seconds, "only with --tune")
    gpu_dev = gpu_device(args) if args.tune or args.gpu_threads is not None else None
    planner = make_planner(args, gpu_dev)
    t0 = time.perf_counter()
    choices = planner.plan_layers([(it.name, it.count, it.layer) for it in items])
    ms = (time.perf_counter() - t0) * 1e3
    tuned: list[Any] = [None] * len(choices)  # a TuneResult per layer with --tune
    if policy is not None:
        from latpred.planner.tune import tune_choices

        t0 = time.perf_counter()
        tuned = tune_choices(choices, gpu_dev, policy)
        tune_s = time.perf_counter() - t0
    rows = [ch.as_row() if res is None else {**res.apply(ch).as_row(), **res.measured_row()}
            for ch, res in zip(choices, tuned)]
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
    if args.json:
        for row in rows:
            print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v)
                              for k, v in row.items()}, default=_json_default))
        return 0
    for ch, res in zip(choices, tuned):
        print(f"{ch.name}: {ch.plan.describe()}")
        print(f"    predicted {ch.plan_us:.1f} us (CPU {ch.cpu_us:.1f}, GPU {ch.gpu_us:.1f}, "
              f"sync {ch.sync_us:.1f}); best single device: {ch.single.describe()} "
              f"{ch.single_us:.1f} us; speedup {ch.predicted_speedup:.3f}x ({ch.reason})")
        for alt, us in ch.shortlist[1:]:
            print(f"    alternative: {alt.describe()} predicted {us:.1f} us")
        if res is not None:
            print(f"    measured: {_measured_line(res)}")
    if len(choices) > 1:
        s = network_summary(choices)
        print(f"network ({s['layers']} layers, {s['split_layers']} split, count-weighted): "
              f"plan {s['plan_us']:.0f} us vs single {s['single_us']:.0f} us, predicted "
              f"speedup {s['predicted_speedup']:.3f}x; planned in {ms:.1f} ms")
    if policy is not None:
        plan_us = sum(ch.count * r.predicted_plan_measured_us for ch, r in zip(choices, tuned))
        best_us = sum(ch.count * r.total_us for ch, r in zip(choices, tuned))
        print(f"measured on {gpu_dev.name} + this CPU (count-weighted): predicted plans "
              f"{plan_us:.0f} us, measure-and-pick {best_us:.0f} us "
              f"({sum(r.changed for r in tuned)} of {len(tuned)} layers changed); "
              f"timed in {tune_s:.1f} s")
    return 0


def _tune_policy(seconds: float | None) -> Any:
    """The timing rounds' stopping rule of ``plan --tune``."""
    import dataclasses

    from latpred.planner.tune import TUNE_POLICY

    if seconds is None:
        return TUNE_POLICY
    if not seconds > 0:
        raise bad_value("tune-seconds", seconds, "must be positive")
    return dataclasses.replace(TUNE_POLICY, max_seconds=seconds)


def _measured_line(res: Any) -> str:
    """One line: the measured pick against the predicted plan's measurement."""
    if not res.changed:
        return f"the plan is the fastest of {res.n_timed} timed, {res.total_us:.1f} us"
    return (f"{res.plan.describe()} {res.total_us:.1f} us, the fastest of {res.n_timed} timed "
            f"(the plan: {res.predicted_plan_measured_us:.1f} us)")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def cmd_sync(args: argparse.Namespace) -> int:
    from latpred.planner.sync import measure_sync, save_sync

    if not os.path.isdir(args.models):
        raise bad_value("models", args.models, "no such directory")
    if args.threads < 1:
        raise bad_value("threads", args.threads, "must be >= 1")
    from latpred.profiler.harness import RunTimeout

    dev = gpu_device(args)
    policy = _policy(args.quick)
    try:
        entry = measure_sync(dev, args.threads, _modes(args.mem_modes), policy)
    except RunTimeout as err:  # nothing written yet
        raise bad_value("device", dev.name, f"too slow for the sync probe's layers: {err} "
                        "(the timing policy's limit); nothing written") from None
    path = save_sync(args.models, entry)
    for mode, v in entry["modes"].items():
        print(f"{mode:11s} base {v['base_us']:8.1f} us  + {v['per_mib_us']:8.1f} us/MiB")
    print("single-device runtime overhead: " + ", ".join(
        f"{side} {us:.1f} us" for side, us in entry["single"].items()))
    for mode, v in entry.get("interference", {}).items():
        print(f"{mode:11s} co-executed parts: GPU x{v['gpu']:.2f}, CPU x{v['cpu']:.2f} "
              f"({v['layer']})")
    print(f"wrote {path}")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from latpred.datasets.store import check_writable
    from latpred.planner.oracle import OracleGrid

    items = layer_items(args)
    cfg = grid_config(args)
    check_writable(args.out)
    dev = gpu_device(args)
    grid = OracleGrid(dev, cfg, args.out, progress=not args.no_progress)
    summary = grid.run(items)
    if summary.empty:
        print("no successful measurements")
        return 1
    cols = ["layer", "n_total", "t_single_us", "single_config", "t_oracle_us",
            "oracle_ratio", "oracle_config"]
    with _pd_wide():
        print(summary[cols].to_string(index=False))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import dataclasses

    from latpred.datasets.store import check_writable
    from latpred.planner.bench import format_table, run_bench, write_outputs
    from latpred.planner.confirm import ConfirmPolicy

    items = layer_items(args)
    cfg = grid_config(args)
    if args.confirm_top < 0:
        raise bad_value("confirm-top", args.confirm_top, "must be >= 0")
    policy = ConfirmPolicy()
    if args.confirm_seconds is not None:
        if args.confirm_seconds <= 0:
            raise bad_value("confirm-seconds", args.confirm_seconds, "must be positive")
        policy = dataclasses.replace(policy, max_seconds=args.confirm_seconds)
    variants = compare_dirs(args.compare)
    if variants and args.confirm_top == 0:
        raise bad_value("confirm-top", 0, "--compare needs confirmation rounds (> 0)")
    check_writable(args.out)
    dev = gpu_device(args)
    planner = make_planner(args, dev)
    compare = {name: make_planner(argparse.Namespace(**{**vars(args), "models": d}), dev)
               for name, d in variants.items()}
    table, summary = run_bench(planner, items, dev, cfg, args.out,
                               progress=not args.no_progress, confirm_top=args.confirm_top,
                               confirm_policy=policy, compare=compare)
    paths = write_outputs(table, summary, args.out,
                          f"{items[0].suite}: {dev.name} + {planner.cpu_info.get('name')}")
    print(format_table(table, summary))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def compare_dirs(specs: list[str]) -> dict[str, str]:
    """``--compare NAME=DIR`` values as name -> models directory (names: letters, digits,
    ``_``; unique; the directory must exist)."""
    import re

    out: dict[str, str] = {}
    for spec in specs:
        name, sep, d = spec.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_]+", name) or not d:
            raise bad_value("compare", spec, "must be NAME=DIR (NAME: letters, digits, _)")
        if name in out:
            raise bad_value("compare", spec, f"name {name} given twice")
        if not Path(d).is_dir():
            raise bad_value("compare", spec, f"no models directory {d}")
        out[name] = d
    return out


def grid_datasets(paths: list[str]) -> list[Path]:
    """The grid / confirmation datasets of ``--grid`` paths: a dataset itself, or every
    ``grid`` and ``confirm`` directory below a directory, in sorted order."""
    from latpred.datasets.store import JOURNAL

    def is_dataset(p: Path) -> bool:
        if p.is_file():
            return p.suffix == ".parquet"
        return any(p.glob("part-*.parquet")) or (p / JOURNAL).exists()

    out: list[Path] = []
    for text in paths:
        p = Path(text)
        if not p.exists():
            raise bad_value("grid", text, "no such file or directory")
        if is_dataset(p):
            out.append(p)
            continue
        found = sorted(d for d in p.rglob("*") if d.name in ("grid", "confirm")
                       and d.is_dir() and is_dataset(d))
        if not found:
            raise bad_value("grid", text, "holds no grid/ or confirm/ dataset")
        out += found
    return out


def cmd_calibrate(args: argparse.Namespace) -> int:
    from latpred.planner.calibrate import calibrate, held_out_errors, runtime_rows
    from latpred.planner.oracle import load_grid
    from latpred.planner.predictors import Predictors
    from latpred.planner.sync import save_sync

    out = Path(args.out)
    if out.exists():
        raise bad_value("out", args.out, "already exists (give a new directory)")
    if not out.parent.is_dir():
        raise bad_value("out", args.out, f"parent directory {out.parent} does not exist")
    from latpred.planner.calibrate import CALIBRATED_TARGETS

    for t in args.target:
        if t not in CALIBRATED_TARGETS:
            raise bad_value("target", t, f"must be one of {', '.join(CALIBRATED_TARGETS)}")
    if (args.relative or args.target) and args.what not in ("correction", "both"):
        raise bad_value("what", args.what, "--relative and --target shape a correction "
                        "(--what correction or both)")
    residual = _residual_params(args)
    preds, gpu, cpu, _sync = load_models(args.models)
    if args.what == "cpu-ranking":
        return _calibrate_cpu_ranking(args, preds, cpu, out, residual)
    if args.cpu_rounds:
        raise bad_value("cpu-rounds", args.cpu_rounds[0], "is read by --what cpu-ranking only")
    if args.keep_below_mib is not None:
        if args.what not in ("overheads", "gpu-overheads", "both"):
            raise bad_value("keep-below-mib", args.keep_below_mib,
                            "shapes the GPU-only overheads (--what overheads, gpu-overheads "
                            "or both)")
        if not args.keep_below_mib > 0:
            raise bad_value("keep-below-mib", args.keep_below_mib, "must be > 0")
    if args.split_floor is not None and args.what not in ("overheads", "gpu-overheads",
                                                          "both"):
        raise bad_value("split-floor", args.split_floor, "is a GPU overhead setting (--what "
                        "overheads, gpu-overheads or both)")
    if args.min_band_layers < 1:
        raise bad_value("min-band-layers", args.min_band_layers, "must be >= 1")
    if not args.grid:
        raise bad_value("grid", None, f"--what {args.what} needs --grid")
    paths = grid_datasets(args.grid)
    grids = {p: load_grid(p) for p in paths}
    if args.what == "thread-neighbours":
        entry = _fit_thread_neighbours(args, grids, gpu, cpu)
        _write_models_dir(Path(args.models), out, {}, args.native,
                          lambda d: save_sync(d, entry))
        print(f"wrote {out}: fitted CPU thread-count neighbours")
        return 0
    # the overheads come from confirmation rounds (modes timed side by side); the correction
    # from every dataset
    confirm = [g for p, g in grids.items() if p.name == "confirm"]
    if args.what != "correction" and not confirm:
        raise bad_value("grid", args.grid[0], "holds no confirmation round (confirm/) "
                        "to refit the overheads from")
    only_overheads = args.what in OVERHEADS_ONLY
    used = confirm if only_overheads else list(grids.values())
    rows = runtime_rows(used, gpu, cpu, args.exclude_suite)
    n = {t: len(r) for t, r in rows.items()}
    print(f"{len(used)} datasets: " + ", ".join(
        f"{t} {k} rows ({len(set(rows[t].suite))} suites)" for t, k in n.items()))
    if not any(n.values()):
        raise bad_value("grid", args.grid[0], "holds no ok CPU-only or GPU-only row "
                        "(outside the excluded suites)")
    fitted: dict[str, Any] = {}
    if not only_overheads:
        targets = set(args.target or rows)
        corrected = {t: r for t, r in rows.items() if t in targets}
        params = {**residual, **({"relative": True} if args.relative else {})} or None
        if not args.no_check:
            check = held_out_errors(preds, corrected, params)
            if len(check):
                print("held out suite by suite (the correction fitted on the other suites):")
                print(check.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        fitted = calibrate(preds, corrected, params)
    sync_entry = None
    if args.what == "mode-ratios":
        sync_entry = _refit_mode_ratios(Path(args.models), rows, gpu, cpu, args.rounds)
    elif args.what != "correction":
        sync_entry = _refit_overheads(Path(args.models), Predictors(
            {**preds.models, **fitted}, preds.devices, preds.source),
            rows if only_overheads else
            runtime_rows(confirm, gpu, cpu, args.exclude_suite), gpu, cpu, args.rounds,
            list(grids.values()), args.exclude_suite or (), gpu_only=args.what == "gpu-overheads",
            keep_below_mib=args.keep_below_mib, min_band_layers=args.min_band_layers)
        if args.split_floor is not None:
            sync_entry["split_floor"] = args.split_floor
    _write_models_dir(Path(args.models), out, fitted, args.native,
                      None if sync_entry is None else
                      lambda d: save_sync(d, sync_entry))  # this pair's entry replaced
    what = [f"calibrated {', '.join(sorted(fitted))}"
            + (" (relative)" if args.relative else "")] if fitted else []
    if sync_entry is not None:
        what.append("fitted memory-mode ratios" if args.what == "mode-ratios"
                    else "refitted GPU-only overheads")
    print(f"wrote {out}: {'; '.join(what)}")
    return 0


def _residual_params(args: argparse.Namespace) -> dict[str, Any]:
    """``RuntimeCalibrated`` parameters from --trees / --learning-rate / --residual-model /
    --seed ({} for the defaults); one-line errors for values out of range or a --what that
    fits no residual."""
    given = {"trees": args.trees, "learning-rate": args.learning_rate,
             "residual-model": args.residual_model, "seed": args.seed,
             "fade-doublings": args.fade_doublings}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return {}
    if args.what in OVERHEADS_ONLY:
        name = next(iter(given))
        raise bad_value("what", args.what, f"fits no residual model: --{name} shapes a "
                        "correction (correction, both, cpu-ranking)")
    out: dict[str, Any] = {}
    if args.residual_model is not None:
        out["model_type"] = args.residual_model
    if args.seed is not None:
        if args.seed < 0:
            raise bad_value("seed", args.seed, "must be >= 0")
        out["random_state"] = args.seed
    if args.fade_doublings is not None:
        if args.fade_doublings < 0:
            raise bad_value("fade-doublings", args.fade_doublings, "must be >= 0 (0: no fade)")
        out["fade_doublings"] = args.fade_doublings or None
    if args.trees is None and args.learning_rate is None:
        return out
    from latpred.models.calibrated import RuntimeCalibrated

    defaults = RuntimeCalibrated().get_params()
    trees = defaults["n_estimators"] if args.trees is None else args.trees
    if trees < 1:
        raise bad_value("trees", trees, "must be >= 1")
    rate = (defaults["learning_rate"] * defaults["n_estimators"] / trees
            if args.learning_rate is None else args.learning_rate)
    if not 0 < rate <= 1:
        raise bad_value("learning-rate", rate, "must be in (0, 1]")
    return {**out, "n_estimators": trees, "learning_rate": rate}


def _write_models_dir(models: Path, out: Path, fitted: dict[str, Any], native: bool,
                      edit_sync: Callable[[Path], Any] | None = None) -> None:
    """A complete models directory at ``out``: ``models``' files and native exports but
    those of the ``fitted`` targets, which are saved instead (``OUT/<target>.pkl``, or the
    native export ``OUT/<target>/``), then ``edit_sync(dir)`` on the copied sync.json;
    written aside and renamed: nothing half-written."""
    import shutil
    import tempfile

    import joblib
    from latpred.models.persist import NATIVE_JSON, export_native

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for f in models.iterdir():
            if f.is_file() and f.stem not in fitted:
                shutil.copy2(f, tmp / f.name)
            elif f.is_dir() and f.name not in fitted and (f / NATIVE_JSON).exists():
                shutil.copytree(f, tmp / f.name)  # a native export (DIR/<target>/)
        for target, model in fitted.items():
            if native:
                export_native(model, tmp / target)
            else:
                joblib.dump(model, tmp / f"{target}.pkl")
        if edit_sync is not None:
            edit_sync(tmp)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _calibrate_cpu_ranking(args: argparse.Namespace, preds: Any, cpu: dict[str, Any],
                           out: Path, residual: dict[str, Any]) -> int:
    """``coexec calibrate --what cpu-ranking``: the CPU predictor times a relative correction
    fitted on cpu-rounds datasets; the models directory copied, its pair's CPU-only thread
    factors dropped (the correction ranks thread counts in their place)."""
    from latpred.datasets.store import load
    from latpred.models.calibrated import RuntimeCalibrated
    from latpred.models.targets import target_rows
    from latpred.planner.predictors import CPU_TARGET
    from latpred.planner.sync import SYNC_FILE

    if not args.cpu_rounds:
        raise bad_value("cpu-rounds", None, "--what cpu-ranking needs a --cpu-rounds dataset")
    if args.grid:
        raise bad_value("grid", args.grid[0], "is not read by --what cpu-ranking")
    if not preds.has(CPU_TARGET):
        raise bad_value("models", args.models, f"has no {CPU_TARGET} predictor")
    data = load(args.cpu_rounds)
    if "suite" in data.columns and args.exclude_suite:
        data = data[~data["suite"].isin(args.exclude_suite)]
    X, y = target_rows(data, CPU_TARGET)
    if not len(y):
        raise bad_value("cpu-rounds", args.cpu_rounds[0], "holds no ok CPU row (outside the "
                        "excluded suites)")
    other = sorted(set(X["device"].astype(str)) - {cpu["name"]})
    if other:
        raise bad_value("device", other[0], f"the rounds were not timed on the models' CPU "
                                            f"{cpu['name']}")
    model = RuntimeCalibrated(preds.models[CPU_TARGET], relative=True, **residual).fit(X, y)
    print(f"{CPU_TARGET}: relative correction on {len(y)} rows of "
          f"{X['threads'].nunique()} thread counts")

    def drop_thread_factors(d: Path) -> None:
        path = d / SYNC_FILE
        if not path.exists():
            return
        data = json.loads(path.read_text())
        dropped = [e.pop("cpu_by_threads", None) for e in data.get("pairs", {}).values()
                   if e.get("cpu") == cpu["name"]]
        path.write_text(json.dumps(data, indent=1))
        if any(dropped):
            print(f"dropped sync.json's CPU-only thread factors of {cpu['name']}")

    _write_models_dir(Path(args.models), out, {CPU_TARGET: model}, args.native,
                      drop_thread_factors)
    print(f"wrote {out}: {CPU_TARGET} with a relative correction (cpu-ranking)")
    return 0


def _sync_entry(models: Path, gpu: dict[str, Any], cpu: dict[str, Any]) -> dict[str, Any]:
    """The pair's entry of ``models``' sync.json (a one-line error if there is none)."""
    from latpred.planner.sync import SYNC_FILE, pair_key

    path = models / SYNC_FILE
    if not path.exists():
        raise bad_value("models", str(models), "has no sync.json to refit (run `latpred "
                        "coexec sync` first)")
    pairs = json.loads(path.read_text()).get("pairs", {})
    key = pair_key(gpu["name"], cpu["name"])
    if key not in pairs:
        raise bad_value("models", str(models), f"sync.json has no entry for {key}")
    return pairs[key]


def _fit_thread_neighbours(args: argparse.Namespace, grids: dict[Path, Any],
                           gpu: dict[str, Any], cpu: dict[str, Any]) -> dict[str, Any]:
    """The pair's entry of ``args.models``' sync.json with ``cpu_thread_neighbours``
    (``thread_prior.ThreadNeighbours.fit``) from the CPU-only runtime rows of every dataset
    (grids and confirmation rounds), the rest kept; prints how many layers it holds."""
    from latpred.planner.calibrate import cached_layer, runtime_rows
    from latpred.planner.predictors import CPU_TARGET
    from latpred.planner.thread_prior import DEFAULT_K, ThreadNeighbours

    try:
        counts = tuple(int(t) for t in args.threads.split(","))
    except ValueError:
        raise bad_value("threads", args.threads, "must be comma-separated integers") from None
    k = DEFAULT_K if args.neighbours is None else args.neighbours
    if k < 1:
        raise bad_value("neighbours", k, "must be >= 1")
    rows = runtime_rows(list(grids.values()), gpu, cpu, args.exclude_suite)[CPU_TARGET]
    memo: dict[tuple, Any] = {}
    layers = [cached_layer(r, memo) for r in rows.X.to_dict("records")]
    fit = ThreadNeighbours.fit(layers, rows.X["threads"].astype(int).to_numpy(), rows.y_us,
                               counts, k)
    entry = _sync_entry(Path(args.models), gpu, cpu)
    entry["cpu_thread_neighbours"] = fit.to_json()
    print(f"  {len(fit.shapes)} layers timed at {', '.join(map(str, counts))} threads "
          f"({len(rows)} CPU-only rows, {len(set(rows.suite))} suites), k = {k}")
    return entry


def _refit_mode_ratios(models: Path, rows: dict[str, Any], gpu: dict[str, Any],
                       cpu: dict[str, Any], rounds: str) -> dict[str, Any]:
    """The pair's entry of ``models``' sync.json with its memory-mode ratio curves
    (``single_ratio_by_mib``) fitted on the GPU-only runtime rows
    (``calibrate.mode_ratios``), the rest kept; prints them."""
    from latpred.planner.calibrate import mode_ratios
    from latpred.planner.predictors import GPU_TOTAL

    ref = "buffer"
    entry = _sync_entry(models, gpu, cpu)
    fit = mode_ratios(rows[GPU_TOTAL], ref=ref, rounds=rounds)
    if not fit:
        raise bad_value("grid", "", f"holds too few GPU-only plans timed in {ref} mode and "
                        "another mode to fit a ratio from")
    entry["single_ratio_by_mib"] = {"ref": ref, "rounds": rounds, "modes": fit}
    for m, v in fit.items():
        print(f"  {m} / {ref} by activation MiB ({v['pairs']} pairs): " + ", ".join(
            f"{k:g} MiB {math.exp(r):.3f}" for k, r in zip(v["mib"], v["log_ratio"])))
    return entry


def _refit_overheads(models: Path, preds: Any, rows: dict[str, Any],
                     gpu: dict[str, Any], cpu: dict[str, Any], rounds: str = "mean",
                     grids: Sequence[Any] = (), exclude_suites: Sequence[str] = (),
                     gpu_only: bool = False, keep_below_mib: float | None = None,
                     min_band_layers: int = 1) -> dict[str, Any]:
    """The pair's entry of ``models``' sync.json with its single-device overheads per memory
    mode refitted on the GPU-only runtime rows (``calibrate.mode_overheads``), its CPU-only
    factors per thread count (``cpu_thread_factors``) and its split plans' factors per
    memory mode on the split plans of ``grids`` (``split_factors``); prints old -> new.
    ``gpu_only``: the GPU-only overheads alone, the rest of the entry kept.
    ``keep_below_mib``: the curves refitted above that size only (``keep_curves_below``),
    the modes' constants kept. ``min_band_layers``: ``mode_overheads``'."""
    from latpred.planner.calibrate import (
        cpu_thread_factors,
        keep_curves_below,
        mode_overheads,
        split_factors,
    )
    from latpred.planner.predictors import CPU_TARGET, GPU_TOTAL
    from latpred.planner.sync import SyncModel

    entry = _sync_entry(models, gpu, cpu)
    fit = mode_overheads(preds, rows[GPU_TOTAL], entry.get("single", {}), rounds=rounds,
                         min_band_layers=min_band_layers)
    if not fit:
        raise bad_value("grid", "", "holds no ok GPU-only row to refit the overheads from")
    curves = {m: v.pop("by_mib") for m, v in fit.items() if "by_mib" in v}
    if keep_below_mib is None:
        entry["single"] = {**entry.get("single", {}), **{m: round(v["us"], 3)
                                                         for m, v in fit.items()}}
        entry["single_by_mib"] = curves
        entry["single_refit"] = fit
    else:
        entry["single_by_mib"] = keep_curves_below(entry.get("single_by_mib", {}), curves,
                                                   keep_below_mib)
        entry["single_refit_above_mib"] = {"mib": keep_below_mib, "fit": fit}
    entry["refit_rounds"] = rounds  # how the rounds' wall times were taken (for the record)
    if keep_below_mib is None:
        print("GPU-only overhead per memory mode (us), measured on tiny layers -> refitted "
              "on runtime rows: " + ", ".join(f"{m} {v['measured_us']:.1f} -> {v['us']:.1f} "
                                              f"({v['rows']} rows)" for m, v in fit.items()))
    else:
        print(f"GPU-only overhead curves refitted above {keep_below_mib:g} MiB (the knots "
              "below and the modes' constants kept): " + ", ".join(
                  f"{m} {v['rows']} rows" for m, v in fit.items()))
    for m, v in entry["single_by_mib"].items():
        print(f"  {m} by activation MiB: " + ", ".join(
            f"{k:g} MiB {u:.0f} us" for k, u in zip(v["mib"], v["us"])))
    if gpu_only:
        return entry
    cpu_fit = cpu_thread_factors(preds, rows[CPU_TARGET], rounds=rounds)
    entry["cpu_by_threads"] = {str(t): {"flops": v["flops"], "factor": v["factor"]}
                               for t, v in cpu_fit.items()}
    for t, v in cpu_fit.items():
        print(f"  CPU only, {t} threads, runtime / predicted by layer MFLOP ({v['rows']} rows): "
              + ", ".join(f"{k / 1e6:.3g} {f:.2f}" for k, f in zip(v["flops"], v["factor"])))
    # the splits against the sync model as measured (its modes and interference)
    split_fit = split_factors(preds, SyncModel.load(models, gpu["name"], cpu["name"]), grids,
                              gpu, cpu, exclude_suites)
    entry["split_factor"] = split_fit
    if split_fit:
        print("split plans, runtime / predicted per memory mode (each layer's "
              "predicted fastest): " + ", ".join(f"{m} {v['factor']:.2f} ({v['rows']} rows)"
                                                 for m, v in split_fit.items()))
    return entry


def cmd_cpu_rounds(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from latpred.datasets import suites
    from latpred.datasets.store import check_writable
    from latpred.planner.cpu_rounds import (
        ROUNDS_POLICY,
        CpuRounds,
        best_gpu_plan,
        layers_of_datasets,
    )
    from latpred.planner.oracle import LayerItem

    if not args.from_ and not args.suite:
        raise bad_value("from", None, "give --from DATASET or --suite NAME (the layers)")
    if args.max_best_us is not None and (not args.from_ or args.max_best_us <= 0):
        raise bad_value("max-best-us", args.max_best_us, "needs --from and a positive value")
    if args.models and args.device is None:
        raise bad_value("models", args.models, "needs --device (the GPU of the GPU plan)")
    for name, v in (("seconds", args.seconds), ("deadline-s", args.deadline_s)):
        if v is not None and v <= 0:
            raise bad_value(name, v, "must be positive")
    threads = _int_list("threads", args.threads) or list(range(1, (os.cpu_count() or 1) + 1))
    for name in args.suite:
        suites.load_suite(name)  # a shipped name or a suite file, valid: else one line
    for path in args.from_:
        if not Path(path).is_dir():
            raise bad_value("from", path, "is not a dataset directory")
    check_writable(args.out)
    items = layers_of_datasets(args.from_, args.max_best_us) if args.from_ else []
    for name in args.suite:
        label = suites.suite_label(name)  # a suite file's rows carry its name
        items += [LayerItem(label, lname, layer, count)
                  for lname, count, layer in suites.suite_layers(name)]
    gpu = gpu_device(args) if args.device is not None else None
    pick = None
    if args.models:
        from latpred.planner.planner import Planner, PlannerOptions

        preds, ginfo, cinfo, sync = load_models(args.models, gpu)
        pick = best_gpu_plan(Planner(preds, ginfo, cinfo, sync, PlannerOptions(shortlist=3)))
    policy = ROUNDS_POLICY if args.seconds is None else dataclasses.replace(
        ROUNDS_POLICY, max_seconds=args.seconds)
    rounds = CpuRounds(args.out, threads, gpu, pick, policy, args.seed)
    deadline = time.time() + args.deadline_s if args.deadline_s else None
    res = rounds.run(items, deadline)
    print(f"{len(items)} layers: {res.measured} measured, {res.skipped} stored before, "
          f"{res.failed} with a failed thread count, {res.unfinished} left (deadline); "
          f"{res.seconds:.0f} s -> {args.out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from latpred.planner.measure import measure_run
    from latpred.planner.runtime import CoexecRun, CpuConfig, GpuConfig, Plan
    from latpred.planner.split import as_problem, check_split, ratio_to_split, split_extent
    from latpred.profiler.kernels.base import parse_local_size

    items = layer_items(args)
    if len(items) != 1:
        raise bad_value("layer", len(items), "coexec run takes one layer")
    layer = items[0].layer
    problem = as_problem(layer)
    n = split_extent(problem)
    if (args.ratio is None) == (args.split_n is None):
        raise bad_value("ratio", args.ratio, "give exactly one of --ratio or --split-n")
    s = ratio_to_split(problem, args.ratio) if args.ratio is not None else \
        check_split(problem, args.split_n)
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as err:
        raise bad_value("params", args.params, f"invalid JSON ({err})") from None
    try:
        local = parse_local_size(args.local_size)
    except ValueError:
        raise bad_value("local-size", args.local_size, "expected AxBxC or driver") from None
    gpu = None
    if s > 0:
        if args.impl is None:
            raise bad_value("impl", None, "a GPU share needs --impl")
        gpu = GpuConfig(args.impl, params, local, args.mem_mode)
    plan = Plan(s, n, gpu, CpuConfig(args.threads) if s < n else None)
    dev = gpu_device(args) if s > 0 else None
    import numpy as np

    arrays = problem.arrays(np.random.default_rng(0))
    with CoexecRun(problem, arrays, plan, dev) as run:
        first = run.run_once()
        err = run.check()
        stats = measure_run(run.run_once, _policy(args.quick), first=first)
        print(f"{items[0].name}: {run.plan.describe()} (sync {run.sync})")
        print(f"    correct (max abs error {err:.2e}); total {stats['total_us']:.1f} us, "
              f"CPU {stats.get('cpu_us', 0.0):.1f} us, GPU {stats.get('gpu_total_us', 0.0):.1f} "
              f"us (kernel {stats['kernel_us']:.1f}), sync {stats.get('sync_us', 0.0):.1f} us; "
              f"{stats['repeats']} repeats, cv {stats['cv']:.3f}")
    return 0


class _pd_wide:
    def __enter__(self) -> None:
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_colwidth", 80)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


__all__ = ["LatpredError", "add_subcommands", "device_pair", "layer_items", "make_planner"]
