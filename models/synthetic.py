"""A synthetic, physically plausible dataset (for tests, demos and benchmarks without hardware).

Rows follow the dataset schema exactly (``datasets.schema.conform``) with
``df.attrs["meta"]["devices"]``; configurations come from the real kernel registry through
``candidate_configs``. Times come from a hidden device model: launch floors, waves of
work-groups over compute units with per-implementation efficiency, a memory-bandwidth term,
coalescing penalties for narrow work-groups, per-memory-mode transfer costs, BLAS thread
scaling, and multiplicative log-normal noise. It is NOT a substitute for measurements; it
only lets the learning code be exercised end to end.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
from latpred.datasets.schema import config_key, conform
from latpred.features import FEATURE_NAMES, feature_matrix
from latpred.models.candidates import candidate_configs
from latpred.profiler.problems import ConvLayer, LinearLayer

GPU_INFO: dict[str, Any] = {
    "name": "Synthetic GPU", "platform": "Synthetic OpenCL", "vendor": "latpred",
    "type": "GPU", "driver_version": "1.0", "opencl_version": "OpenCL 3.0",
    "compute_units": 24, "max_clock_mhz": 1500, "max_work_group_size": 1024,
    "max_work_item_sizes": [1024, 1024, 64], "local_mem_bytes": 49152,
    "global_mem_bytes": 8 << 30, "svm": ["coarse"], "host_unified_memory": False,
    "preferred_vector_width_float": 1,
}
CPU_INFO: dict[str, Any] = {
    "name": "Synthetic CPU", "platform": "numpy", "vendor": "latpred", "type": "CPU",
    "cpu_model": "Synthetic CPU", "cpu_cores": 8, "cpu_threads": 8, "compute_units": 8,
    "max_clock_mhz": 3000, "global_mem_bytes": 16 << 30, "host_unified_memory": True,
    "blas": "openblas",
}
POCL_INFO: dict[str, Any] = {
    "name": "pthread-Synthetic CPU", "platform": "Portable Computing Language",
    "vendor": "latpred", "type": "CPU", "driver_version": "6.0", "opencl_version": "OpenCL 3.0",
    "compute_units": 8, "max_clock_mhz": 3000, "max_work_group_size": 4096,
    "max_work_item_sizes": [4096, 4096, 4096], "local_mem_bytes": 4 << 20,
    "global_mem_bytes": 16 << 30, "svm": ["coarse", "fine"], "host_unified_memory": True,
    "preferred_vector_width_float": 8,
}

#: suite -> layers (linear: (m, n, k); conv2d: ConvLayer arguments)
SUITES: dict[str, list] = {
    "bert": [LinearLayer(m, n, k) for m in (1, 32, 128)
             for n, k in ((768, 768), (3072, 768), (768, 3072))],
    "gpt2": [LinearLayer(m, n, k) for m in (1, 64) for n, k in ((2304, 768), (1024, 1024))],
    "mlp": [LinearLayer(m, n, k) for m in (1, 16, 256) for n, k in ((512, 784), (10, 512))],
    "resnet": [ConvLayer(1, 64, 64, 56, 56, 3, 3, 1, 1), ConvLayer(1, 64, 128, 56, 56, 3, 3, 2, 1),
               ConvLayer(1, 128, 128, 28, 28, 3, 3, 1, 1), ConvLayer(1, 256, 256, 14, 14, 3, 3, 1, 1),
               ConvLayer(1, 256, 64, 56, 56, 1, 1), ConvLayer(1, 3, 64, 112, 112, 7, 7, 2, 3)],
    "mobilenet": [ConvLayer(1, 32, 32, 112, 112, 3, 3, 1, 1, groups=32),
                  ConvLayer(1, 64, 64, 56, 56, 3, 3, 2, 1, groups=64),
                  ConvLayer(1, 32, 64, 112, 112, 1, 1), ConvLayer(1, 128, 128, 28, 28, 1, 1),
                  ConvLayer(1, 256, 256, 14, 14, 3, 3, 1, 1, groups=256)],
}

#: hidden efficiency of each implementation on the synthetic GPU (share of peak)
_GPU_EFF = {"gemm_naive": 0.05, "gemm_tiled": 0.14, "gemm_regblock": 0.55, "gemm_vec4": 0.3,
            "gemv": 0.2, "conv_direct": 0.1, "conv_im2col": 0.4, "conv_1x1": 0.45,
            "conv_winograd": 0.6, "conv_depthwise": 0.12}
_MODE_BW = {"buffer": (8.0, 12000.0), "map": (12.0, 9000.0), "svm_coarse": (10.0, 10000.0),
            "svm_fine": (6.0, 7000.0)}  # (latency us, bytes per us)


def _random_linear(rng: np.random.Generator, n: int) -> list[LinearLayer]:
    out = []
    for _ in range(n):
        m = int(rng.choice([1, 2, 8, 16, 48, 64, 100, 256]))
        nn = int(2 ** rng.uniform(4, 12))
        k = int(2 ** rng.uniform(4, 12))
        out.append(LinearLayer(m, nn, k, str(rng.choice(["forward", "backward_input",
                                                          "backward_weight"]))))
    return out


def _sample(df: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    return df if len(df) <= k else df.iloc[np.sort(rng.choice(len(df), k, replace=False))]


def make_synthetic_dataset(
    n_random: int = 12,
    seed: int = 0,
    suites: tuple[str, ...] = ("bert", "gpt2", "mlp", "resnet", "mobilenet"),
    gpu_configs_per_layer: int = 60,
    pocl: bool = True,
) -> pd.DataFrame:
    """A dataset frame (schema columns, ``attrs["meta"]``) of synthetic measurements.

    Args:
        n_random: extra random linear shapes (suite "random").
        seed: makes the frame reproducible.
        suites: which built-in suites (SUITES) to include.
        gpu_configs_per_layer: GPU configurations sampled per layer (all memory modes).
        pocl: include PoCL CPU kernel rows.

    Returns:
        DataFrame, one row per configuration; times in microseconds.
    """
    rng = np.random.default_rng(seed)
    items: list[tuple[str, str, Any]] = []
    for suite in suites:
        items += [(suite, f"{suite}.{i}", lay) for i, lay in enumerate(SUITES[suite])]
    items += [("random", f"random.{i}", lay) for i, lay in enumerate(_random_linear(rng, n_random))]
    frames = []
    for suite, name, layer in items:
        parts = [_sample(candidate_configs(layer, GPU_INFO, max_local_sizes=4),
                         gpu_configs_per_layer, rng),
                 candidate_configs(layer, CPU_INFO)]
        if pocl:
            parts.append(_sample(candidate_configs(layer, POCL_INFO, threads=[1, 2, 4, 8],
                                                   max_local_sizes=2), 24, rng))
        f = pd.concat(parts, ignore_index=True)
        f["suite"], f["layer"] = suite, name
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    devices = {d["name"]: d for d in (GPU_INFO, CPU_INFO, POCL_INFO)}
    X = feature_matrix(df, devices)
    _simulate(df, X, rng)
    df["status"] = "ok"
    df["error"] = ""
    bad = rng.random(len(df)) < 0.01  # a few failed configurations, as real sweeps have
    df.loc[bad, "status"] = "error"
    for c in ("kernel_us", "dispatch_us", "transfer_in_us", "transfer_out_us", "total_us"):
        df.loc[bad, c] = np.nan
    df["timestamp"] = "2024-01-01T00:00:00"
    df = conform(df)
    df["config_key"] = [config_key(r) for r in df.to_dict("records")]
    df.attrs["meta"] = {"devices": devices, "host": "synthetic", "latpred_version": "synthetic",
                        "seed": seed}
    return df


def _simulate(df: pd.DataFrame, X: np.ndarray, rng: np.random.Generator) -> None:
    """Fill the timing columns from the hidden device model (in place)."""
    f = {name: X[:, i] for i, name in enumerate(FEATURE_NAMES)}
    n = len(df)
    impl = df["impl"].to_numpy(dtype=object)
    mode = df["mem_mode"].to_numpy(dtype=object)
    platform = df["platform"].to_numpy(dtype=object)
    flops = 2.0 ** f["log2_flops"]
    bytes_total = 2.0 ** f["log2_bytes_total"]
    fpi = 2.0 ** f["log2_flops_per_item"]
    waves_full = np.ceil(f["waves"])
    gpu = df["backend"].to_numpy(dtype=object) == "gpu"
    blas = platform == "numpy"
    pocl = ~gpu & ~blas
    # per-configuration hidden quirk (stable per impl+params+local), +-15 %
    quirk = np.array([int(hashlib.md5(f"{a}|{b}|{c}".encode()).hexdigest()[:6], 16) / 0xFFFFFF
                      for a, b, c in zip(impl, df["params"], df["local_size"])])
    quirk = 0.85 + 0.3 * quirk
    eff = np.array([_GPU_EFF.get(i, 0.1) for i in impl])
    # GPU: waves x per-wave compute, memory term, coalescing, launch floors
    lanes_flops_per_cycle = 128.0
    clock = GPU_INFO["max_clock_mhz"]
    t_wave = f["group_items"] * fpi / (lanes_flops_per_cycle * clock * eff)
    coalesce = np.where(f["local_x"] < 32, np.sqrt(32.0 / np.maximum(f["local_x"], 1)), 1.0)
    coalesce = np.where(f["is_driver_local"] > 0, 1.15, coalesce)
    t_mem = bytes_total * (1 + 2.0 * (impl == "gemm_naive")) / 4.0e5  # 400 GB/s
    t_comp = waves_full * t_wave * coalesce * quirk
    kernel = 3.0 * f["n_launches"] + np.maximum(t_comp, t_mem) + 0.2 * np.minimum(t_comp, t_mem)
    dispatch = 6.0 + 1.5 * f["n_launches"]
    b_in = 2.0 ** f["log2_bytes_in"]
    b_out = 2.0 ** f["log2_bytes_out"]
    lat = np.array([_MODE_BW.get(m, (8.0, 1e4))[0] for m in mode])
    bw = np.array([_MODE_BW.get(m, (8.0, 1e4))[1] for m in mode])
    t_in = lat + b_in / bw
    t_out = lat + b_out / bw
    # CPU, numpy/BLAS: thread scaling with a parallel-efficiency knee, bandwidth term
    threads = np.maximum(f["threads"], 1.0)
    par = np.minimum(threads, np.maximum(np.ceil(2.0 ** f["log2_gemm_m"] / 4)
                                         * np.ceil(2.0 ** f["log2_gemm_n"] / 256), 1.0))
    t_blas = 3.0 + 1.2 * threads + flops / (par * 4.0e4) + bytes_total / 2.0e4
    # CPU, PoCL kernels: work-groups over threads, much lower efficiency
    t_pocl = 25.0 + 4.0 * f["n_launches"] + np.ceil(f["waves"]) * f["group_items"] * fpi \
        / (8.0 * 3000.0 * eff * 0.5) * quirk + bytes_total / 1.5e4
    noise = rng.lognormal(0.0, 0.02, n)
    kernel = np.where(gpu, kernel * noise, t_pocl * noise)
    dispatch = np.where(gpu, dispatch * rng.lognormal(0.0, 0.08, n), 10.0 * noise)
    t_in = np.where(gpu | pocl, t_in * rng.lognormal(0.0, 0.04, n), 0.0)
    t_out = np.where(gpu | pocl, t_out * rng.lognormal(0.0, 0.04, n), 0.0)
    total = np.where(blas, t_blas * rng.lognormal(0.0, 0.04, n),
                     t_in + dispatch + kernel + t_out + 12.0)
    df["kernel_us"] = np.where(blas, np.nan, kernel)
    df["dispatch_us"] = np.where(blas, np.nan, dispatch)
    df["transfer_in_us"] = np.where(blas, 0.0, t_in)
    df["transfer_out_us"] = np.where(blas, 0.0, t_out)
    df["total_us"] = total
    df["n_kernels"] = np.where(blas, 0, f["n_launches"]).astype(int)
    df["kernel_breakdown_us"] = json.dumps([])
    df["repeats"] = 20
    df["cv"] = np.abs(rng.normal(0.03, 0.01, n))
    df["kernel_cv"] = np.abs(rng.normal(0.015, 0.005, n))
    df["dispatch_cv"] = np.abs(rng.normal(0.08, 0.02, n))
