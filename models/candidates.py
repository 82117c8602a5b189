"""Enumerate the legal configurations of one layer on one device (for predict and the planner).

The result has the dataset's configuration columns (``datasets.schema``) without timings, so
it can go straight into ``LatencyPredictor.predict``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from latpred.profiler.kernels.base import DeviceLimits, local_size_str, spread_local_sizes
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import bad_value

#: columns of a candidate frame, in order
CANDIDATE_COLUMNS = (
    "op", "pass", "m", "n", "k", "batch", "in_channels", "out_channels", "height", "width",
    "kernel_h", "kernel_w", "stride", "padding", "dilation", "groups", "out_h", "out_w",
    "backend", "device", "platform", "impl", "params", "local_size", "threads", "mem_mode",
    "flops",
)
_INT_COLS = ("m", "n", "k", "batch", "in_channels", "out_channels", "height", "width",
             "kernel_h", "kernel_w", "stride", "padding", "dilation", "groups", "out_h", "out_w",
             "threads", "flops")


def device_limits(info: Mapping[str, Any]) -> DeviceLimits:
    """DeviceLimits from a dataset device-metadata dict."""
    try:
        return DeviceLimits(
            max_work_group_size=int(info["max_work_group_size"]),
            max_work_item_sizes=tuple(int(v) for v in info["max_work_item_sizes"]),
            local_mem_bytes=int(info["local_mem_bytes"]),
            compute_units=int(info.get("compute_units") or 1),
            preferred_vector_width_float=int(info.get("preferred_vector_width_float") or 1),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise bad_value("device", info.get("name"), f"metadata lacks OpenCL limits ({err})") from None


def device_mem_modes(info: Mapping[str, Any]) -> list[str]:
    """Memory modes an OpenCL device supports, from its metadata (``svm`` list)."""
    svm = set(info.get("svm") or [])
    return ["buffer", "map"] + (["svm_coarse"] if "coarse" in svm else []) \
        + (["svm_fine"] if "fine" in svm else [])


def device_backend(info: Mapping[str, Any]) -> str:
    """"gpu" for GPU devices, "cpu" for CPU devices (numpy/BLAS or PoCL)."""
    return "gpu" if str(info.get("type", "")).upper() == "GPU" else "cpu"


def layer_shape_row(layer: LinearLayer | ConvLayer) -> dict[str, Any]:
    """The op + shape columns of a layer (dataset conventions)."""
    if isinstance(layer, ConvLayer):
        return {"op": "conv2d", **layer.shape_dict()}
    return {"op": "linear", "m": layer.m, "n": layer.n, "k": layer.k, "pass": layer.pass_}


def layer_problem(layer: LinearLayer | ConvLayer) -> Any:
    """The problem object kernels take: the GEMM of a linear pass, or the ConvLayer itself."""
    return layer if isinstance(layer, ConvLayer) else layer.gemm()


def candidate_configs(
    layer: LinearLayer | ConvLayer,
    device_info: Mapping[str, Any],
    backend: str | None = None,
    *,
    threads: Sequence[int] | None = None,
    mem_modes: Sequence[str] | None = None,
    impls: Sequence[str] | None = None,
    max_local_sizes: int | None = None,
) -> pd.DataFrame:
    """Every legal configuration of ``layer`` on one device, one row each.

    Args:
        layer: a LinearLayer (one pass) or a ConvLayer.
        device_info: the device's metadata dict (``df.attrs["meta"]["devices"][name]``).
        backend: "gpu" or "cpu" (default: from the device type). A device whose platform
            is "numpy" gives BLAS rows (impl "blas", one per thread count); other CPU
            devices (PoCL) give kernel rows per thread count (sub-device size).
        threads: CPU thread counts (default: 1 .. cores / compute units).
        mem_modes: GPU memory modes (default: all the device supports). PoCL rows use
            "buffer", BLAS rows "host".
        impls: restrict to these implementation names.
        max_local_sizes: at most this many local sizes per implementation x params (spread
            evenly, as the profiler's --max-local-sizes does).

    Returns:
        DataFrame with CANDIDATE_COLUMNS (shape columns of the other op are <NA>).
    """
    from latpred.profiler.kernels import implementations

    name = str(device_info.get("name", ""))
    platform = str(device_info.get("platform", ""))
    backend = backend or device_backend(device_info)
    if backend not in ("gpu", "cpu"):
        raise bad_value("backend", backend, "must be 'gpu' or 'cpu'")
    base = layer_shape_row(layer)
    flops = layer.flops if isinstance(layer, ConvLayer) else layer.gemm().flops
    base.update(backend=backend, device=name, platform=platform, flops=flops)
    rows: list[dict[str, Any]] = []
    if platform == "numpy":
        if backend != "cpu":
            raise bad_value("backend", backend, f"device {name!r} is the numpy/BLAS CPU backend")
        cores = int(device_info.get("cpu_cores") or device_info.get("compute_units") or 1)
        for t in threads or range(1, cores + 1):
            rows.append({**base, "impl": "blas", "params": "{}", "local_size": "",
                         "threads": int(t), "mem_mode": "host"})
        return _frame(rows)
    limits = device_limits(device_info)
    problem = layer_problem(layer)
    op = "conv2d" if isinstance(layer, ConvLayer) else "gemm"
    kernel_list = [i for i in implementations(op) if impls is None or i.name in impls]
    if impls is not None and not kernel_list:
        raise bad_value("impl", list(impls), f"no {op} implementation of that name")
    if backend == "gpu":
        modes = list(mem_modes) if mem_modes else device_mem_modes(device_info)
        thread_list: list[int | None] = [None]
    else:
        modes = ["buffer"]
        cu = int(device_info.get("compute_units") or 1)
        thread_list = [int(t) for t in (threads or range(1, cu + 1))]
    configs = []
    for impl in kernel_list:
        for params in impl.params_space():
            if impl.shape_reason(problem, params):
                continue
            locals_ = impl.local_sizes(problem, params, limits)
            locals_ = spread_local_sizes(locals_, max_local_sizes)
            ptxt = json.dumps(params, sort_keys=True)
            configs += [(impl.name, ptxt, local_size_str(lo)) for lo in locals_]
    for t in thread_list:
        for mode in modes:
            for impl_name, ptxt, lo in configs:
                rows.append({**base, "impl": impl_name, "params": ptxt, "local_size": lo,
                             "threads": t, "mem_mode": mode})
    return _frame(rows)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    for c in _INT_COLS:
        df[c] = df[c].astype("Int64")
    for c in CANDIDATE_COLUMNS:
        if c not in _INT_COLS:
            df[c] = df[c].astype("string")
    return df
