"""The README's scheduler snippet runs as printed.

The snippet (the ```python block after the ``<!-- scheduler-snippet -->`` marker in
README.md) loads ``runs/h100_models/{cpu_us,gpu_total_us}.pkl`` and plans a layer. Here tiny
predictors are trained on a slice of the shipped H100 dataset, dumped where the snippet looks,
and the snippet is executed from the README text itself, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import joblib
import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- scheduler-snippet -->"


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MARKER in text, f"README.md lost the {MARKER} marker"
    match = re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S)
    assert match, "no ```python block after the scheduler-snippet marker"
    return match.group(1)


def test_snippet_is_short():
    lines = [ln for ln in readme_snippet().splitlines() if ln.strip()]
    assert len(lines) <= 12, "the README promises a ten-line snippet"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """runs/h100_models/{cpu_us,gpu_total_us}.pkl under a temporary directory, trained in
    seconds on a slice of datasets/h100/linear (untuned XGBoost, few trees)."""
    from latpred.datasets import load
    from latpred.models import LatencyPredictor, target_rows

    data = ROOT / "datasets" / "h100" / "linear"
    if not data.is_dir():
        pytest.skip("the shipped dataset datasets/h100 is not in this checkout")
    df = load(data)
    base = tmp_path_factory.mktemp("readme")
    out = base / "runs" / "h100_models"
    out.mkdir(parents=True)
    params = {"n_estimators": 40, "learning_rate": 0.2, "max_depth": 5, "min_child_weight": 1.0,
              "subsample": 1.0, "colsample": 1.0, "reg_lambda": 0.1}
    for target in ("cpu_us", "gpu_total_us"):
        rows, _ = target_rows(df, target)
        rows = rows.sample(n=min(len(rows), 800), random_state=0).reset_index(drop=True)
        rows.attrs = dict(df.attrs)
        pred = LatencyPredictor(target=target, model="xgboost", params=params, cv_splits=2,
                                n_jobs=1).fit(rows)
        joblib.dump(pred, out / f"{target}.pkl")
    return base


def test_readme_snippet_runs(tiny_models, monkeypatch, capsys):
    monkeypatch.chdir(tiny_models)
    scope: dict = {"__name__": "readme_snippet"}
    exec(compile(readme_snippet(), "README.md (scheduler snippet)", "exec"), scope)
    printed = capsys.readouterr().out
    choice = scope["choice"]
    assert choice.plan.kind in ("cpu", "gpu", "split")
    assert choice.plan_us > 0 and choice.predicted_speedup >= 1.0
    assert choice.plan.describe() in printed
