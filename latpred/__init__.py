"""latpred: predict DNN layer latency on CPUs and OpenCL GPUs, and plan CPU-GPU co-execution.

Stages (data flows one way): ``latpred.profiler`` (measure) -> ``latpred.datasets`` (store)
-> ``latpred.features`` (describe) -> ``latpred.models`` (learn) -> ``latpred.planner`` (decide).
"""

from __future__ import annotations

import os as _os

__version__ = "0.1.0"

# PoCL's on-disk kernel cache can keep a torn entry when a process is killed mid-compile
# (a resumed sweep then crashed in PoCL); latpred caches programs per process itself.
# Set POCL_KERNEL_CACHE=1 to use PoCL's cache anyway.
_os.environ.setdefault("POCL_KERNEL_CACHE", "0")

# In a source checkout the stage folders (profiler/, datasets/, ...) sit beside this package
# instead of inside it; installed, setup.cfg's package_dir maps them into ``latpred.*``.
# Make the checkout behave like the installed layout so `PYTHONPATH=. python -m latpred` works.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "setup.cfg")) and _os.path.isfile(
    _os.path.join(_root, "profiler", "__init__.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821
