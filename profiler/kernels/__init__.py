"""The OpenCL kernel library. Every module ``gemm_*.py`` / ``conv_*.py`` here defines
``Implementation`` subclasses; they are discovered, so adding a kernel is adding a file."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from latpred.profiler.kernels.base import Implementation

from latpred.errors import bad_value


@lru_cache(maxsize=1)
def registry() -> dict[str, Implementation]:
    """name -> implementation instance, for every kernel module in this package."""
    found: dict[str, Implementation] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith(("gemm_", "conv_")) or info.name == "gemm_common":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(mod).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Implementation)
                and obj is not Implementation
                and obj.__module__ == mod.__name__
                and getattr(obj, "name", None)
            ):
                found[obj.name] = obj()
    return found


def implementations(op: str) -> list[Implementation]:
    """Implementations of an op: "gemm" (linear layers) or "conv2d"."""
    impls = [i for i in registry().values() if i.op == op]
    if not impls:
        raise bad_value("op", op, "no kernel implementations for this op")
    return impls


def get(name: str) -> Implementation:
    """The implementation called ``name``; LatpredError if unknown."""
    try:
        return registry()[name]
    except KeyError:
        raise bad_value("impl", name, f"unknown implementation (known: {', '.join(registry())})") from None
