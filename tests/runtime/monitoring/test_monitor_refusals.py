"""`mlform monitor` on current data it cannot judge: the exact one-line error naming the key, exit 1, no traceback,
and no report written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]
NOT_A_NUMBER = "could not convert string to float: 'wide'"


def _text_in_petal_width(spec: Path) -> None:
    """The live rows, with text where the model reads a number."""
    live = spec.parent / "data/live.csv"
    pd.read_csv(live).assign(petal_width="wide").to_csv(live, index=False)


def _only(**lines: Any) -> Callable[[dict[str, Any]], None]:
    """Monitoring without `performance`, with `lines` added."""
    def change(doc: dict[str, Any]) -> None:
        doc["monitoring"].pop("performance")
        doc["monitoring"].update(lines)
    return change


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: None, f"`monitoring.performance`: {NOT_A_NUMBER}"),
    (_only(max_nonfinite_share=0.0),
     f"`monitoring.max_nonfinite_share`: the served model cannot predict the current data: {NOT_A_NUMBER}"),
    (_only(offline_gap={"metric": "accuracy", "max_drop": 0.05}), f"`monitoring.offline_gap`: {NOT_A_NUMBER}"),
], ids=["performance", "max_nonfinite_share", "offline_gap"])
def test_current_data_the_served_model_cannot_read(mlform, edit_spec: Edit, iris_project: Path,
                                                   change: Callable[[dict[str, Any]], None], message: str) -> None:
    edit_spec(iris_project, change)
    _text_in_petal_width(iris_project)

    assert _refused(mlform, iris_project) == f"error: step `monitor` failed: {message}"


def test_current_data_without_rows(mlform, iris_project: Path) -> None:
    live = iris_project.parent / "data/live.csv"
    live.write_text(live.read_text().splitlines()[0] + "\n")

    assert _refused(mlform, iris_project) == "error: step `monitor` failed: the current data has no rows"


def test_the_serving_log_of_a_model_no_version_of_which_is_served(mlform, edit_spec: Edit,
                                                                  iris_project: Path) -> None:
    def unpromotable(doc: dict[str, Any]) -> None:
        doc["monitoring"].update(current="serving_log", serving_log={"path": "logs/requests"})
        doc["evaluation"]["gates"] = {"accuracy": {"min": 1.01}}  # registered, never promoted
        doc["evaluation"].pop("champion")

    edit_spec(iris_project, unpromotable)

    assert _refused(mlform, iris_project) == (
        "error: step `monitor` failed: `monitoring.current: serving_log` reads the served version's rows, but no "
        "version of `iris-classifier` is served (set `monitoring.serving_log.version: all` to read every row)")


def _refused(mlform, spec: Path) -> str:
    """Monitor `spec`, which must fail; its last line of stderr, once no report or temp file was left."""
    result = mlform("monitor", spec)
    assert result.code == 1, result
    assert "Traceback" not in result.out + result.err
    assert list(spec.parent.rglob("monitor.json")) == list(spec.parent.rglob("monitor.html")) == []
    assert list(spec.parent.rglob("*.tmp")) == []
    return str(result.err.strip().splitlines()[-1])
