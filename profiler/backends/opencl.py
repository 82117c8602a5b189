"""Run kernel implementations on an OpenCL device (or a sub-device with N compute units).

``OpenCLDevice`` owns a context, a profiling queue and a program cache. ``OpenCLRun`` binds
one configuration (implementation, parameters, local size, memory mode) to the problem's
arrays; ``run_once`` does transfer in -> launches -> transfer out and returns timings in us.

Timing fields of one run (microseconds):
- ``kernel_us``: sum over launches of event END - START.
- ``dispatch_us``: sum over launches of the host enqueue-call time plus the device-side
  wait before the launch starts: START - max(QUEUED, END of the input copies) for the first
  launch, START - max(QUEUED, END of the previous launch) for later ones (waiting on a
  predecessor is not dispatch). Datasets before 2026-11-22T06:00 counted the buffer-mode
  input-copy wait as dispatch.
- ``queued_submit_us`` / ``submit_start_us``: sums of SUBMIT - QUEUED and START - SUBMIT.
- ``transfer_in_us`` / ``transfer_out_us``: getting activations into device-visible memory
  and the result back into the host array (copy events for ``buffer``; host time of
  map + copy + unmap for the mapped and SVM modes).
- ``total_us``: host wall time of the whole run, from the first transfer to the result in
  the host array.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from latpred.profiler.kernels.base import Buf, DeviceLimits, Implementation, Launch, LocalSize

from latpred.errors import LatpredError

log = logging.getLogger(__name__)

MEM_MODES = ("buffer", "map", "svm_coarse", "svm_fine")


class ConfigError(RuntimeError):
    """A configuration that cannot run; ``status`` is the dataset status it maps to."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def _cl():
    import pyopencl as cl

    return cl


def supported_mem_modes(device: Any) -> list[str]:
    """Memory modes this device supports, in MEM_MODES order."""
    cl = _cl()
    modes = ["buffer", "map"]
    try:
        caps = int(device.svm_capabilities)
    except Exception:  # OpenCL 1.x
        caps = 0
    if caps & cl.device_svm_capabilities.COARSE_GRAIN_BUFFER:
        modes.append("svm_coarse")
    if caps & cl.device_svm_capabilities.FINE_GRAIN_BUFFER:
        modes.append("svm_fine")
    return modes


class OpenCLDevice:
    """An OpenCL device (optionally a sub-device of ``threads`` compute units) ready to run.

    Args:
        device: a ``pyopencl.Device``.
        threads: if given, partition the device EQUALLY into sub-devices of this many
            compute units and use the first (device fission; PoCL CPU threads).
    """

    def __init__(self, device: Any, threads: int | None = None):
        cl = _cl()
        self.root_device = device
        self.threads = threads
        if threads is not None and threads < int(device.max_compute_units):
            try:
                device = device.create_sub_devices(
                    [cl.device_partition_property.EQUALLY, int(threads)]
                )[0]
            except cl.Error as err:
                raise LatpredError(
                    f"threads={threads!r}: device {device.name!r} cannot be partitioned ({err})"
                ) from err
        self.device = device
        self.context = cl.Context([device])
        self.queue = cl.CommandQueue(
            self.context, properties=cl.command_queue_properties.PROFILING_ENABLE
        )
        self.limits = DeviceLimits.from_cl(device)
        self.mem_modes = supported_mem_modes(device)
        self._programs: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return str(self.root_device.name).strip()

    @property
    def platform_name(self) -> str:
        return str(self.root_device.platform.name).strip()

    def program(self, source: str) -> Any:
        """Build (once per source) and return the program; raises ConfigError on failure."""
        prg = self._programs.get(source)
        if prg is None:
            cl = _cl()
            try:
                prg = cl.Program(self.context, source).build()
            except cl.Error as err:
                raise ConfigError("build_error", str(err).strip().splitlines()[0][:500]) from err
            self._programs[source] = prg
        return prg


@dataclass
class _Alloc:
    """One problem array on the device side, in one memory mode."""

    name: str
    role: str  # in | weight | out | scratch
    host: np.ndarray | None
    buf: Any = None  # cl.Buffer or cl.SVM wrapper (kernel argument)
    svm: Any = None  # cl.SVM wrapper for svm modes
    view: np.ndarray | None = None  # the SVM memory as a flat float32 array


@dataclass
class OpenCLRun:
    """One configuration bound to one problem's arrays on one device.

    Args:
        dev: the device.
        impl: the kernel implementation.
        problem: a problem (GemmProblem, ConvLayer, ...) with ``roles`` and ``shapes()``.
        params: the implementation's compile-time parameters.
        local: the local size (None: driver's choice).
        mem_mode: one of MEM_MODES supported by the device.
        arrays: the problem's arrays (name -> float32 ndarray); ``out`` arrays receive results.
        shared: optional cache of device allocations for these arrays (name -> allocation),
            filled on first use and reused by later runs of other configurations of the same
            problem and memory mode (a sweep passes one dict per problem x mem_mode and calls
            ``release_shared`` when done); ``release`` leaves shared allocations alone.
        copy_out: copy outputs back into their host arrays (default). False leaves results
            in device-side memory (read them with ``shared_view`` in ``svm_fine`` mode).

    ``run_once`` = ``start`` (transfer in, enqueue, flush; non-blocking) + ``wait``.
    """

    dev: OpenCLDevice
    impl: Implementation
    problem: Any
    params: dict
    local: LocalSize
    mem_mode: str
    arrays: dict[str, np.ndarray]
    shared: dict[str, Any] | None = None
    copy_out: bool = True
    launches: list[Launch] = field(init=False)
    _allocs: dict[str, _Alloc] = field(init=False, default_factory=dict)
    _kernels: list[Any] = field(init=False, default_factory=list)
    _pending: tuple | None = field(init=False, default=None)
    _finished: tuple | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        cl = _cl()
        if self.mem_mode not in self.dev.mem_modes:
            raise ConfigError("unsupported", f"mem_mode {self.mem_mode!r} not supported by device")
        reason = self.impl.shape_reason(self.problem, self.params)
        if reason:
            raise ConfigError("illegal_shape", reason)
        prg = self.dev.program(self.impl.source(self.problem, self.params))
        self.launches = self.impl.launches(self.problem, self.params, self.local)
        roles = dict(self.problem.roles)
        for name, arr in self.arrays.items():
            if self.shared is not None and name in self.shared:
                self._allocs[name] = self.shared[name]
            else:
                self._allocs[name] = self._alloc(name, roles[name], arr)
                if self.shared is not None:
                    self.shared[name] = self._allocs[name]
        for name, n in self.impl.scratch(self.problem, self.params).items():
            self._allocs[name] = self._alloc(name, "scratch", None, nbytes=4 * max(1, n))
        for launch in self.launches:
            knl = cl.Kernel(prg, launch.kernel)
            if launch.local_size is not None:
                wg_max = knl.get_work_group_info(
                    cl.kernel_work_group_info.WORK_GROUP_SIZE, self.dev.device
                )
                if int(np.prod(launch.local_size)) > wg_max:
                    raise ConfigError(
                        "illegal_work_group",
                        f"local size {launch.local_size} exceeds kernel limit {wg_max}",
                    )
                if any(g % lsz for g, lsz in zip(launch.global_size, launch.local_size)):
                    raise ConfigError(
                        "illegal_work_group",
                        f"global {launch.global_size} not a multiple of local {launch.local_size}",
                    )
            args = []
            for a in launch.args:
                args.append(self._allocs[a.name].buf if isinstance(a, Buf) else a.as_numpy())
            knl.set_args(*args)
            self._kernels.append(knl)

    # -- allocation -------------------------------------------------------------------
    def _alloc(self, name: str, role: str, host: np.ndarray | None, nbytes: int = 0) -> _Alloc:
        cl = _cl()
        ctx, queue = self.dev.context, self.dev.queue
        nbytes = host.nbytes if host is not None else nbytes
        nbytes = max(nbytes, 4)
        mode = self.mem_mode
        a = _Alloc(name, role, host)
        if mode.startswith("svm") and role != "scratch":
            flags = cl.svm_mem_flags.READ_WRITE
            if mode == "svm_fine":
                flags |= cl.svm_mem_flags.SVM_FINE_GRAIN_BUFFER
            # no queue=: pyopencl would free through clEnqueueSVMFree, which corrupts the
            # heap on PoCL 3.0; clSVMFree is safe once the queue is idle (runs end with
            # finish)
            a.view = cl.svm_empty(ctx, flags, (nbytes // 4,), np.float32)
            a.svm = a.buf = cl.SVM(a.view)
            if role == "weight":  # weights placed once
                self._host_to_shared(a)
            return a
        if mode == "map" and role != "scratch":
            a.buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.ALLOC_HOST_PTR, nbytes)
        else:
            a.buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, nbytes)
        if role == "weight":
            cl.enqueue_copy(queue, a.buf, host, is_blocking=True)
        return a

    # -- running ----------------------------------------------------------------------
    def run_once(self) -> dict[str, Any]:
        """Transfer in, launch, transfer out. Returns the timings of this run (us)."""
        self.start()
        return self.wait()

    def start(self) -> None:
        """First half of ``run_once``: transfer in and enqueue the launches (and, in
        ``buffer`` mode, the copies out), then flush; returns without waiting, so the host
        can work (e.g. compute a CPU share of the layer) while the device runs.
        Call ``wait`` before the next ``start``."""
        cl = _cl()
        queue = self.dev.queue
        ins = [a for a in self._allocs.values() if a.role == "in"]
        outs = [a for a in self._allocs.values() if a.role == "out"]
        t0 = time.perf_counter()
        in_events = []
        if self.mem_mode == "buffer":
            for a in ins:
                in_events.append(cl.enqueue_copy(queue, a.buf, a.host, is_blocking=False))
        else:
            for a in ins:
                self._host_to_shared(a)
        t_in = time.perf_counter()
        events, enqueue_s = [], 0.0
        for launch, knl in zip(self.launches, self._kernels):
            t = time.perf_counter()
            events.append(
                cl.enqueue_nd_range_kernel(queue, knl, launch.global_size, launch.local_size)
            )
            enqueue_s += time.perf_counter() - t
        t_launched = time.perf_counter()
        out_events = []
        if self.mem_mode == "buffer" and self.copy_out:
            for a in outs:
                out_events.append(cl.enqueue_copy(queue, a.host, a.buf, is_blocking=False))
        queue.flush()
        self._pending = (t0, t_in, t_launched, enqueue_s, in_events, events, out_events, outs)

    def wait(self) -> dict[str, Any]:
        """Second half of ``run_once``: ``finish`` then ``event_timings``; returns the
        timings of the run ``start`` began (us; ``total_us`` from ``start``'s first transfer
        to the result in the host array)."""
        return self.event_timings(self.finish())

    def finish(self) -> dict[str, Any]:
        """Wait for the device and transfer out (mapped and SVM modes); returns the run's
        host-side timings (us): ``total_us``, ``host_launch_us`` and, in the mapped and SVM
        modes, ``transfer_in_us`` / ``transfer_out_us``. The rest (``event_timings``) comes
        from the launches' profiling counters, whose reading costs host time (about 26 us a
        run on the H100's NVIDIA driver): a caller timing the run around ``finish`` reads
        them after its clock stops, as a deployment, which reads none, would not pay them."""
        if self._pending is None:
            raise RuntimeError("OpenCLRun.wait() without start()")
        t0, t_in, t_launched, enqueue_s, in_events, events, out_events, outs = self._pending
        self._pending = None
        self.dev.queue.finish()
        t_out_start = time.perf_counter()
        if self.mem_mode != "buffer" and self.copy_out:
            for a in outs:
                self._shared_to_host(a)
        t_end = time.perf_counter()
        res: dict[str, Any] = {}
        if self.mem_mode != "buffer":
            res["transfer_in_us"] = (t_in - t0) * 1e6
            res["transfer_out_us"] = (t_end - t_out_start) * 1e6
        res["total_us"] = (t_end - t0) * 1e6
        res["host_launch_us"] = (t_launched - t_in) * 1e6
        self._finished = (enqueue_s, in_events, events, out_events)
        return res

    def event_timings(self, host: dict[str, Any]) -> dict[str, Any]:
        """``host`` (``finish``'s timings of the last finished run) completed with its
        launches' profiling counters: ``kernel_us``, ``dispatch_us`` (plus the host's
        enqueue calls), ``queued_submit_us``, ``submit_start_us``, ``n_kernels``,
        ``kernel_breakdown_us`` and, in ``buffer`` mode, the copy events' transfer times."""
        if self._finished is None:
            raise RuntimeError("OpenCLRun.event_timings() without finish()")
        enqueue_s, in_events, events, out_events = self._finished
        self._finished = None
        res = _event_times(events, after=in_events)
        res["dispatch_us"] += enqueue_s * 1e6
        if self.mem_mode == "buffer":
            res["transfer_in_us"] = sum(_dur_us(e) for e in in_events)
            res["transfer_out_us"] = sum(_dur_us(e) for e in out_events)
        res.update(host)
        return res

    def shared_view(self, name: str) -> np.ndarray:
        """The device-side memory of array ``name`` as a host ndarray of its host shape
        (``svm_fine`` / ``svm_coarse`` only; coarse-grained memory may only be touched by
        the host while mapped). With ``copy_out=False`` in ``svm_fine`` mode, the output's
        shared view *is* the result: the host and the device write disjoint parts of it
        in place."""
        a = self._allocs[name]
        if a.view is None:
            raise ConfigError("unsupported", f"{self.mem_mode!r}: {name} has no shared view")
        return a.view[: a.host.size].reshape(a.host.shape)

    def _host_to_shared(self, a: _Alloc) -> None:
        cl = _cl()
        q = self.dev.queue
        if self.mem_mode == "map":
            view, _ = cl.enqueue_map_buffer(
                q, a.buf, cl.map_flags.WRITE_INVALIDATE_REGION, 0, a.host.shape, a.host.dtype
            )
            np.copyto(view, a.host)
            view.base.release(q)
        elif self.mem_mode == "svm_coarse":
            with a.svm.map_rw(q) as view:
                np.copyto(view[: a.host.size], a.host.ravel())
        else:  # svm_fine: the host writes straight into shared memory
            np.copyto(a.view[: a.host.size], a.host.ravel())

    def _shared_to_host(self, a: _Alloc) -> None:
        cl = _cl()
        q = self.dev.queue
        if self.mem_mode == "map":
            view, _ = cl.enqueue_map_buffer(
                q, a.buf, cl.map_flags.READ, 0, a.host.shape, a.host.dtype
            )
            np.copyto(a.host, view)
            view.base.release(q)
        elif self.mem_mode == "svm_coarse":
            with a.svm.map_ro(q) as view:
                np.copyto(a.host.reshape(-1), view[: a.host.size])
        else:
            np.copyto(a.host.reshape(-1), a.view[: a.host.size])

    def output(self) -> np.ndarray:
        """The (first) output array, as last written by ``run_once``."""
        return next(a.host for a in self._allocs.values() if a.role == "out")

    def release(self) -> None:
        shared = set(map(id, (self.shared or {}).values()))
        for a in self._allocs.values():
            if id(a) not in shared:
                _free(a)
        self._allocs.clear()


def release_shared(shared: dict[str, Any]) -> None:
    """Free the allocations of a ``shared`` cache (see OpenCLRun)."""
    for a in shared.values():
        _free(a)
    shared.clear()


def _free(a: _Alloc) -> None:
    if a.svm is None and a.buf is not None:
        a.buf.release()
    a.buf = a.svm = a.view = None  # SVM memory is freed with its last reference


def _dur_us(ev: Any) -> float:
    return (ev.profile.end - ev.profile.start) * 1e-3


def _event_times(events: list[Any], after: list[Any] = ()) -> dict[str, Any]:
    """Kernel and dispatch times of launch events; ``after``: commands the first launch
    waits for in the in-order queue (input copies), so that wait is not counted as dispatch."""
    kernel = dispatch = qs = ss = 0.0
    per_launch = []
    prev_end = max((ev.profile.end for ev in after), default=None)
    for ev in events:
        p = ev.profile
        queued, submit, start, end = p.queued, p.submit, p.start, p.end
        kernel += (end - start) * 1e-3
        per_launch.append((end - start) * 1e-3)
        ready = queued if prev_end is None else max(queued, prev_end)
        dispatch += max(0, start - ready) * 1e-3
        qs += max(0, submit - queued) * 1e-3
        ss += max(0, start - submit) * 1e-3
        prev_end = end
    return {
        "kernel_us": kernel,
        "dispatch_us": dispatch,
        "queued_submit_us": qs,
        "submit_start_us": ss,
        "n_kernels": len(events),
        "kernel_breakdown_us": per_launch,
    }


def execute(
    dev: OpenCLDevice,
    impl: Implementation,
    problem: Any,
    params: dict,
    local: LocalSize,
    arrays: dict[str, np.ndarray],
    mem_mode: str = "buffer",
) -> np.ndarray:
    """Run one configuration once and return its output (a convenience for tests)."""
    run = OpenCLRun(dev, impl, problem, params, local, mem_mode, arrays)
    try:
        run.run_once()
        return run.output().copy()
    finally:
        run.release()
