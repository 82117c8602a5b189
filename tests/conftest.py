"""Shared fixtures: an OpenCL device on PoCL (CPU) and a seeded numpy generator."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def pocl_device():
    """An OpenCLDevice on the first PoCL device; skips the test if PoCL is unavailable."""
    try:
        import pyopencl as cl
        from latpred.profiler.backends.opencl import OpenCLDevice

        platforms = cl.get_platforms()
    except Exception as err:  # no pyopencl or no ICD loader
        pytest.skip(f"no OpenCL: {err}")
    for p in platforms:
        if "Portable Computing Language" in p.name or "pocl" in p.name.lower():
            devices = p.get_devices()
            if devices:
                return OpenCLDevice(devices[0])
    pytest.skip("no PoCL device")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test."""
    return np.random.default_rng(1234)
