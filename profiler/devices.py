"""Device discovery: every OpenCL platform / device, the host CPU and its BLAS; selectors."""

from __future__ import annotations

import glob
import logging
import os
import platform
from typing import Any

import psutil

from latpred.errors import bad_value

log = logging.getLogger(__name__)

#: vendor OpenCL libraries to look for when no ICD registers them
VENDOR_LIBS = {
    "NVIDIA": ["/usr/lib/libnvidia-opencl.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1",
               "/usr/local/nvidia/lib64/libnvidia-opencl.so.1"],
    "AMD": ["/opt/rocm/lib/libamdocl64.so"],
    "Intel": ["/usr/lib/x86_64-linux-gnu/intel-opencl/libigdrcl.so"],
    "Mali/Adreno (Android)": ["/vendor/lib64/libOpenCL.so", "/system/vendor/lib64/libOpenCL.so"],
}


def cl_device_info(dev: Any) -> dict[str, Any]:
    """Metadata of one OpenCL device as a plain dict (the dataset's ``devices`` entries)."""
    import pyopencl as cl

    def get(attr: str, default: Any = None) -> Any:
        try:
            return getattr(dev, attr)
        except (cl.Error, AttributeError, cl.LogicError):
            return default

    svm_caps = get("svm_capabilities", 0) or 0
    svm = []
    if svm_caps & cl.device_svm_capabilities.COARSE_GRAIN_BUFFER:
        svm.append("coarse")
    if svm_caps & cl.device_svm_capabilities.FINE_GRAIN_BUFFER:
        svm.append("fine")
    if svm_caps & cl.device_svm_capabilities.ATOMICS:
        svm.append("atomics")
    dtype = int(dev.type)
    kind = "GPU" if dtype & cl.device_type.GPU else "CPU" if dtype & cl.device_type.CPU else "OTHER"
    return {
        "name": str(dev.name).strip(),
        "platform": str(dev.platform.name).strip(),
        "vendor": str(dev.vendor).strip(),
        "type": kind,
        "driver_version": str(dev.driver_version).strip(),
        "opencl_version": str(dev.version).strip(),
        "compute_units": int(dev.max_compute_units),
        "max_clock_mhz": int(get("max_clock_frequency", 0) or 0),
        "max_work_group_size": int(dev.max_work_group_size),
        "max_work_item_sizes": [int(v) for v in dev.max_work_item_sizes],
        "local_mem_bytes": int(dev.local_mem_size),
        "global_mem_bytes": int(dev.global_mem_size),
        "svm": svm,
        "host_unified_memory": bool(get("host_unified_memory", False)),
        "preferred_vector_width_float": int(get("preferred_vector_width_float", 1) or 1),
    }


def cpu_info() -> dict[str, Any]:
    """The host CPU and numpy's BLAS (the ``numpy`` CPU backend's device entry)."""
    from latpred.profiler.backends.blas import blas_info

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    freq = psutil.cpu_freq()
    return {
        "name": model,
        "platform": "numpy",
        "vendor": model.split()[0] if model else "",
        "type": "CPU",
        "cpu_model": model,
        "cpu_cores": psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        "cpu_threads": os.cpu_count() or 1,
        "compute_units": psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        "max_clock_mhz": int(freq.max) if freq and freq.max else 0,
        "global_mem_bytes": int(psutil.virtual_memory().total),
        "host_unified_memory": True,
        **blas_info(),
    }


def opencl_devices() -> list[Any]:
    """Every OpenCL device of every platform (empty if no ICD is registered)."""
    try:
        import pyopencl as cl

        return [d for p in cl.get_platforms() for d in p.get_devices()]
    except Exception as err:  # no platform: pyopencl raises LogicError / RuntimeError
        log.info("no OpenCL platform: %s", err)
        return []


def unregistered_vendor_libs() -> list[tuple[str, str]]:
    """Vendor OpenCL libraries present on disk whose platform no ICD registers."""
    registered = " ".join(
        str(d.platform.vendor) + " " + str(d.platform.name) for d in opencl_devices()
    ).lower()
    out = []
    for vendor, paths in VENDOR_LIBS.items():
        for pat in paths:
            for path in glob.glob(pat):
                key = vendor.split("/")[0].lower()
                if key not in registered:
                    out.append((vendor, path))
    return out


def icd_hint(vendor: str, path: str) -> str:
    return (f"{vendor} OpenCL library {path} is present but no ICD registers it: "
            f"mkdir -p /tmp/icd && echo {path} > /tmp/icd/{vendor.split('/')[0].lower()}.icd "
            f"&& export OCL_ICD_VENDORS=/tmp/icd")


def select_device(selector: str | None, kind: str | None = None) -> Any:
    """Pick one OpenCL device.

    Args:
        selector: None (default: the first GPU, else the first device), an index into the
            list ``latpred devices`` prints ("0", "1", ...), or a case-insensitive substring
            of "platform: device" (e.g. "nvidia", "pocl", "portable").
        kind: "GPU" or "CPU" to restrict the default choice.
    """
    devs = opencl_devices()
    if not devs:
        raise bad_value("device", selector, "no OpenCL device found (see `latpred devices`)")
    if selector is None:
        import pyopencl as cl

        want = cl.device_type.GPU if kind == "GPU" else cl.device_type.CPU if kind == "CPU" else None
        real = [d for d in devs if "oclgrind" not in d.platform.name.lower()] or devs
        gpus = [d for d in real if int(d.type) & cl.device_type.GPU]
        typed = [d for d in real if want is not None and int(d.type) & want]
        return (typed or gpus or real)[0]
    if selector.isdigit():
        idx = int(selector)
        if idx >= len(devs):
            raise bad_value("device", selector, f"index out of range (0..{len(devs) - 1})")
        return devs[idx]
    sel = selector.lower()
    aliases = {"pocl": "portable computing language"}
    sel = aliases.get(sel, sel)
    hits = [d for d in devs if sel in f"{d.platform.name}: {d.name}".lower()]
    if not hits:
        names = "; ".join(f"{d.platform.name.strip()}: {d.name.strip()}" for d in devs)
        raise bad_value("device", selector, f"matches no OpenCL device (have: {names})")
    return hits[0]


def pocl_cpu_device() -> Any | None:
    """The PoCL CPU device, if any (the OpenCL CPU backend)."""
    for d in opencl_devices():
        if "portable computing language" in d.platform.name.lower():
            return d
    return None
