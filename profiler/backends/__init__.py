"""Backends: something that runs a configuration and returns timings (OpenCL, numpy/BLAS)."""
