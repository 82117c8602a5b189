"""Run a script with ``latpred`` imported from another checkout (e.g. a git worktree of an
older commit), for A/B timings against the installed tree.

    python scripts/with_checkout.py CHECKOUT SCRIPT [ARGS ...]

``PYTHONPATH=CHECKOUT`` alone is not enough under an editable install: its import finder
maps ``latpred.planner`` and the other stage packages to the installed tree, so only
``latpred/__init__.py`` would come from CHECKOUT. This removes that finder, puts CHECKOUT
first on ``sys.path`` (a checkout's ``latpred`` package then finds its stage folders
beside it) and runs SCRIPT as ``__main__``.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def use_checkout(checkout: Path) -> None:
    """Import ``latpred`` (not yet imported) from ``checkout`` from now on."""
    if not (checkout / "latpred" / "__init__.py").is_file():
        sys.exit(f"checkout={checkout}: no latpred/__init__.py there")
    if any(m == "latpred" or m.startswith("latpred.") for m in sys.modules):
        sys.exit("latpred is imported already: call use_checkout first")
    sys.meta_path[:] = [f for f in sys.meta_path
                        if "editable" not in getattr(f, "__name__", type(f).__name__).lower()]
    sys.path.insert(0, str(checkout.resolve()))


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[1].strip())
    use_checkout(Path(sys.argv[1]))
    script = sys.argv[2]
    sys.argv = sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
