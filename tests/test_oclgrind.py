"""Memory safety and data races of every kernel implementation, on the Oclgrind simulator.

Each implementation of the registry (GEMM and conv kernels alike, discovered) runs tiny
problems in a subprocess (``tests/oclgrind_worker.py``) with Oclgrind's data-race
detection and API checks on. The test fails on any Oclgrind report in the subprocess's
stderr (invalid reads/writes, data races, uninitialized values, fatal errors), on a
result that does not match the numpy reference, or on a worker that finds no legal
problem/config on the Oclgrind device.

Filtered out: ``clGetDeviceInfo`` -> ``CL_INVALID_VALUE`` API reports. pyopencl itself
queries optional (OpenCL >= 2.x) device properties when it builds programs and creates
kernels; Oclgrind is an OpenCL 1.2 device and flags those queries. They are never caused
by a kernel. ``OCLGRIND_UNINITIALIZED`` is not enabled: this Oclgrind's uninitialized-value
plugin aborts on LLVM's ``freeze`` instruction, which clang emits for ordinary integer
division, and then corrupts the results.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from latpred.profiler.kernels import registry

WORKER = Path(__file__).with_name("oclgrind_worker.py")
TIMEOUT_S = 120

REPORT = re.compile(
    r"Invalid (read|write)|data race|Uninitiali[sz]ed|Unsupported instruction|FATAL|"
    r"runtime error|error|Segmentation|Traceback",
    re.IGNORECASE,
)


def _have_oclgrind() -> bool:
    try:
        import pyopencl as cl

        return any("oclgrind" in p.name.lower() for p in cl.get_platforms())
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _have_oclgrind(), reason="no Oclgrind OpenCL platform")


def _is_probe_noise(block: str) -> bool:
    """pyopencl's own device-info probes that Oclgrind (OpenCL 1.2) rejects."""
    return "Function: clGetDeviceInfo" in block and "CL_INVALID_VALUE" in block


def oclgrind_reports(stderr: str) -> list[str]:
    """The report blocks of an Oclgrind stderr that indicate a problem."""
    blocks = re.split(r"\n\s*\n", stderr)
    return [b.strip() for b in blocks if REPORT.search(b) and not _is_probe_noise(b)]


def test_report_filter() -> None:
    noise = ("Oclgrind - OpenCL runtime error detected\n\tFunction: clGetDeviceInfo\n"
             "\tError:    CL_INVALID_VALUE\n\tFor argument 'param_name'\n")
    race = ("Read-write data race at local memory address 0x1000000000004\n\tKernel: gemm\n")
    assert oclgrind_reports(noise + "\n" + noise) == []
    assert len(oclgrind_reports(noise + "\n" + race)) == 1
    assert oclgrind_reports("Invalid read of size 4 at global memory address 0x2")


@pytest.mark.parametrize("name", sorted(registry()))
def test_oclgrind_clean(name: str) -> None:
    env = dict(os.environ)
    env.update(OCLGRIND_DATA_RACES="1", OCLGRIND_CHECK_API="1", PYTHONWARNINGS="ignore",
               PYTHONUNBUFFERED="1")
    env.pop("OCLGRIND_UNINITIALIZED", None)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(WORKER), name], capture_output=True, text=True, env=env,
        timeout=TIMEOUT_S, cwd=root,
    )
    reports = oclgrind_reports(proc.stderr)
    detail = f"stdout:\n{proc.stdout[-3000:]}\nreports:\n" + "\n\n".join(reports)[:6000]
    assert not reports, f"{name}: Oclgrind reported problems\n{detail}"
    assert proc.returncode == 0, f"{name}: worker exit {proc.returncode}\n{detail}\n{proc.stderr[-3000:]}"
    assert '"mismatches": 0' in proc.stdout
