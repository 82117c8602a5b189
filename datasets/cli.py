"""``latpred suite``: list and show layer suites, and write them from ONNX models."""

from __future__ import annotations

import argparse

from latpred.errors import bad_value


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suite", help="layer suites: list, show, write one from an ONNX model",
        description="Layer suites are the networks `plan`, `coexec bench` and `profile` take "
                    "with --suite: a shipped suite's name or a suite file's path.")
    ss = p.add_subparsers(dest="suite_command", metavar="ACTION", required=True)
    q = ss.add_parser("list", help="the shipped suites")
    q.set_defaults(func=cmd_list)
    q = ss.add_parser("show", help="a suite's layers")
    q.add_argument("suite", metavar="SUITE", help="a shipped suite's name or a suite file")
    q.set_defaults(func=cmd_show)
    q = ss.add_parser(
        "from-onnx", help="write the conv2d and linear layers of an ONNX model as suites",
        description="Write the Conv, Gemm and MatMul-with-weight layers of an ONNX model as "
                    "suite files (NAME.json; with both ops the linear layers in NAME_fc.json), "
                    "deduplicated by shape. Plan them with `latpred plan --suite "
                    "OUT/NAME.json`. Needs the onnx package (pip install 'latpred[onnx]').")
    q.add_argument("model", metavar="MODEL", help="an .onnx file (weights may stay external)")
    q.add_argument("--out", required=True, help="directory for the suite files")
    q.add_argument("--name", default=None,
                   help="the suites' name (default: the model file's stem)")
    q.add_argument("--dim", action="append", default=[], metavar="SYMBOL=N",
                   help="a value for a symbolic input dimension, e.g. batch=1 or "
                        "sequence=128 (repeatable; every symbolic one needs a value)")
    q.add_argument("--force", action="store_true", help="replace existing suite files")
    q.set_defaults(func=cmd_from_onnx)


def _dims(specs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for spec in specs:
        sym, eq, val = spec.partition("=")
        if not eq or not sym or not val.strip().isdigit() or int(val) < 1:
            raise bad_value("dim", spec, "must be SYMBOL=N with N a positive integer")
        out[sym] = int(val)
    return out


def cmd_list(args: argparse.Namespace) -> int:
    from latpred.datasets import suites

    print("| suite | op | shapes | layers |")
    print("|---|---|---:|---:|")
    for name in suites.list_suites():
        data = suites.load_suite(name)
        total = sum(int(lay.get("count", 1)) for lay in data["layers"])
        print(f"| {name} | {data['op']} | {len(data['layers'])} | {total} |")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from latpred.datasets import suites

    data = suites.load_suite(args.suite)
    items = suites.suite_layers(args.suite)
    print(f"{suites.suite_label(args.suite)}: {data['op']}, {len(items)} shapes, "
          f"{sum(c for _n, c, _l in items)} layers")
    if data.get("source"):
        print(data["source"])
    fields = suites.CONV_FIELDS if data["op"] == "conv2d" else suites.LINEAR_FIELDS
    print("| layer | count | " + " | ".join(fields) + " | GFLOP |")
    print("|---|---:|" + "---:|" * (len(fields) + 1))
    for name, count, layer in items:
        vals = " | ".join(str(getattr(layer, f)) for f in fields)
        print(f"| {name} | {count} | {vals} | {layer.flops / 1e9:.3g} |")
    return 0


def cmd_from_onnx(args: argparse.Namespace) -> int:
    from latpred.datasets import suites
    from latpred.datasets.onnx_suite import onnx_suites
    from latpred.datasets.store import check_writable

    out = check_writable(args.out)
    imp = onnx_suites(args.model, _dims(args.dim), args.name)
    if not imp.suites:
        raise bad_value("model", args.model, "has no Conv, Gemm or MatMul-with-weight layer"
                        + (f" (left out: {_reasons(imp.skipped)})" if imp.skipped else ""))
    paths = {op: out / f"{data['name']}.json" for op, data in imp.suites.items()}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not args.force:
        raise bad_value("out", existing[0], "exists (--force replaces it)")
    out.mkdir(parents=True, exist_ok=True)
    for op, data in imp.suites.items():
        suites.write_suite(paths[op], data)
        print(f"{paths[op]}: {imp.layers[op]} {op} layers, {len(data['layers'])} shapes")
    if imp.skipped:
        print(f"left out: {_reasons(imp.skipped)}")
    first = next(iter(paths.values()))
    print(f"next: latpred plan --models DIR --suite {first}")
    return 0


def _reasons(skipped: dict[str, int]) -> str:
    return "; ".join(f"{n} {why}" for why, n in sorted(skipped.items(), key=lambda t: -t[1]))


__all__ = ["add_subcommands"]
