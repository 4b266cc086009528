"""`mlform serve` as a user runs it: a real process on a loopback port, loading from the registry."""

from __future__ import annotations

import gc
import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from tools.server import free_port, get, serving

from mlform.compiler.commands.run import load_resolved
from mlform.compiler.commands.serve import CONFIG_ENV, app_from_env, served_ref
from mlform.runtime.registry.models import Registry
from mlform.runtime.steps.train import signature_of

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}


@pytest.fixture
def registered(iris_project: Path) -> tuple[Path, RandomForestClassifier]:
    """The iris spec with a model registered as `iris-classifier` version 1, alias `staging`."""
    frame = pd.read_csv(iris_project.parent / "data" / "iris.csv")
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(frame[FEATURES], frame["species"])
    registry = Registry(iris_project.parent / ".mlform" / "registry")
    version = registry.register("iris-classifier", model, signature_of(frame[FEATURES]), {}, {}).version
    registry.set_alias("iris-classifier", "staging", version.version, env="default")
    return iris_project, model


def _second_version(spec: Path) -> RandomForestClassifier:
    """Register version 2 of `iris-classifier`, aliased `staging` in `dev` only; return its model."""
    frame = pd.read_csv(spec.parent / "data" / "iris.csv")
    model = RandomForestClassifier(n_estimators=3, max_depth=1, random_state=1).fit(frame[FEATURES], frame["species"])
    registry = Registry(spec.parent / ".mlform" / "registry")
    version = registry.register("iris-classifier", model, signature_of(frame[FEATURES]), {}, {}).version
    registry.set_alias("iris-classifier", "staging", version.version, env="dev")
    return model


@pytest.mark.parametrize(("registry", "ref"), [({}, "staging"), ({"production": 2}, 2)])
def test_a_spec_serves_its_pinned_version_else_its_promotion_alias(iris_project: Path, edit_spec: Callable[..., None],
                                                                   registry: dict[str, int], ref: int | str) -> None:
    edit_spec(iris_project, lambda d: d["registry"].update(registry))
    assert served_ref(load_resolved(iris_project, None)) == ("iris-classifier", ref)


def test_a_worker_builds_the_app_the_parent_configured(registered: tuple[Path, RandomForestClassifier],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = registered
    _second_version(spec)
    monkeypatch.chdir(spec.parent)  # without a spec, the registry is the current folder's
    config = {"spec": None, "env": "dev", "alias_env": "dev", "model": "iris-classifier", "version": 2,
              "max_batch_size": 7, "max_body_bytes": 999, "id_columns": [], "watch": {}}
    monkeypatch.setenv(CONFIG_ENV, json.dumps(config))
    gc.unfreeze()
    try:
        app = app_from_env()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert (app.model_json, app.max_batch_size, app.max_body_bytes) == (
        {"name": "iris-classifier", "version": 2}, 7, 999)
    assert frozen > 0  # the loaded model is out of the collector's way


def test_the_help_names_the_default_port(mlform: Callable[..., Any]) -> None:
    result = mlform("serve", "--help")
    assert result.code == 0
    assert "(default: the spec's `serving.port`, else 8080)" in " ".join(result.out.split())


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_without_a_spec_the_current_folder_serves_the_alias_of_env(registered: tuple[Path, RandomForestClassifier],
                                                                  extra: list[str]) -> None:
    spec, _ = registered
    model = _second_version(spec)
    rows = [ROW, {"sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "petal_width": 0.2}]
    logs: list[str] = []
    with serving(["--model", "iris-classifier@staging", "--env", "dev", *extra], cwd=spec.parent, logs=logs) as port:
        status, body = get(port, "/predict", {"records": rows})
        assert (status, body) == (200, {"predictions": model.predict(pd.DataFrame(rows)).tolist(),
                                        "model": {"name": "iris-classifier", "version": 2}})
        assert get(port, "/predict", {"records": [ROW] * 1000})[0] == 200
        assert get(port, "/predict", {"records": [ROW] * 1001}) == (
            413, {"error": "`records` has 1001 rows; the limit (`max_batch_size`) is 1000"})
    assert logs[0].startswith("serving `iris-classifier` version 2 on ")


@pytest.mark.parametrize("extra", [[], ["--workers", "2", "--model", "iris-classifier@1"]])
def test_serve_loads_from_the_registry_and_answers(registered: tuple[Path, RandomForestClassifier],
                                                  extra: list[str]) -> None:
    spec, model = registered
    row = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
    logs: list[str] = []
    with serving([str(spec), *extra], logs=logs) as port:
        status, body = get(port, "/predict", {"records": [row]})
        assert status == 200
        assert body == {"predictions": model.predict(pd.DataFrame([row])).tolist(),
                        "model": {"name": "iris-classifier", "version": 1}}
    workers = "2 workers" if extra else "1 worker"
    assert logs[0] == f"serving `iris-classifier` version 1 on http://127.0.0.1:{port} with {workers}"
    assert any(line.startswith("INFO:     Started parent process [") for line in logs) is bool(extra)


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_host_is_the_only_address_the_server_listens_on(registered: tuple[Path, RandomForestClassifier],
                                                        extra: list[str]) -> None:
    spec, _ = registered
    with serving([str(spec), "--host", "127.0.0.2", *extra], host="127.0.0.2") as port:
        assert get(port, "/health", host="127.0.0.2")[0] == 200
        with pytest.raises(ConnectionRefusedError):
            get(port, "/health")  # 127.0.0.1, the default address: nothing listens there


@pytest.mark.parametrize(("args", "with_spec", "message"), [
    ([], False, "Error: give SPEC or `--model NAME@ALIAS`"),
    (["--model", "nope"], False,
     "error: `--model nope`: expected NAME@ALIAS or NAME@VERSION, e.g. `iris-classifier@staging`"),
    (["--model", "iris-classifier@prod"], True,
     "error: model `iris-classifier` has no alias `prod` in environment `default` (aliases: `staging`)"),
    (["--model", "other@1"], True, "error: model `other` is not registered (registered: `iris-classifier`)"),
])
def test_bad_invocations_exit_1_with_a_clear_error(mlform: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
                                                   registered: tuple[Path, RandomForestClassifier], tmp_path: Path,
                                                   args: list[str], with_spec: bool, message: str) -> None:
    spec, _ = registered
    monkeypatch.chdir(tmp_path)
    result = mlform("serve", *([spec] if with_spec else []), *args)
    assert (result.code, result.err.strip()) == (1, message)


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_serve_echoes_the_specs_id_columns(registered: tuple[Path, RandomForestClassifier], extra: list[str],
                                           edit_spec: Callable[..., None]) -> None:
    spec, model = registered
    data = spec.parent / "data" / "iris.csv"
    frame = pd.read_csv(data)
    frame.insert(0, "flower_id", [f"f-{i:03d}" for i in range(len(frame))])
    frame.to_csv(data, index=False)
    edit_spec(spec, lambda d: d["data"].update(id_columns=["flower_id"]))
    rows = [{"flower_id": "f-007", "sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5},
            {"flower_id": "f-008", "sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "petal_width": 0.2}]
    with serving([str(spec), *extra]) as port:
        status, body = get(port, "/predict", {"records": rows})
    assert status == 200, body
    assert body == {"predictions": model.predict(pd.DataFrame(rows)[FEATURES]).tolist(),
                    "ids": [{"flower_id": "f-007"}, {"flower_id": "f-008"}],
                    "model": {"name": "iris-classifier", "version": 1}}


def test_two_workers_apply_the_specs_watch_settings(registered: tuple[Path, RandomForestClassifier],
                                                    edit_spec: Callable[..., None]) -> None:
    spec, _ = registered
    edit_spec(spec, lambda d: d["serving"].update(validate_inputs="reject", log={"sample": 1.0, "path": "served"}))
    row = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
    with serving([str(spec), "--workers", "2"]) as port:
        status, body = get(port, "/predict", {"records": [row, {**row, "sepal_length": 99.0}]})
        assert (status, body["violations"][0]["column"], body["violations"][0]["row"]) == (422, "sepal_length", 1)
        assert get(port, "/predict", {"records": [row]})[0] == 200
    logged = [line for path in (spec.parent / "served").glob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(logged) == 1 and '"sepal_length":6.3' in logged[0]


def test_predict_explain_adds_contributions_that_add_up(registered: tuple[Path, RandomForestClassifier],
                                                        mlform: Callable[..., Any], tmp_path: Path) -> None:
    spec, model = registered
    out = tmp_path / "scored.csv"
    result = mlform("predict", "--model", "iris-classifier@1", "--input", spec.parent / "data" / "iris.csv",
                    "--output", out, "--explain", spec)
    assert result.code == 0, result.err
    scored = pd.read_csv(out)
    explained = [json.loads(text) for text in scored["explanation"]]
    proba = model.predict_proba(scored[FEATURES])
    picked = [list(model.classes_).index(p) for p in scored["prediction"]]
    totals = [sum(e["contributions"].values()) + e["base"] for e in explained]
    assert totals == pytest.approx([proba[i][k] for i, k in enumerate(picked)])


def _body_bytes(records: int) -> int:
    import json

    return len(json.dumps({"records": [ROW] * records}).encode())


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_max_body_bytes_is_the_limit_the_server_enforces(registered: tuple[Path, RandomForestClassifier],
                                                         extra: list[str]) -> None:
    spec, _ = registered
    limit = _body_bytes(3)  # three rows fit exactly, four do not; the default (1 MiB) would take both
    with serving([str(spec), "--max-body-bytes", str(limit), *extra]) as port:
        assert get(port, "/predict", {"records": [ROW] * 3})[0] == 200
        status, body = get(port, "/predict", {"records": [ROW] * 4})
    assert (status, body) == (413, {"error": f"the body is larger than the limit of {limit} bytes"})


@pytest.mark.parametrize(("flag", "logged"), [([], False), (["--access-log"], True),
                                              (["--access-log", "--no-access-log"], False)])
def test_access_log_logs_each_request_only_when_asked(registered: tuple[Path, RandomForestClassifier],
                                                      flag: list[str], logged: bool) -> None:
    spec, _ = registered
    logs: list[str] = []
    with serving([str(spec), *flag], logs=logs) as port:
        assert get(port, "/health")[0] == 200
    requests = [line for line in logs if '"GET /health HTTP/1.1" 200' in line]
    assert bool(requests) is logged, logs


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]])
def test_the_specs_port_and_batch_limit_apply_without_flags(registered: tuple[Path, RandomForestClassifier],
                                                            edit_spec: Callable[..., None], extra: list[str]) -> None:
    spec, _ = registered
    port = free_port()
    edit_spec(spec, lambda d: d["serving"].update(port=port, max_batch_size=2))
    with serving([str(spec), *extra], port=port):
        assert get(port, "/predict", {"records": [ROW] * 2})[0] == 200
        assert get(port, "/predict", {"records": [ROW] * 3}) == (
            413, {"error": "`records` has 3 rows; the limit (`max_batch_size`) is 2"})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert (response.status, response.getheader("server")) == (200, None)  # no server banner
        finally:
            conn.close()
