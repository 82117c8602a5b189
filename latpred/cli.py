"""The ``latpred`` command line. Each stage registers its own subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from latpred import __version__
from latpred.errors import LatpredError


class _Parser(argparse.ArgumentParser):
    """argparse with whole option names only (``--m`` is not ``--mem-modes``) and a
    one-line error (exit 2) instead of the usage block; subcommands inherit both."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="latpred",
        description="Profile DNN layers on OpenCL devices and CPUs, predict their latency, "
                    "and plan CPU-GPU co-execution.",
    )
    parser.add_argument("--version", action="version", version=f"latpred {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from latpred.profiler import cli as profiler_cli

    profiler_cli.add_subcommands(sub)
    for module in ("latpred.datasets.cli", "latpred.models.cli", "latpred.planner.cli"):
        try:
            mod = __import__(module, fromlist=["add_subcommands"])
        except ImportError as err:  # a stage not installed in this build
            logging.getLogger(__name__).debug("no %s: %s", module, err)
            continue
        mod.add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the exit code: 0 ok, 2 user error (one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LatpredError as err:
        print(f"latpred {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"latpred {args.command}: interrupted", file=sys.stderr)
        return 130
