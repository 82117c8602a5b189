"""Layer suites from an ONNX model: the conv2d and linear layers a network runs.

    imp = onnx_suites("model.onnx", dims={"sequence": 128})
    imp.suites["conv2d"], imp.suites["linear"]   # suite objects (datasets.suites format)
    imp.skipped                                  # Counter: reason -> nodes left out

What becomes a layer:

- ``Conv`` on a 4-D input (NCHW) or a 3-D one (NCW: a conv2d of height 1): a ConvLayer.
  Padding that differs between sides or between height and width is folded into the input
  (the same conv, unpadded, over the input padded beforehand: the same GEMM), as the
  shipped Inception v3 suite does; ``auto_pad`` is resolved the way ONNX defines it.
- ``Gemm``, and ``MatMul`` whose second input is a 2-D weight (a tensor that does not
  depend on the graph's inputs: an initializer, a constant, a Transpose of one, ...): a
  LinearLayer with ``m`` the rows of the activation (leading dimensions folded), ``k`` the
  reduction, ``n`` the outputs.

Every conv layer's output size is checked against ONNX's own shape inference. Left out,
and counted by reason: matrix products of two activations (attention scores), 3-D convs,
transposed convs, quantized ops, unequal strides or dilations, shapes inference could
not determine. Symbolic input dimensions (batch, sequence) must be given values (``dims``).
Needs the ``onnx`` package (``pip install 'latpred[onnx]'``).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latpred.datasets.suites import merge_layers
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

#: quantized products: our kernels are float32
_QUANTIZED = {"QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger"}


@dataclass
class OnnxImport:
    """What ``onnx_suites`` found in a model.

    Attributes:
        suites: op (``conv2d``, ``linear``) -> suite object, for the ops the model has.
        skipped: reason -> number of nodes left out for it.
        layers: op -> layers before deduplication.
    """

    suites: dict[str, dict[str, Any]]
    skipped: Counter = field(default_factory=Counter)
    layers: dict[str, int] = field(default_factory=dict)


def _onnx() -> Any:
    try:
        import onnx
        import onnx.inliner  # a submodule `import onnx` leaves out
        import onnx.shape_inference
    except ImportError:
        raise LatpredError("reading ONNX models needs the onnx package: "
                           "pip install 'latpred[onnx]'") from None
    return onnx


def suite_name(text: str) -> str:
    """A suite label from a file stem: other characters than letters, digits, '.', '_'
    and '-' become '_'."""
    out = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip("._-")[:120]
    return out or "model"


def load_model(model: str | Path | Any) -> Any:
    """An ``onnx.ModelProto`` from a path (weights left external) or as given."""
    onnx = _onnx()
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise bad_value("model", str(model), "no such file")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends
        raise bad_value("model", str(model), f"not an ONNX model ({type(err).__name__})") from None


def _fix_dims(graph: Any, dims: Mapping[str, int]) -> None:
    """Give the graph inputs' symbolic dimensions the values ``dims`` names (in place)."""
    init = {t.name for t in graph.initializer}
    seen: set[str] = set()
    for name, v in dims.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise bad_value("dim", f"{name}={v}", "must be a positive integer")
    for inp in graph.input:
        if inp.name in init or not inp.type.HasField("tensor_type"):
            continue
        for i, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            param = d.dim_param if d.HasField("dim_param") else ""
            if param not in dims:
                what = f"is symbolic ('{param}'): give --dim {param}=N" if param else \
                    "has no size: the model leaves it open"
                raise bad_value("dim", f"{inp.name}[{i}]", what)
            seen.add(param)
            d.dim_value = dims[param]
    unused = sorted(set(dims) - seen)
    if unused:
        raise bad_value("dim", unused[0], "no graph input has this symbolic dimension")
    del graph.value_info[:]  # inferred afresh with the values above


def _shapes(graph: Any) -> dict[str, list[int | None]]:
    """Tensor name -> dimensions (None where unknown) of every typed tensor."""
    out: dict[str, list[int | None]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            out[vi.name] = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                            else None for d in vi.type.tensor_type.shape.dim]
    for t in graph.initializer:
        out[t.name] = list(t.dims)
    return out


def _weights(graph: Any) -> set[str]:
    """Names of tensors that are weights: every tensor that does not depend on a graph
    input (initializers, constants, and what nodes compute from them alone, such as a
    Transpose of an initializer or the ConstantOfShape fills of weight-stripped models;
    nodes are in topological order)."""
    init = {t.name for t in graph.initializer}
    data = {i.name for i in graph.input if i.name not in init}
    w = set(init)
    for node in graph.node:
        outs = [o for o in node.output if o]
        if any(i in data for i in node.input if i):
            data.update(outs)
        else:
            w.update(outs)
    return w


def _attrs(node: Any) -> dict[str, Any]:
    onnx = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _known(shape: list[int | None] | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def _conv(node: Any, shapes: dict[str, list[int | None]]) -> dict[str, int] | str:
    """A Conv node's ConvLayer fields, or the reason it is left out."""
    x, w = shapes.get(node.input[0]), shapes.get(node.input[1])
    if not _known(x) or not _known(w):
        return "Conv of unknown input or weight shape"
    if len(x) not in (3, 4):
        return f"Conv on a {len(x)}-D input (conv2d and conv1d only)"
    a = _attrs(node)
    spatial = x[2:]
    ks = list(a.get("kernel_shape", w[2:]))
    nd = len(spatial)
    strides = list(a.get("strides", [1] * nd))
    dil = list(a.get("dilations", [1] * nd))
    pads = list(a.get("pads", [0] * (2 * nd)))
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * nd)
        for i in range(nd):
            out = math.ceil(spatial[i] / strides[i])
            total = max(0, (out - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1 - spatial[i])
            small, big = total // 2, total - total // 2
            pads[i], pads[i + nd] = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        pads = [0] * (2 * nd)
    if nd == 1:  # NCW: a conv2d of height 1 (kernel 1, no padding in height)
        spatial, ks, strides, dil = [1, *spatial], [1, *ks], [strides[0]] * 2, [dil[0]] * 2
        pads = [0, pads[0], 0, pads[1]]
    if strides[0] != strides[1]:
        return "Conv with unequal strides"
    if dil[0] != dil[1]:
        return "Conv with unequal dilations"
    top, left, bottom, right = pads
    h, wd = spatial
    if top == left == bottom == right:
        padding = top
    else:  # folded into the input: the same conv unpadded over the padded input
        h, wd, padding = h + top + bottom, wd + left + right, 0
    group = int(a.get("group", 1))
    return {"in_channels": int(x[1]), "out_channels": int(w[0]), "height": int(h),
            "width": int(wd), "kernel_h": int(ks[0]), "kernel_w": int(ks[1]),
            "stride": int(strides[0]), "padding": int(padding), "dilation": int(dil[0]),
            "groups": group, "batch": int(x[0])}


def _linear(node: Any, shapes: dict[str, list[int | None]], weights: set[str]
            ) -> dict[str, int] | str:
    """A Gemm or MatMul node's LinearLayer fields, or the reason it is left out."""
    a_shape, b_shape = shapes.get(node.input[0]), shapes.get(node.input[1])
    if node.input[1] not in weights:
        return f"{node.op_type} of two activations (no weight: attention)"
    if not _known(a_shape) or not _known(b_shape):
        return f"{node.op_type} of unknown input shape"
    if len(b_shape) != 2:
        return f"{node.op_type} with a {len(b_shape)}-D weight"
    at = _attrs(node)
    if node.op_type == "Gemm":
        if len(a_shape) != 2:
            return "Gemm of a non-2-D input"
        m, k = (a_shape[1], a_shape[0]) if at.get("transA", 0) else a_shape
        n = b_shape[0] if at.get("transB", 0) else b_shape[1]
    else:
        if not a_shape:
            return "MatMul of a scalar"
        k, n = b_shape
        m = math.prod(a_shape[:-1]) if len(a_shape) > 1 else 1
    return {"m": int(m), "n": int(n), "k": int(k)}


def _check_conv(node: Any, fields: dict[str, int], shapes: dict[str, list[int | None]]
                ) -> str | None:
    """None if the ConvLayer's output size is ONNX's inferred one (where inferred), else
    the reason to leave the node out."""
    try:
        layer = ConvLayer(**fields)
    except LatpredError as err:
        return f"Conv not expressible as a conv2d layer ({err})"
    y = shapes.get(node.output[0])
    if _known(y):
        want = [int(v) for v in y[2:]]
        got = [layer.out_h, layer.out_w][-len(want):] if want else []
        if got != want:
            log.warning("Conv %s: our output %s, ONNX's %s: left out", node.name, got, want)
            return "Conv whose output size disagrees with ONNX's shape inference"
    return None


def onnx_suites(model: str | Path | Any, dims: Mapping[str, int] | None = None,
                name: str | None = None) -> OnnxImport:
    """The conv2d and linear layers of an ONNX model as suites.

    Args:
        model: a path to an ``.onnx`` file, or an ``onnx.ModelProto`` (not modified).
        dims: values of the graph inputs' symbolic dimensions, e.g. ``{"batch": 1}``.
        name: the suites' name (default: the file's stem, or the graph's name); with
            both ops the linear suite is ``NAME_fc`` (as the shipped ``resnet50_fc``).

    Raises:
        LatpredError: not an ONNX model, a symbolic dimension without a value, a value
            for no dimension, onnx not installed.
    """
    onnx = _onnx()
    proto = load_model(model)
    where = Path(model).name if isinstance(model, (str, Path)) else "an in-memory model"
    base = suite_name(name or (Path(model).stem if isinstance(model, (str, Path))
                               else proto.graph.name or "model"))
    proto = onnx.ModelProto.FromString(proto.SerializeToString())  # a copy to edit
    if proto.functions:
        proto = onnx.inliner.inline_local_functions(proto)
    _fix_dims(proto.graph, dict(dims or {}))
    try:
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception as err:  # onnx's InferenceError and friends
        raise bad_value("model", where, f"ONNX shape inference failed ({err})") from None
    graph = proto.graph
    shapes, weights = _shapes(graph), _weights(graph)
    found: dict[str, list[tuple[str, dict[str, int]]]] = {"conv2d": [], "linear": []}
    skipped: Counter = Counter()
    for i, node in enumerate(graph.node):
        label = node.name or (node.output[0] if node.output else f"node{i}")
        if node.op_type in _QUANTIZED:
            skipped[f"{node.op_type} (quantized; our kernels are float32)"] += 1
        elif node.op_type == "ConvTranspose":
            skipped["ConvTranspose (not a conv2d layer)"] += 1
        elif node.op_type == "Conv":
            got = _conv(node, shapes)
            why = got if isinstance(got, str) else _check_conv(node, got, shapes)
            if why:
                skipped[why] += 1
            else:
                found["conv2d"].append((label, got))
        elif node.op_type in ("Gemm", "MatMul"):
            got = _linear(node, shapes, weights)
            if isinstance(got, str):
                skipped[got] += 1
            else:
                LinearLayer(**got)  # positive sizes: a zero here is a malformed model
                found["linear"].append((label, got))
        elif any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):
            skipped[f"{node.op_type} with a subgraph (not searched)"] += 1
    ops = [op for op in ("conv2d", "linear") if found[op]]
    dims_text = ", ".join(f"{k}={v}" for k, v in sorted((dims or {}).items()))
    suites: dict[str, dict[str, Any]] = {}
    for op in ops:
        label = f"{base}_fc" if op == "linear" and len(ops) == 2 else base
        what = "Conv nodes" if op == "conv2d" else "Gemm / MatMul nodes with a weight"
        suites[op] = {
            "name": label, "op": op,
            "source": f"ONNX model {where} (graph '{graph.name}'), every {op} layer from its "
                      f"{what} ({len(found[op])} layers)"
                      + (f" at {dims_text}" if dims_text else "")
                      + ", deduplicated by shape; name = first occurrence, count = "
                        "occurrences; written by latpred suite from-onnx",
            "layers": merge_layers(found[op])}
    return OnnxImport(suites, skipped, {op: len(found[op]) for op in ops})


__all__ = ["OnnxImport", "load_model", "onnx_suites", "suite_name"]
