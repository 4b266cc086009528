"""`monitoring.current: serving_log`: the server's JSON Lines request log becomes the current data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlform.runtime.monitoring.servinglog import PREDICTION, read_serving_log

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
Cli = Callable[..., Any]
Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]


def log_line(ts: datetime, features: dict[str, Any], version: int = 1, model: str = "iris-classifier") -> str:
    """One row as the server writes it."""
    return json.dumps({"ts": ts.isoformat().replace("+00:00", "Z"), "model": model, "version": version,
                       "features": features, "prediction": "setosa"}) + "\n"


def test_rows_of_the_served_version_within_the_window(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        log_line(NOW - timedelta(hours=1), {"x": 1.0}) + log_line(NOW - timedelta(hours=2), {"x": 2.0}, version=2)
        + "{torn line\n" + log_line(NOW - timedelta(days=3), {"x": 3.0}))
    (tmp_path / "b.jsonl").write_text(log_line(NOW - timedelta(hours=5), {"x": 4.0}, model="other")
                                      + log_line(NOW - timedelta(hours=6), {"x": 5.0}) + "\n")
    (tmp_path / "notes.txt").write_text(log_line(NOW, {"x": 6.0}))
    log = read_serving_log(tmp_path, "iris-classifier", 1, timedelta(days=1), now=NOW)
    assert log.frame["x"].tolist() == [1.0, 5.0] and log.frame[PREDICTION].tolist() == ["setosa", "setosa"]
    assert (log.files, log.skipped, log.filtered) == (2, 1, 3)
    every = read_serving_log(tmp_path, "iris-classifier", None, None, now=NOW)
    assert every.frame["x"].tolist() == [1.0, 2.0, 3.0, 5.0]


def write_log(folder: Path, frame: pd.DataFrame, version: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    lines = [log_line(now - timedelta(minutes=i), {f: float(row[f]) for f in FEATURES}, version)
             for i, row in enumerate(frame.to_dict("records"))]
    (folder / "requests-0001.jsonl").write_text("".join(lines))


def test_mlform_monitor_watches_the_serving_log(mlform: Cli, edit_spec: Edit, iris_project: Path) -> None:
    logs = iris_project.parent / "logs"
    live = pd.read_csv(iris_project.parent / "data" / "live.csv")
    edit_spec(iris_project, lambda d: d["monitoring"].update(
        current="serving_log", serving_log={"path": "logs", "window": "7d"}, performance={}))
    write_log(logs, live)
    calm = mlform("monitor", str(iris_project))
    assert calm.code == 0, calm.out + calm.err
    assert f"serving log `logs`: {len(live)} logged rows from 1 file(s); 0 outside the window" in calm.out
    again = mlform("monitor", str(iris_project))  # the window moves with the clock: never a cached verdict
    assert again.code == 0 and re.search(r"^monitor +ran ", again.out, re.MULTILINE), again.out
    moved = live.assign(petal_length=live["petal_length"] + 2.0, petal_width=live["petal_width"] + 1.0,
                        sepal_width=live["sepal_width"] * 1.5)
    write_log(logs, moved)
    drifted = mlform("monitor", str(iris_project))
    assert drifted.code == 3 and "breach: 3 of 4 features drifted" in drifted.out
    write_log(logs, moved, version=7)  # rows of a version that is not served are left out
    none = mlform("monitor", str(iris_project))
    assert none.code == 1 and "the serving log `logs` has no rows to monitor" in none.err
