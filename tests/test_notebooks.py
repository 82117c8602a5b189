"""The notebooks: committed without outputs, and each one executes (tiny parameters).

The notebooks run in a temporary copy of ``notebooks/`` (so ``../runs/h100_models``, where
notebook 02 writes the models that notebook 03 reads, lands in the temporary directory), in
order, on a kernel that is this interpreter (a kernelspec written for ``sys.executable``: a
user-level ``python3`` kernelspec may point at another Python). ``LATPRED_NB_QUICK=1`` makes
their parameters cells choose tiny settings (2 optuna trials, 3,000 rows, a few layers).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = ("01_explore_dataset.ipynb", "02_train_predictors.ipynb",
             "03_coexecution_planning.ipynb")
KERNEL = "latpred-test"
CELL_TIMEOUT_S = 600


def _read(path: Path):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


def _parameters_index(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def inject(nb, **params: object) -> None:
    """Papermill's convention: a cell tagged 'injected-parameters' after the parameters cell."""
    nbformat = pytest.importorskip("nbformat")
    cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(_parameters_index(nb) + 1, cell)


def test_committed_notebooks_have_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    from nbformat.warnings import MissingIDFieldWarning
    assert sorted(p.name for p in NB_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS), \
        "a new notebook must be added to NOTEBOOKS (so that it is executed here)"
    for name in NOTEBOOKS:
        with warnings.catch_warnings():  # nbformat's own check: a cell without an id
            warnings.simplefilter("error", MissingIDFieldWarning)
            try:
                nb = _read(NB_DIR / name)
                nbformat.validate(nb)
            except MissingIDFieldWarning as err:
                pytest.fail(f"{name}: {err}")
        _parameters_index(nb)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            where = f"{name} cell {i}"
            assert cell.outputs == [], f"{where} has stale outputs: clear them before committing"
            assert cell.execution_count is None, f"{where} has an execution count"
            assert "execution" not in cell.metadata, f"{where} has execution timing metadata"


def _kernelspec(base: Path) -> Path:
    """A kernelspec directory whose kernel is this interpreter."""
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"latpred tests ({sys.executable})", "language": "python",
    }))
    return base / "kernels"


def execute(nb, cwd: Path, kernels: Path, env: dict[str, str]) -> tuple[float, str | None]:
    """Run every cell of ``nb`` in place; (seconds, None) or (seconds, the error)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    km = AsyncKernelManager(kernel_name=KERNEL,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(cwd)}})
    t0 = time.perf_counter()
    try:
        client.execute(env=env, cleanup_kc=True)  # shut the kernel down (we own km)
    except CellExecutionError as err:
        return time.perf_counter() - t0, str(err)
    return time.perf_counter() - t0, None


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A temporary copy of notebooks/, the kernelspec and the kernel's environment."""
    for mod in ("nbformat", "nbclient", "ipykernel", "jupyter_client"):
        pytest.importorskip(mod)
    base = tmp_path_factory.mktemp("notebooks")
    shutil.copytree(NB_DIR, base / "notebooks")
    kernels = _kernelspec(base / "jupyter")
    env = dict(os.environ, LATPRED_NB_QUICK="1",
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    return base / "notebooks", kernels, env


@pytest.fixture(scope="module")
def executed(workspace):
    """Every notebook executed once, in order: name -> (notebook, seconds, error)."""
    cwd, kernels, env = workspace
    out = {}
    for name in NOTEBOOKS:
        nb = _read(cwd / name)
        seconds, error = execute(nb, cwd, kernels, env)
        out[name] = (nb, seconds, error)
    print("\nnotebook runtimes: " + ", ".join(f"{n} {s:.1f} s" for n, (_, s, _) in out.items())
          + f"; total {sum(s for _, s, _ in out.values()):.1f} s")
    return out


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(executed, name):
    nb, seconds, error = executed[name]
    assert error is None, f"{name} failed after {seconds:.1f} s:\n{error}"
    assert _images(nb) >= 1, f"{name} drew no figure"


def test_models_directory_written(executed, workspace):
    """Notebook 02 leaves the layout ``latpred plan --models DIR`` reads."""
    cwd, _, _ = workspace
    models = cwd.parent / "runs" / "h100_models"
    assert {"cpu_us.pkl", "gpu_total_us.pkl", "manifest.json"} <= {p.name for p in models.iterdir()}
    from latpred.planner import Predictors

    preds = Predictors.load(models)
    assert preds.device("GPU") is not None and preds.device("CPU") is not None


BENCH_COLUMNS = ("layer", "count", "n_total", "plan_kind", "plan_split_n", "plan_ratio", "plan",
                 "plan_status", "t_plan_source", "predicted_plan_us", "predicted_single_us",
                 "t_plan_us", "t_single_us", "t_oracle_us", "single_kind", "oracle_ratio",
                 "oracle_config", "speedup_plan", "speedup_oracle", "efficiency",
                 "slower_than_single")


def test_planning_notebook_compares_a_bench_table(executed, workspace, tmp_path):
    """Notebook 03's comparison cells on a small bench.csv in the format of
    ``latpred coexec bench`` (none is committed yet, so the default run skips them)."""
    import pandas as pd

    cwd, kernels, env = workspace
    assert executed["02_train_predictors.ipynb"][2] is None, "notebook 02 failed"
    rows = []
    for i, layer in enumerate(("conv1", "layer1.0.conv1", "layer1.0.conv2")):
        single, oracle = 300.0 + 50 * i, (300.0 + 50 * i) / 1.15
        plan = oracle * 1.03
        rows.append(dict(zip(BENCH_COLUMNS, (
            layer, 1, 64, "split", 48, 0.75, "synthetic", "ok", "grid", plan * 0.9, single * 0.95,
            plan, single, oracle, "gpu", 0.75, "synthetic", single / plan, single / oracle,
            oracle / plan, False))))
    bench = tmp_path / "bench_synthetic" / "bench.csv"
    bench.parent.mkdir()
    pd.DataFrame(rows, columns=list(BENCH_COLUMNS)).to_csv(bench, index=False)

    name = "03_coexecution_planning.ipynb"
    nb = _read(cwd / name)
    inject(nb, BENCH_CSV=str(bench), SUITES=["gpt2_small_decode"], LIMIT_LAYERS=2)
    seconds, error = execute(nb, cwd, kernels, env)
    assert error is None, f"{name} with BENCH_CSV failed after {seconds:.1f} s:\n{error}"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "3 of 3 layers measured" in text
    assert _images(nb) >= 3  # speed-up bars, time bars, the bench comparison
