"""The layer suites we ship (``datasets/suites/*.json``) and the random shape samplers.

A suite file is plain data::

    {"name": "resnet50", "op": "conv2d", "source": "...",
     "layers": [{"name": "conv1", "count": 1, "in_channels": 3, "out_channels": 64,
                 "height": 224, "width": 224, "kernel_h": 7, "kernel_w": 7, "stride": 2,
                 "padding": 3, "dilation": 1, "groups": 1, "batch": 1}, ...]}

with op ``conv2d`` (ConvLayer fields) or ``linear`` (layers ``{"name", "count", "m", "n",
"k"}``, LinearLayer). Layers are deduplicated by shape: ``count`` is how many times the
shape occurs in the network and ``name`` its first occurrence.

Wherever a suite is named (``latpred plan --suite``, ``coexec bench``, ``profile``), a path to
such a file works too (``--suite runs/mynet.json``): ``latpred suite from-onnx`` writes one
from an ONNX model (``datasets.onnx_suite``). Its rows are labelled with the file's
``name``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent / "suites"
OPS = ("conv2d", "linear")
CONV_FIELDS = ("batch", "in_channels", "out_channels", "height", "width", "kernel_h",
               "kernel_w", "stride", "padding", "dilation", "groups")
LINEAR_FIELDS = ("m", "n", "k")
#: conv fields a suite layer may leave out
CONV_DEFAULTS = {"batch": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}

#: a suite file's ``name``: it labels the rows (the ``suite`` column of datasets and benches)
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: the largest suite file read (a network has at most thousands of layers)
MAX_SUITE_FILE_BYTES = 16 * 2**20

#: rejection limits of the random samplers
MAX_FLOPS = 2e10
MAX_BYTES = 256 * 2**20


class SuiteLayer(NamedTuple):
    """One deduplicated layer of a suite: its first name, occurrences and shape."""

    name: str
    count: int
    layer: ConvLayer | LinearLayer


def list_suites() -> list[str]:
    """Names of the shipped suites (file stems), sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.json"))


def is_suite_path(ref: str) -> bool:
    """Whether ``ref`` names a suite file (``*.json`` or a path) rather than a shipped suite."""
    return ref.endswith(".json") or os.sep in ref or "/" in ref


def _load(ref: str) -> str:
    if is_suite_path(ref):
        path = Path(ref)
        if not path.is_file():
            raise bad_value("suite", ref, "no such suite file")
        if path.stat().st_size > MAX_SUITE_FILE_BYTES:
            raise bad_value("suite", ref, f"larger than {MAX_SUITE_FILE_BYTES // 2**20} MiB")
        return path.read_text()
    path = SUITES_DIR / f"{ref}.json"
    if not path.is_file():
        raise bad_value("suite", ref, f"unknown suite (known: {', '.join(list_suites())}; "
                                      "or give a suite file's path)")
    return path.read_text()


def load_suite(ref: str) -> dict[str, Any]:
    """The suite's JSON as a dict (validated: every layer builds a valid layer object).

    Args:
        ref: a shipped suite's name (``list_suites``) or a suite file's path."""
    try:
        data = json.loads(_load(ref))
    except json.JSONDecodeError as err:
        raise bad_value("suite", ref, f"invalid JSON ({err})") from None
    except UnicodeDecodeError:
        raise bad_value("suite", ref, "not a UTF-8 text file") from None
    _validate(ref, data)
    return data


def suite_label(ref: str) -> str:
    """The name a suite's rows carry (the ``suite`` column of datasets and bench tables):
    a shipped suite's name, a file's ``name`` field."""
    return str(load_suite(ref)["name"]) if is_suite_path(ref) else ref


def _validate(name: str, data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise bad_value("suite", name, "must be an object with a 'layers' list")
    label = data.get("name")
    if is_suite_path(name) and not (isinstance(label, str) and _LABEL.fullmatch(label)):
        raise bad_value("suite", name, f"name={label!r}: needs a 'name' of letters, digits, "
                                       "'.', '_' or '-' (it labels the suite's rows)")
    if data.get("op") not in OPS:
        raise bad_value("suite", name, f"op={data.get('op')!r}: must be one of {', '.join(OPS)}")
    if not data["layers"]:
        raise bad_value("suite", name, "has no layers")
    for i, layer in enumerate(data["layers"]):
        _layer_obj(name, data["op"], i, layer)


def _layer_obj(suite: str, op: str, i: int, layer: Any) -> SuiteLayer:
    fields = CONV_FIELDS if op == "conv2d" else LINEAR_FIELDS
    where = f"layer {i}"
    if not isinstance(layer, dict):
        raise bad_value("suite", suite, f"{where}: must be an object")
    where = f"layer {i} ({layer.get('name', '?')})"
    if not isinstance(layer.get("name"), str) or not layer["name"]:
        raise bad_value("suite", suite, f"{where}: needs a non-empty 'name'")
    count = layer.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise bad_value("suite", suite, f"{where}: count={count!r} must be a positive integer")
    defaults = CONV_DEFAULTS if op == "conv2d" else {}
    missing = [f for f in fields if f not in layer and f not in defaults]
    if missing:
        raise bad_value("suite", suite, f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(layer) - set(fields) - {"name", "count"})
    if unknown:
        raise bad_value("suite", suite, f"{where}: unknown fields {', '.join(unknown)}")
    kwargs = {f: layer.get(f, defaults.get(f)) for f in fields}
    try:
        obj: ConvLayer | LinearLayer = (ConvLayer(**kwargs) if op == "conv2d"
                                        else LinearLayer(**kwargs))
    except (LatpredError, TypeError) as err:
        raise bad_value("suite", suite, f"{where}: {err}") from None
    return SuiteLayer(layer["name"], count, obj)


def suite_layers(name: str) -> list[SuiteLayer]:
    """The suite's layers as (name, count, ConvLayer | LinearLayer) tuples, in file order."""
    data = load_suite(name)
    return [_layer_obj(name, data["op"], i, lay) for i, lay in enumerate(data["layers"])]


def suite_op(name: str) -> str:
    """The suite's op: ``conv2d`` or ``linear``."""
    return load_suite(name)["op"]


def merge_layers(named: Iterable[tuple[str, Mapping[str, int]]]) -> list[dict[str, Any]]:
    """Suite layers of (name, shape fields) pairs in network order: one per distinct shape,
    named after its first occurrence, ``count`` its occurrences."""
    merged: dict[tuple, dict[str, Any]] = {}
    for name, shape in named:
        key = tuple(sorted(shape.items()))
        if key in merged:
            merged[key]["count"] += 1
        else:
            merged[key] = {"name": name, "count": 1, **shape}
    return list(merged.values())


def suite_text(data: Mapping[str, Any]) -> str:
    """A suite object as the shipped files write it: the header indented, a layer a line."""
    head = json.dumps({k: v for k, v in data.items() if k != "layers"}, indent=2)[:-2]
    rows = ",\n".join("    " + json.dumps(r) for r in data["layers"])
    return f'{head},\n  "layers": [\n{rows}\n  ]\n}}\n'


def write_suite(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Validate ``data`` as a suite and write it to ``path`` (whole or not at all: a
    temporary file renamed into place). Returns the path."""
    path = Path(path)
    _validate(str(path), data)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(suite_text(data))
    os.replace(tmp, path)
    return path


# -- random samplers -----------------------------------------------------------------------
def _log_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer log-uniform in [lo, hi]."""
    v = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
    return int(min(hi, max(lo, math.floor(v))))


def _conv_bytes(c: ConvLayer) -> int:
    return 4 * sum(int(np.prod(s)) for s in c.shapes().values())


def random_conv_layers(n: int, seed: int = 0, max_flops: float = MAX_FLOPS,
                       max_bytes: int = MAX_BYTES) -> list[ConvLayer]:
    """``n`` random, realistic conv2d layers, deterministic per ``seed``.

    Channels log-uniform in 3..2048, input spatial size log-uniform in 7..224 (20%
    non-square), kernels 1/3/5/7, stride 1 (75%) or 2, "same"-like padding d*(k//2),
    occasional dilation 2, batch 1 (70%) or 2/4/8; about 15% depthwise (groups = C = O,
    kernels 3/5/7) and 5% grouped (groups 2..32). Layers above ``max_flops`` or whose
    x + w + y exceed ``max_bytes`` are rejected and redrawn.
    """
    if n < 0:
        raise bad_value("n", n, "must be >= 0")
    rng = np.random.default_rng(seed)
    out: list[ConvLayer] = []
    while len(out) < n:
        kind = rng.choice(3, p=[0.80, 0.15, 0.05])  # 0 dense, 1 depthwise, 2 grouped
        h = _log_int(rng, 7, 224)
        w = h if rng.random() < 0.8 else _log_int(rng, 7, 224)
        batch = int(rng.choice([1, 2, 4, 8], p=[0.7, 0.1, 0.1, 0.1]))
        stride = 1 if rng.random() < 0.75 else 2
        if kind == 1:
            c = o = groups = _log_int(rng, 3, 2048)
            k = int(rng.choice([3, 5, 7], p=[0.7, 0.2, 0.1]))
        else:
            k = int(rng.choice([1, 3, 5, 7], p=[0.35, 0.45, 0.1, 0.1]))
            c, o = _log_int(rng, 3, 2048), _log_int(rng, 3, 2048)
            groups = 1
            if kind == 2:
                groups = int(rng.choice([2, 4, 8, 16, 32]))
                c = max(1, round(c / groups)) * groups
                o = max(1, round(o / groups)) * groups
        dilation = 2 if k == 3 and rng.random() < 0.05 else 1
        layer = ConvLayer(batch, c, o, h, w, k, k, stride=stride, padding=dilation * (k // 2),
                          dilation=dilation, groups=groups)
        if layer.flops > max_flops or _conv_bytes(layer) > max_bytes:
            continue
        out.append(layer)
    return out


def random_linear_layers(n: int, seed: int = 0, max_flops: float = MAX_FLOPS) -> list[LinearLayer]:
    """``n`` random linear layers, deterministic per ``seed``: m log-uniform in 1..512,
    n and k log-uniform in 16..8192; layers above ``max_flops`` (2*m*n*k) are redrawn."""
    if n < 0:
        raise bad_value("n", n, "must be >= 0")
    rng = np.random.default_rng(seed)
    out: list[LinearLayer] = []
    while len(out) < n:
        m, nn, k = _log_int(rng, 1, 512), _log_int(rng, 16, 8192), _log_int(rng, 16, 8192)
        if 2 * m * nn * k > max_flops:
            continue
        out.append(LinearLayer(m, nn, k))
    return out
