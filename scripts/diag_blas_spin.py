"""Why a GPU-only plan runs slower in the co-execution bench than in the profiler's sweep.

Two layers (vgg16 features.2, transfer-heavy; mobilenetv2 features.15.conv.1.0, tiny), one
configuration each, every memory mode, measured in one process:

- ``openclrun_total``: the profiler's harness (``OpenCLRun``), what the GPU predictor learns;
- ``coexec_gpu_only`` / ``coexec_inner``: the runtime's GPU-only plan (``CoexecRun``), wall
  time and its GPU part;
- ``after_blas_*``: the same GPU-only run right after a CPU-only BLAS run of the layer (16
  threads), 30 times, as the bench's interleaved confirmation and a network whose layers
  alternate between the devices do.

Run it twice, the second time with ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS reads it when
loaded): its worker threads then sleep right after a call instead of spinning.

    python scripts/diag_blas_spin.py                     # on the GPU host (DIAG_DEVICE=nvidia)
    OPENBLAS_THREAD_TIMEOUT=4 python scripts/diag_blas_spin.py

``DIAG_DEVICE=pocl DIAG_SMALL=1`` runs the same flow on tiny layers (a dry run anywhere).
Prints one JSON line per (layer, mode), times in us (medians).
"""

import json
import os

import numpy as np
from latpred.planner.measure import TimingPolicy, measure_run
from latpred.planner.runtime import CoexecRun, CpuConfig, GpuConfig, Plan
from latpred.profiler.backends.opencl import OpenCLDevice, OpenCLRun
from latpred.profiler.devices import select_device
from latpred.profiler.kernels import get
from latpred.profiler.problems import ConvLayer

POL = TimingPolicy(warmup=2, min_repeats=10, max_repeats=40, max_seconds=1.0)
LAYERS = {"vgg16.features.2": ConvLayer(1, 64, 64, 224, 224, 3, 3, 1, 1),
          "mnv2.features.15.conv.1.0": ConvLayer(1, 960, 960, 7, 7, 3, 3, 1, 1, groups=960)}
CONFIGS = {"vgg16.features.2": ("conv_winograd", {"WPTM": 4, "WPTN": 4, "gemm": "gemm_vec4"}),
           "mnv2.features.15.conv.1.0": ("conv_depthwise", {"TILE_O": 1, "TILE_W": 2})}
ROUNDS = 30


def median(runs: list[dict], key: str) -> float:
    return round(float(np.median([r[key] for r in runs])), 1)


def measure(dev: OpenCLDevice, name: str, layer: ConvLayer, mode: str) -> dict:
    impl, params = CONFIGS[name]
    arrays = layer.arrays(np.random.default_rng(0))
    n = layer.out_channels
    run = OpenCLRun(dev, get(impl), layer, params, None, mode, arrays)
    try:
        sweep = measure_run(run.run_once, POL, first=run.run_once())
    finally:
        run.release()
    gpu = CoexecRun(layer, arrays, Plan(n, n, GpuConfig(impl, params, None, mode), None), dev)
    cpu = CoexecRun(layer, arrays, Plan(0, n, None, CpuConfig(min(16, os.cpu_count() or 1))))
    try:
        gpu.run_once()
        cpu.run_once()
        alone = measure_run(gpu.run_once, POL)
        after = []
        for _ in range(ROUNDS):  # a CPU-only BLAS run, then the GPU-only run
            cpu.run_once()
            after.append(gpu.run_once())
    finally:
        gpu.release()
        cpu.release()
    return {"layer": name, "mode": mode, "openclrun_total": round(sweep["total_us"], 1),
            "coexec_gpu_only": round(alone["total_us"], 1),
            "coexec_inner": round(alone["gpu_total_us"], 1),
            "after_blas_total": median(after, "total_us"),
            "after_blas_inner": median(after, "gpu_total_us"),
            "after_blas_in": median(after, "transfer_in_us"),
            "after_blas_out": median(after, "transfer_out_us"),
            "sweep_in": round(sweep["transfer_in_us"], 1),
            "sweep_out": round(sweep["transfer_out_us"], 1),
            "env_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")}


def main() -> None:
    dev = OpenCLDevice(select_device(os.environ.get("DIAG_DEVICE", "nvidia"), kind="GPU"))
    layers = LAYERS
    if os.environ.get("DIAG_SMALL"):  # a dry run of the flow on tiny layers
        layers = {k: ConvLayer(1, 8, 8, 8, 8, 3, 3, 1, 1, groups=g)
                  for k, g in (("vgg16.features.2", 1), ("mnv2.features.15.conv.1.0", 8))}
    for name, layer in layers.items():
        for mode in ("buffer", "map", "svm_coarse"):
            print(json.dumps(measure(dev, name, layer, mode)), flush=True)


if __name__ == "__main__":
    main()
