"""What the server watches, broken on purpose: rule-breaking requests, NaN predictions, a full log buffer, explain."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from mlform.runtime.registry.models import LoadedModel
from mlform.runtime.serving.app import create_app
from mlform.runtime.serving.explain import explain_rows
from mlform.runtime.serving.guard import InputGuard
from mlform.runtime.serving.requestlog import RequestLog, log_file
from mlform.specs.model.data import Validation
from tests.runtime.serving.test_serving import ROW, Server, classifier, register, training_frame

__all__ = ["classifier"]  # the fixture, shared with the serving tests

RULES = Validation.model_validate({"columns": {"length": {"min": 0, "max": 10},
                                               "color": {"allowed": ["red", "green", "blue"]},
                                               "count": {"unique": True}}})


def counter(text: str, name: str, **labels: str) -> float | None:
    shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(f"{name}{{{shown}}}" if labels else name) + r" (\S+)"
    found = re.search(rf"^{pattern}$", text, re.M)
    return float(found[1]) if found else None


def metrics(server: Server) -> str:
    return server.request("GET", "/metrics")[2].decode()


REFUSED = "`records[1].length` breaks `validation.columns.length.max`: 1 value above 10"


def test_the_readme_shows_the_refusal_as_the_server_words_it() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert f'{{"error": "{REFUSED}", "violations":' in readme


def test_reject_answers_422_naming_column_rule_and_row(classifier: LoadedModel) -> None:
    guard = InputGuard(RULES, [c["name"] for c in classifier.version.signature], "reject")
    with Server(create_app(classifier, max_batch_size=50, guard=guard)) as server:
        good = {**ROW, "count": 3}
        status, body = server.predict({"records": [good, good]})  # `unique` is a data-set rule: not per request
        assert status == 200
        status, body = server.predict({"records": [good, {**ROW, "length": 50.0}]})
        assert status == 422
        assert body["error"] == REFUSED
        assert [(v["column"], v["rule"], v["row"]) for v in body["violations"]] == [("length", "max", 1)]
        status, body = server.predict({"columns": {name: [ROW[name], ROW[name], {"length": -5.0}.get(name, ROW[name])]
                                                   for name in ROW}})
        assert (status, body["error"]) == (422, "`columns.length[2]` breaks `validation.columns.length.min`: "
                                                "1 value below 0")
        status, body = server.predict({"records": [{**ROW, "color": "purple"}]})
        assert (status, body["violations"][0]["rule"], body["violations"][0]["value"]) == (422, "allowed", "purple")
        text = metrics(server)
    assert counter(text, "mlform_input_violations_total", column="length", rule="max") == 1
    assert counter(text, "mlform_input_violations_total", column="color", rule="allowed") == 1


def test_flag_scores_and_counts(classifier: LoadedModel) -> None:
    guard = InputGuard(RULES, [c["name"] for c in classifier.version.signature], "flag")
    with Server(create_app(classifier, max_batch_size=50, guard=guard)) as server:
        status, body = server.predict({"records": [{**ROW, "length": -1.0}, {**ROW, "length": -2.0}]})
        assert status == 200 and len(body["predictions"]) == 2
        assert counter(metrics(server), "mlform_input_violations_total", column="length", rule="min") == 2


class _NanBeyond:
    """A regressor that breaks down numerically: NaN for `length` above 9, infinity below 1."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        out = self.model.predict(frame[["length", "count"]]).astype(float)
        out[frame["length"].to_numpy() > 9] = np.nan
        out[frame["length"].to_numpy() < 1] = np.inf
        return out


def test_nonfinite_predictions_are_500_and_counted(tmp_path: Path) -> None:
    X, _ = training_frame(50)
    real = register(tmp_path, "reg", LinearRegression().fit(X[["length", "count"]], X["count"]), X)
    loaded = SimpleNamespace(model=_NanBeyond(real.model), version=real.version)
    with Server(create_app(loaded, max_batch_size=50)) as server:
        status, body = server.predict({"records": [ROW, {**ROW, "length": 9.5}, {**ROW, "length": 0.5}]})
        assert status == 500
        assert body == {"error": "the model predicted NaN or infinity for row 1; such values are never returned "
                                 "as numbers", "rows": [1, 2]}
        assert server.predict({"records": [ROW]})[0] == 200
        assert counter(metrics(server), "mlform_nonfinite_predictions_total") == 2


@pytest.mark.parametrize(("length", "status", "answer"), [
    (5.0, 200, "ready"), (9.5, 503, "the model predicted NaN or infinity for its sample row")])
def test_ready_scores_the_registered_sample_row(tmp_path: Path, length: float, status: int, answer: str) -> None:
    X, _ = training_frame(50)
    real = register(tmp_path, "reg", LinearRegression().fit(X[["length", "count"]], X["count"]), X)
    version = dataclasses.replace(real.version, evaluation={"sample_row": {**ROW, "length": length}})
    with Server(create_app(SimpleNamespace(model=_NanBeyond(real.model), version=version), max_batch_size=5)) as server:
        got, _, body = server.request("GET", "/ready")
    assert (got, json.loads(body)["status"]) == (status, answer)


def test_sampled_rows_are_logged_without_pii_columns(classifier: LoadedModel, tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "log", sample=1.0, buffer_rows=100, model="toy", version=1,
                     columns=[c["name"] for c in classifier.version.signature], exclude=["color"])
    rows = [ROW, {**ROW, "length": 6.5}]
    with Server(create_app(classifier, max_batch_size=50, request_log=log)) as server:
        status, body = server.predict({"records": rows})
        assert status == 200
    logged = [json.loads(line) for line in log_file(tmp_path / "log", datetime.now(UTC)).read_text().splitlines()]
    assert [row["features"] for row in logged] == [{k: v for k, v in r.items() if k != "color"} for r in rows]
    assert [row["prediction"] for row in logged] == body["predictions"]
    assert {(row["model"], row["version"]) for row in logged} == {("toy", 1)}
    assert datetime.fromisoformat(logged[0]["ts"]).tzinfo is not None
    assert log_file(tmp_path, datetime(2026, 1, 2, tzinfo=UTC)).name == f"20260102-{os.getpid()}.jsonl"


def test_a_full_log_buffer_drops_and_counts(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, sample=1.0, buffer_rows=2, model="m", version=3, columns=["a"])
    log.offer({"a": [1, 2, 3, 4, 5]}, [10, 20, 30, 40, 50])  # the writer is not running: the buffer fills
    assert "mlform_serving_log_dropped_total 3" in log.metric_lines()
    log.start()
    log.close()
    written = [json.loads(line) for line in log_file(tmp_path, datetime.now(UTC)).read_text().splitlines()]
    assert [(r["features"], r["prediction"]) for r in written] == [({"a": 1}, 10), ({"a": 2}, 20)]


def test_explain_contributions_add_up_to_the_prediction(classifier: LoadedModel) -> None:
    X, y = training_frame(80)
    numeric = X[["length", "count"]]
    tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(numeric, X["length"] * 2)
    linear = Pipeline([("scale", StandardScaler()), ("model", LinearRegression())]).fit(numeric, X["count"])
    for model in (tree, linear):
        explained = explain_rows(model, numeric.iloc[:5])
        sums = [sum(row["contributions"].values()) + row["base"] for row in explained]
        assert np.allclose(sums, model.predict(numeric.iloc[:5]))
    assert explain_rows(linear, numeric.iloc[:1])[0]["features"]["length"] == pytest.approx(
        linear[0].transform(numeric.iloc[:1])[0][0])
    with Server(create_app(classifier, max_batch_size=50)) as server:
        status, body = server.predict({"records": [ROW], "explain": True})
        assert status == 200
        row = body["explanations"][0]
        pipeline = classifier.model
        predicted = list(pipeline.classes_).index(body["predictions"][0])
        decision = pipeline.decision_function(pd.DataFrame([ROW]))[0][predicted]
        assert sum(row["contributions"].values()) + row["base"] == pytest.approx(decision)
        refused = {"error": "`explain` must be true or false"}
        assert server.predict({"records": [ROW], "explain": "yes"}) == (422, refused)
