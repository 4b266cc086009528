"""run_monitor on the iris example: verdicts, reasons, the JSON report and the self-contained HTML report."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier

from mlform.runtime.monitoring.monitor import FORMAT_VERSION, run_monitor
from mlform.runtime.monitoring.report_html import render_html
from mlform.specs.errors import StepError
from mlform.specs.loader import ResolvedSpec, load_spec

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SVG = "{http://www.w3.org/2000/svg}"


Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]


@pytest.fixture
def edit(edit_spec: Edit) -> Callable[[Path, Callable[[dict[str, Any]], None]], ResolvedSpec]:
    """Edit a spec file, then load it."""

    def change_and_load(path: Path, change: Callable[[dict[str, Any]], None]) -> ResolvedSpec:
        edit_spec(path, change)
        return load_spec(path)

    return change_and_load


@pytest.fixture
def iris(iris_project: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame, RandomForestClassifier]:
    data = iris_project.parent / "data"
    reference, current = pd.read_csv(data / "iris.csv"), pd.read_csv(data / "live.csv")
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(reference[FEATURES], reference["species"])
    return iris_project, reference, current, model


def test_live_iris_data_passes_and_reports(iris: Any, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    result = run_monitor(load_spec(spec_path), reference, current, model, tmp_path / "out")
    expected_accuracy = float((model.predict(current[FEATURES]) == current["species"]).mean())
    assert (result.breached, result.reasons, result.drifted_share) == (False, [], 0.0)
    assert result.performance == {"accuracy": expected_accuracy}
    report = json.loads(result.report_json.read_text())
    assert report["format_version"] == FORMAT_VERSION == 1
    assert report["verdict"] == {"breached": False, "reasons": [], "on_breach": "alert"}
    assert report["data"] == {"reference": "train", "current": "live", "reference_rows": 150, "current_rows": 60}
    assert [f["feature"] for f in report["drift"]["features"]] == FEATURES
    assert report["performance"]["metrics"] == {"accuracy": {"value": expected_accuracy, "min": 0.85, "max": None,
                                                             "passed": True}}
    assert result.report_html.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["monitor.html", "monitor.json"]


def shifted(current: pd.DataFrame) -> pd.DataFrame:
    moved = current.copy()
    moved["petal_length"] += 2.0
    moved["petal_width"] += 1.0
    moved["sepal_width"] *= 1.5
    return moved


def test_drift_and_performance_breaches_are_named(iris: Any, tmp_path: Path) -> None:
    spec_path, reference, current, _ = iris
    model = DummyClassifier(strategy="constant", constant="setosa").fit(reference[FEATURES], reference["species"])
    accuracy = float((current["species"] == "setosa").mean())
    result = run_monitor(load_spec(spec_path), reference, shifted(current), model, tmp_path)
    assert result.breached
    assert result.reasons == [
        "3 of 4 features drifted (share 0.75 > `max_drifted_share` 0.5): `sepal_width`, `petal_length`, "
        "`petal_width`",
        f"`accuracy` is {accuracy:.4g} on the current data, below the `min` 0.85",
    ]
    assert json.loads(result.report_json.read_text())["verdict"]["reasons"] == result.reasons


def test_per_feature_overrides_from_the_spec(iris: Any, edit: Any, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris

    def override(data: dict[str, Any]) -> None:
        data["monitoring"]["drift"]["features"] = {"petal_length": {"method": "ks", "threshold": 0.3},
                                                   "sepal_width": {"threshold": 100}}
        data["monitoring"]["drift"]["max_drifted_share"] = 0.25

    result = run_monitor(edit(spec_path, override), reference, shifted(current), model, tmp_path)
    by_name = {f.feature: f for f in result.features}
    assert (by_name["petal_length"].method, by_name["petal_length"].threshold) == ("ks", 0.3)
    assert [f.feature for f in result.features if f.drifted] == ["petal_length", "petal_width"]
    assert not by_name["sepal_width"].drifted and by_name["sepal_width"].score > 0.2
    assert result.drifted_share == 0.5 and result.reasons[0].startswith("2 of 4 features drifted (share 0.50 > ")


@pytest.mark.parametrize(("model", "drop_target", "note"), [
    (None, False, "performance not checked: no model is served"),
    ("fitted", True, "performance not checked: the current data has no target column `species`"),
])
def test_performance_is_skipped_with_a_note(iris: Any, tmp_path: Path, model: str | None, drop_target: bool,
                                            note: str) -> None:
    spec_path, reference, current, fitted = iris
    data = current.drop(columns="species") if drop_target else current
    result = run_monitor(load_spec(spec_path), reference, data, fitted if model else None, tmp_path)
    report = json.loads(result.report_json.read_text())
    assert (result.performance, report["performance"]) == ({}, {"checked": False, "note": note, "metrics": {}})
    shown = note.replace("`species`", "<code>species</code>")
    assert shown in result.report_html.read_text()


def test_an_undefined_metric_is_a_breach_and_null_in_json(iris: Any, edit: Any, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    spec = edit(spec_path, lambda d: d["monitoring"].update(performance={"roc_auc": {"min": 0.8}}))
    one_class = current[current["species"] == "setosa"]
    result = run_monitor(spec, reference, one_class, model, tmp_path)
    assert result.reasons[-1] == "`roc_auc` is undefined on the current data"
    report = json.loads(result.report_json.read_text())
    assert report["performance"]["metrics"]["roc_auc"] == {"value": None, "min": 0.8, "max": None, "passed": False}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("monitoring"), "step `monitor` failed: the spec has no `monitoring` section"),
    (lambda d: None, "step `monitor` failed: the current data has no column `petal_width`"),
])
def test_errors_name_the_step_and_the_key(iris: Any, edit: Any, tmp_path: Path,
                                          change: Callable[[dict[str, Any]], None], message: str) -> None:
    spec_path, reference, current, model = iris
    with pytest.raises(StepError) as err:
        run_monitor(edit(spec_path, change), reference, current.drop(columns="petal_width"), model, tmp_path)
    assert str(err.value) == message


def test_html_report_is_self_contained_with_well_formed_svg(iris: Any, edit: Any, tmp_path: Path) -> None:
    spec_path, reference, current, _ = iris
    reference = reference.assign(site=np.where(np.arange(len(reference)) % 3 == 0, "north", "south"))
    current = current.assign(site=["<east & west>"] * len(current))
    reference.to_csv(spec_path.parent / "data" / "iris.csv", index=False)  # the files have the column the spec adds
    current.to_csv(spec_path.parent / "data" / "live.csv", index=False)
    spec = edit(spec_path, lambda d: d["data"]["features"].append("site"))
    spec_features = [*FEATURES, "site"]
    result = run_monitor(spec, reference, current, None, tmp_path)
    html = result.report_html.read_text()
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(svgs) == len(spec_features)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title") is not None
        assert root.findall(f".//{SVG}rect")
    labels = [t.text for t in ET.fromstring(svgs[-1]).iter(f"{SVG}text")]
    assert "<east & west>" in labels
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=", html, re.IGNORECASE)
    assert "https://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "site" in json.loads(result.report_json.read_text())["drift"]["drifted"]


def test_html_renders_from_the_json_payload_alone(iris: Any, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    result = run_monitor(load_spec(spec_path), reference, shifted(current), model, tmp_path)
    payload = json.loads(result.report_json.read_text())
    html = render_html(payload)
    assert html == result.report_html.read_text()
    assert "Breach" in html and "3 of 4 features drifted" in html
