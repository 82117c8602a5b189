"""``latpred devices``, ``latpred profile`` and ``latpred export``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Any

from latpred.errors import LatpredError, bad_value

OPS = ("linear", "conv2d")
BACKENDS = ("gpu", "cpu", "all")


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list OpenCL platforms/devices and the CPU")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser(
        "profile", help="sweep layers x implementations x work-groups x threads into a dataset",
        description="Profile layers on an OpenCL device (backend gpu) and on the CPU "
                    "(backend cpu: numpy/BLAS threads and PoCL sub-devices). Resumable: "
                    "running the same command again skips stored configurations.")
    p.add_argument("--op", required=True, help="linear or conv2d")
    p.add_argument("--device", default=None,
                   help="OpenCL device for the gpu backend: index or name substring "
                        "(default: first GPU, else the first device, e.g. PoCL)")
    p.add_argument("--backend", default="all", help="gpu, cpu or all (default all)")
    p.add_argument("--suite", action="append", default=[], metavar="NAME",
                   help="layer suite: a shipped name (datasets/suites) or a suite file "
                        "(repeatable)")
    p.add_argument("--samples", type=int, default=None, help="random layer shapes (seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of --samples and of inputs")
    p.add_argument("--passes", default=None,
                   help="linear passes, comma-separated (default: all three; --quick: forward)")
    p.add_argument("--impl", action="append", default=None, help="only these implementations")
    p.add_argument("--threads", default=None,
                   help="numpy/BLAS thread counts, e.g. 1,2,4 or 1-16 (default 1..cores; "
                        "'none' to skip the numpy/BLAS backend)")
    p.add_argument("--pocl-threads", default=None,
                   help="PoCL CPU sub-device sizes (default: 1,2,4,... up to cores; "
                        "'none' to skip the PoCL CPU backend)")
    p.add_argument("--mem-modes", default=None,
                   help="memory modes to sweep (default: all the device supports)")
    p.add_argument("--max-local-sizes", type=int, default=None,
                   help="at most this many work-group sizes per implementation x params")
    p.add_argument("--cpu-set", default=None,
                   help="pin the process to these cores, e.g. 4-7 (big cores of a phone)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="harness: stop repeating a configuration after this long (default 1.5)")
    p.add_argument("--repeats", default=None, metavar="MIN:MAX",
                   help="harness: min and max timed repeats (default 5:60)")
    p.add_argument("--gpu-context", action="store_true",
                   help="hold a live context on --device while measuring CPU backends "
                        "(co-execution conditions; with --backend cpu)")
    p.add_argument("--gpu-touch", choices=("config", "run"), default="config",
                   help="with --gpu-context: one small GPU command (and wait) before each CPU "
                        "configuration (config), or before every timed run (run: as when CPU "
                        "and GPU layers alternate)")
    p.add_argument("--quick", action="store_true", help="a small sweep (< 2 min on 2 cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="dataset directory (created; resumable)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("export", help="export a dataset to CSV")
    p.add_argument("--data", required=True, nargs="+", help="dataset directories")
    p.add_argument("--csv", required=True, help="output CSV file")
    p.set_defaults(func=cmd_export)


# -- devices ------------------------------------------------------------------------------
def cmd_devices(args: argparse.Namespace) -> int:
    from latpred.profiler.devices import (
        cl_device_info,
        cpu_info,
        icd_hint,
        opencl_devices,
        unregistered_vendor_libs,
    )

    devs = [cl_device_info(d) for d in opencl_devices()]
    cpu = cpu_info()
    hints = [icd_hint(v, p) for v, p in unregistered_vendor_libs()]
    if args.json:
        print(json.dumps({"opencl": devs, "cpu": cpu, "hints": hints}, indent=1))
        return 0
    if not devs:
        print("no OpenCL platform found (pip install 'pyopencl[pocl]' gives a CPU device)")
    for i, d in enumerate(devs):
        print(f"[{i}] {d['platform']}: {d['name']} ({d['type']})")
        print(f"    vendor {d['vendor']}, driver {d['driver_version']}, {d['opencl_version']}")
        print(f"    {d['compute_units']} compute units @ {d['max_clock_mhz']} MHz, "
              f"max work-group {d['max_work_group_size']}, item sizes {d['max_work_item_sizes']}")
        print(f"    local mem {d['local_mem_bytes'] // 1024} KiB, global mem "
              f"{d['global_mem_bytes'] / 2**30:.1f} GiB, SVM {'/'.join(d['svm']) or 'none'}, "
              f"host-unified {d['host_unified_memory']}")
    print(f"CPU: {cpu['cpu_model']}, {cpu['cpu_cores']} cores / {cpu['cpu_threads']} threads, "
          f"BLAS {cpu['blas']} {cpu['blas_version']} ({cpu.get('blas_threading', '')}, "
          f"{cpu['blas_threads']} threads)")
    for h in hints:
        print("hint: " + h)
    return 0


# -- profile ------------------------------------------------------------------------------
#: the shape arguments (argparse dests) each op needs on the command line (predict, plan)
OP_SHAPE_ARGS = {"linear": ("m", "n", "k"),
                 "conv2d": ("in_channels", "out_channels", "height", "width")}


def refuse_other_op_args(args: argparse.Namespace, op: str) -> None:
    """LatpredError naming a shape argument of another op than ``op`` (it would be ignored)."""
    for other, names in OP_SHAPE_ARGS.items():
        for name in names if other != op else ():
            value = getattr(args, name, None)
            if value is not None:
                raise bad_value(name.replace("_", "-"), value, f"is a {other} argument "
                                f"(--op {op})")


def parse_int_list(field: str, text: str) -> list[int]:
    """"1,2,4" or "1-16" or "1-16:2" -> sorted unique positive ints; LatpredError if bad."""
    out: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                rng, _, step = part.partition(":")
                lo, hi = (int(v) for v in rng.split("-"))
                out.update(range(lo, hi + 1, int(step or 1)))
            else:
                out.add(int(part))
    except ValueError:
        raise bad_value(field, text, "expected integers like 1,2,4 or 1-16") from None
    if not out or min(out) <= 0:
        raise bad_value(field, text, "thread counts must be positive")
    return sorted(out)


def _powers_up_to(n: int) -> list[int]:
    vals, v = [], 1
    while v < n:
        vals.append(v)
        v *= 2
    return sorted({*vals, n})


def build_sweep(args: argparse.Namespace) -> Any:
    """Validate every argument and build the SweepConfig; creates nothing."""
    from latpred.datasets import suites
    from latpred.datasets.store import check_writable
    from latpred.profiler.devices import pocl_cpu_device, select_device
    from latpred.profiler.harness import QUICK, TimingPolicy
    from latpred.profiler.kernels import registry
    from latpred.profiler.problems import PASSES, LinearLayer
    from latpred.profiler.sweep import LayerItem, SweepConfig

    if args.op not in OPS:
        raise bad_value("op", args.op, f"unknown op (known: {', '.join(OPS)})")
    if args.backend not in BACKENDS:
        raise bad_value("backend", args.backend, f"must be one of {', '.join(BACKENDS)}")
    if args.samples is not None and args.samples < 0:
        raise bad_value("samples", args.samples, "must be >= 0")
    if args.max_local_sizes is not None and args.max_local_sizes <= 0:
        raise bad_value("max-local-sizes", args.max_local_sizes, "must be positive")
    check_writable(args.out)
    known = suites.list_suites()
    for name in args.suite:  # a shipped name or a suite file, valid: else one line
        op = suites.load_suite(name)["op"]
        if op != args.op:
            raise bad_value("suite", name, f"is a {op} suite, not {args.op}")
    if args.impl:
        for name in args.impl:
            if name not in registry():
                raise bad_value("impl", name, f"unknown implementation (known: {', '.join(registry())})")
    if args.passes:
        passes = [p.strip() for p in args.passes.split(",")]
        for p in passes:
            if p not in PASSES:
                raise bad_value("passes", p, f"must be among {', '.join(PASSES)}")
        if args.op == "conv2d" and passes != ["forward"]:
            raise bad_value("passes", args.passes, "conv2d supports only forward")
    else:
        passes = ["forward"] if (args.quick or args.op == "conv2d") else list(PASSES)
    cores = os.cpu_count() or 1
    if args.cpu_set:
        cpus = parse_int_list("cpu-set", args.cpu_set.replace(" ", ""))
        if max(cpus) >= cores + 0 and max(cpus) >= (os.cpu_count() or 1):
            raise bad_value("cpu-set", args.cpu_set, f"this machine has cores 0..{cores - 1}")
        cores = len(cpus)
    if args.threads == "none":
        threads: list[int] = []
    elif args.threads:
        threads = parse_int_list("threads", args.threads)
    else:
        threads = sorted({1, cores}) if args.quick else list(range(1, cores + 1))
    if args.pocl_threads == "none":
        pocl_threads: list[int] = []
    elif args.pocl_threads:
        pocl_threads = parse_int_list("pocl-threads", args.pocl_threads)
    else:
        pocl_threads = [1] if args.quick else _powers_up_to(cores)
    use_gpu = args.backend in ("gpu", "all")
    use_cpu = args.backend in ("cpu", "all")
    gpu = select_device(args.device) if use_gpu else None
    if not use_gpu and args.device is not None:
        select_device(args.device)  # still validate the selector
    live = None
    if args.gpu_context:
        if args.device is None:
            raise bad_value("gpu-context", True, "needs --device SELECTOR (the GPU to hold)")
        if not use_cpu:
            raise bad_value("gpu-context", True, "applies to CPU backends (--backend cpu|all)")
        live = gpu if gpu is not None else select_device(args.device)
    elif args.gpu_touch != "config":
        raise bad_value("gpu-touch", args.gpu_touch, "needs --gpu-context")
    pocl = pocl_cpu_device() if (use_cpu and pocl_threads) else None
    if pocl is not None:
        limit = int(pocl.max_compute_units)
        pocl_threads = [t for t in pocl_threads if t <= limit] or [limit]
    mem_modes = [m.strip() for m in args.mem_modes.split(",")] if args.mem_modes else None
    if mem_modes:
        from latpred.profiler.backends.opencl import MEM_MODES

        for m in mem_modes:
            if m not in MEM_MODES:
                raise bad_value("mem-modes", m, f"must be among {', '.join(MEM_MODES)}")

    layers: list[LayerItem] = []
    names = list(args.suite)
    if not names and args.samples is None:
        names = ["mnist_mlp"] if (args.quick and args.op == "linear") else (
            [] if args.quick else [s for s in known if suites.load_suite(s)["op"] == args.op])
    for name in names:
        label = suites.suite_label(name)  # a suite file's rows carry its name
        for lname, _count, layer in suites.suite_layers(name):
            layers += _with_passes(LayerItem(label, lname, layer), passes, LinearLayer)
    n_samples = args.samples if args.samples is not None else (
        4 if args.quick and not args.suite else 0)
    if n_samples:
        rand = (suites.random_linear_layers(n_samples, args.seed) if args.op == "linear"
                else suites.random_conv_layers(n_samples, args.seed))
        if args.quick:  # small shapes only: a quick sweep ends within 2 minutes on 2 cores
            cap = 5e7 if args.op == "linear" else 2e7
            rand = [r for r in rand if r.flops <= cap] or [min(rand, key=lambda r: r.flops)]
        for i, layer in enumerate(rand):
            layers += _with_passes(LayerItem("random", f"random{i}", layer), passes, LinearLayer)
    if not layers:
        if not names and args.samples == 0:
            raise bad_value("samples", 0, "no --suite and no random shapes: nothing to profile")
        raise bad_value("suite", args.suite, "no layers to profile")
    policy = QUICK if args.quick else TimingPolicy()
    if args.max_seconds is not None:
        if args.max_seconds <= 0:
            raise bad_value("max-seconds", args.max_seconds, "must be positive")
        policy = dataclasses.replace(policy, max_seconds=args.max_seconds)
    if args.repeats is not None:
        try:
            lo, hi = (int(v) for v in args.repeats.split(":"))
        except ValueError:
            raise bad_value("repeats", args.repeats, "expected MIN:MAX, e.g. 5:30") from None
        if not 1 <= lo <= hi:
            raise bad_value("repeats", args.repeats, "need 1 <= MIN <= MAX")
        policy = dataclasses.replace(policy, min_repeats=lo, max_repeats=hi)
    return SweepConfig(
        items=layers, gpu_device=gpu, cpu_threads=threads if use_cpu else [],
        pocl_device=pocl, pocl_threads=pocl_threads if pocl is not None else [],
        impls=args.impl, mem_modes=mem_modes,
        max_local_sizes=args.max_local_sizes or (3 if args.quick else None),
        policy=policy, seed=args.seed, context_device=live, gpu_touch=args.gpu_touch,
    )


def _with_passes(item: Any, passes: list[str], linear_cls: type) -> list[Any]:
    if not isinstance(item.layer, linear_cls):
        return [item]
    from latpred.profiler.sweep import LayerItem

    out = []
    for p in passes:
        layer = linear_cls(item.layer.m, item.layer.n, item.layer.k, p)
        out.append(LayerItem(item.suite, item.name, layer))
    return out


def _pin(cpu_set: str) -> None:
    cpus = set(parse_int_list("cpu-set", cpu_set))
    try:
        for tid in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(tid), cpus)
    except (OSError, AttributeError) as err:
        raise bad_value("cpu-set", cpu_set, f"cannot pin: {err}") from None


def cmd_profile(args: argparse.Namespace) -> int:
    from latpred.profiler.sweep import Sweeper, summarize

    cfg = build_sweep(args)
    if args.cpu_set:
        _pin(args.cpu_set)
    sweeper = Sweeper(cfg, args.out, progress=not args.no_progress)
    if args.cpu_set:
        for info in sweeper.meta["devices"].values():
            if info.get("platform") == "numpy":
                info["cpu_set"] = args.cpu_set
    res = sweeper.run()
    print(f"profiled {res.rows_new} new configurations ({res.rows_skipped} already stored): "
          + ", ".join(f"{k} {v}" for k, v in sorted(res.by_status.items())))
    print(summarize(args.out, seconds=res.seconds))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from latpred.datasets.store import export_csv, load

    parent = os.path.dirname(os.path.abspath(args.csv))
    if not os.path.isdir(parent):
        raise bad_value("csv", args.csv, f"no such directory: {parent}")
    if os.path.isdir(args.csv):
        raise bad_value("csv", args.csv, "is a directory")
    df = load(args.data)
    if df.empty:
        raise LatpredError(f"data={args.data!r}: no rows")
    export_csv(df, args.csv)
    print(f"wrote {len(df)} rows to {args.csv}")
    return 0
