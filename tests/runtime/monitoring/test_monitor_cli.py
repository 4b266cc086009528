"""`mlform monitor` end to end through the executor: exit codes, reports and the retraining path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlform.runtime.registry.models import Registry

Cli = Callable[..., Any]
Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]


def drift_live_data(spec: Path) -> None:
    live = spec.parent / "data" / "live.csv"
    frame = pd.read_csv(live)
    frame["petal_length"] += 2.0
    frame["petal_width"] += 1.0
    frame["sepal_width"] *= 1.5
    frame.to_csv(live, index=False)


def test_no_breach_exits_0_and_writes_reports_to_out(mlform: Cli, iris_project: Path, tmp_path: Path) -> None:
    result = mlform("monitor", str(iris_project), "--out", str(tmp_path / "reports"))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "monitor: no breach"
    report = json.loads((tmp_path / "reports" / "monitor.json").read_text())
    assert report["format_version"] == 1 and report["verdict"]["breached"] is False
    assert (tmp_path / "reports" / "monitor.html").read_text().startswith("<!DOCTYPE html>")


def test_a_breach_with_alert_exits_3_and_names_the_reasons(mlform: Cli, iris_project: Path) -> None:
    drift_live_data(iris_project)
    result = mlform("monitor", str(iris_project))
    assert result.code == 3, result.err
    assert ("breach: 3 of 4 features drifted (share 0.75 > `max_drifted_share` 0.5): `sepal_width`, "
            "`petal_length`, `petal_width`") in result.out
    assert result.err.strip() == "monitor: breach (on_breach: alert)"
    again = mlform("monitor", str(iris_project))
    assert again.code == 3 and re.search(r"^monitor +cached ", again.out, re.MULTILINE)
    assert "breach: 3 of 4 features drifted" in again.out


def test_on_breach_none_reports_and_exits_0(mlform: Cli, edit_spec: Edit, iris_project: Path) -> None:
    drift_live_data(iris_project)
    edit_spec(iris_project, lambda d: d["monitoring"].update(on_breach="none"))
    result = mlform("monitor", str(iris_project))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "monitor: breach reported (on_breach: none)"


def test_on_breach_retrain_registers_and_promotes_a_new_version(mlform: Cli, edit_spec: Edit,
                                                                iris_project: Path) -> None:
    def retrain_differently(doc: dict) -> None:
        doc["model"]["params"].pop("random_state")  # a refit yields other bytes
        # so that promotion never rests on one unseeded forest beating (or tying) another on 30 test rows
        doc["evaluation"].pop("champion")
        doc["evaluation"]["gates"] = {"accuracy": {"min": 0.5}}

    edit_spec(iris_project, retrain_differently)
    drift_live_data(iris_project)
    result = mlform("monitor", str(iris_project), "--env", "prod")
    assert result.code == 0, result.err
    assert "on_breach: retrain -> train -> evaluate -> register" in result.out
    assert re.search(r"^train +ran .* forced \(`monitoring.on_breach: retrain`\)$", result.out, re.M), result.out
    assert result.out.splitlines()[-1] == "monitor: breach handled, the retrained version was promoted"
    versions = Registry(iris_project.parent / ".mlform" / "registry").versions("iris-classifier", "prod")
    assert [(v.version, v.aliases) for v in versions] == [(1, []), (2, ["staging"])]


def test_retraining_unchanged_inputs_reproduces_the_version_and_exits_3(mlform: Cli, iris_project: Path) -> None:
    drift_live_data(iris_project)
    for _ in range(2):
        result = mlform("monitor", str(iris_project), "--env", "prod")
        assert result.code == 3, result.err
        assert result.err.strip() == ("monitor: breach persists, retraining reproduced version 1 "
                                      "(identical model bytes)")
    versions = Registry(iris_project.parent / ".mlform" / "registry").versions("iris-classifier", "prod")
    assert [(v.version, v.aliases) for v in versions] == [(1, ["staging"])]


def test_a_retrained_version_that_is_not_promoted_exits_3(mlform: Cli, edit_spec: Edit, iris_project: Path) -> None:
    drift_live_data(iris_project)
    edit_spec(iris_project, lambda d: d["model"]["params"].pop("random_state"))  # a refit yields other bytes
    edit_spec(iris_project, lambda d: d["evaluation"]["gates"].update(accuracy={"min": 0.9999}))
    result = mlform("monitor", str(iris_project), "--env", "prod")
    assert result.code == 3, result.err
    assert result.err.strip() == "monitor: breach persists, the retrained version was not promoted"


@pytest.mark.parametrize(("args", "message"), [
    (["--env", "nope"], "environment `nope` is not declared (declared: `dev`, `prod`)"),
    ([], "error: step `monitor` failed: the spec has no `monitoring` section"),
])
def test_errors_exit_1_without_a_traceback(mlform: Cli, edit_spec: Edit, iris_project: Path, args: list[str],
                                           message: str) -> None:
    if not args:
        edit_spec(iris_project, lambda d: d.pop("monitoring"))
    result = mlform("monitor", str(iris_project), *args)
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err


def test_a_monitor_that_reads_the_clock_says_why_it_runs_again(mlform: Cli, edit_spec: Edit,
                                                              iris_project: Path) -> None:
    edit_spec(iris_project, lambda d: d["monitoring"].update(max_model_age="30d"))
    assert mlform("monitor", str(iris_project)).code == 0
    again = mlform("monitor", str(iris_project))  # nothing changed, yet the verdict depends on the clock
    assert again.code == 0, again.err
    assert re.search(r"^monitor +ran .* forced \(`monitoring.max_model_age` reads the clock\)$", again.out, re.M), \
        again.out


def test_help_documents_the_exit_codes(mlform: Cli) -> None:
    result = mlform("monitor", "--help")
    assert result.code == 0
    assert "0  no breach" in result.out and "3  breach with `on_breach: alert`" in result.out
