"""`serving.log.sink: backend`: the server stores sampled batches in the state backend, and a monitor elsewhere
(another working copy holding only the spec and the backend's settings) reads them back and sees drift."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlform.compiler.commands.run import load_resolved, open_registry
from mlform.compiler.commands.serve import served_ref
from mlform.runtime.monitoring.servinglog import prune_backend_log, read_backend_log
from mlform.runtime.serving.app import create_app
from mlform.runtime.serving.logsink import BackendSink, batch_key, batch_time, log_prefix
from mlform.runtime.serving.requestlog import RequestLog
from mlform.runtime.serving.watch import watch_config, watch_parts
from mlform.runtime.storage.backends.url import open_backend
from tests.runtime.monitoring.test_serving_log import log_line
from tests.runtime.serving.test_serving import Server
from tests.runtime.serving.test_watch import counter, metrics
from tests.runtime.storage.backends.conftest import postgres_url, s3_url  # noqa: F401 - fixtures of each kind

Cli = Callable[..., Any]
Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
PREFIX = log_prefix("iris-classifier", "default")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration),
                        pytest.param("postgres", marks=pytest.mark.integration)])
def backend_setting(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                    ) -> tuple[dict[str, Any], str]:
    """(`state.backend`, the URL it opens) of a fresh shared backend of each kind."""
    if request.param == "local":
        folder = tmp_path / "shared-state"
        return {"kind": "local", "path": str(folder)}, str(folder)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("TEAM_DB_URL", url)
        return {"kind": "postgres", "url": {"secret": "TEAM_DB"}}, url
    bucket = request.getfixturevalue("s3_url").split("/")[2]
    return {"kind": "s3", "bucket": bucket, "prefix": "team/iris"}, f"s3://{bucket}/team/iris"


def _sinking(setting: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc.pop("environments")  # one environment: the base
        doc["state"] = {"backend": setting}
        if setting["kind"] == "postgres":
            doc["secrets"] = {"TEAM_DB": {"env": "TEAM_DB_URL", "kubernetes": {"secret": "team-db", "key": "url"}}}
        doc["serving"]["log"] = {"sample": 0.5, "sink": "backend"}
        doc["monitoring"].update(current="serving_log", serving_log={"window": "7d"}, performance={})
    return edit


def _serve(spec: Path, frame: pd.DataFrame) -> tuple[int, str]:
    """Send `frame` to the spec's server in requests of 20 rows, in-process; rows written and `/metrics`."""
    resolved = load_resolved(spec, None)
    name, ref = served_ref(resolved)
    loaded = open_registry(spec, None).load(name, ref, resolved.env)
    guard, log = watch_parts(watch_config(resolved, spec.parent), loaded)
    assert log is not None
    records = frame[FEATURES].to_dict("records")
    with Server(create_app(loaded, max_batch_size=1000, request_log=log, guard=guard)) as server:
        for start in range(0, len(records), 20):
            status, _ = server.predict({"records": records[start:start + 20]})
            assert status == 200
        text = metrics(server)
    return log.written, text


def test_a_monitor_elsewhere_reads_the_batches_and_sees_drift(
        mlform: Cli, edit_spec: Edit, iris_project: Path, tmp_path: Path,
        backend_setting: tuple[dict[str, Any], str]) -> None:
    setting, url = backend_setting
    edit_spec(iris_project, _sinking(setting))
    shown = json.dumps(watch_config(load_resolved(iris_project, None), iris_project.parent))
    assert url not in shown or setting["kind"] != "postgres"  # the config workers inherit names the variable
    applied = mlform("apply", ".", "--yes", cwd=iris_project.parent)  # registers; nothing served: nothing to monitor
    assert applied.code == 1 and "registered `iris-classifier` version 1" in applied.out, applied.out + applied.err
    assert (f"the serving log `{PREFIX}` of the backend has no rows to monitor: 0 logged rows from 0 batch(es)"
            in applied.err)
    source = pd.read_csv(iris_project.parent / "data" / "iris.csv")
    calm = pd.concat([source] * 2, ignore_index=True)  # 300 rows, drawn like the training data
    written, _ = _serve(iris_project, calm)
    assert 100 < written < 200  # one row in two
    assert not (iris_project.parent / "logs").exists()

    elsewhere = tmp_path / "monitoring"  # the CronJob's pod: the spec and data, nothing the server wrote
    shutil.copytree(iris_project.parent, elsewhere, ignore=shutil.ignore_patterns(".mlform", "deploy", ".github"))
    plan = mlform("plan", ".", cwd=elsewhere)
    assert plan.code == 0, plan.out + plan.err
    ran = mlform("monitor", ".", cwd=elsewhere)
    assert ran.code == 0, ran.out + ran.err
    batches = len(open_backend(url).keys(PREFIX))
    assert f"serving log `{PREFIX}` of the backend: {written} logged rows from {batches} batch(es); 0 outside" \
        in ran.out

    moved = source.assign(petal_length=source["petal_length"] + 2.0, petal_width=source["petal_width"] + 1.0,
                          sepal_width=source["sepal_width"] * 1.5)
    more, _ = _serve(iris_project, pd.concat([moved] * 4, ignore_index=True))
    keys = open_backend(url).keys(PREFIX)
    assert len(keys) > batches
    replanned = mlform("plan", ".", cwd=elsewhere)
    reason = (f"data `serving_log:backend` statistic changed: batches {batches} -> {len(keys)}, latest "
              f"\"{keys[batches - 1].removeprefix(PREFIX)}\" -> \"{keys[-1].removeprefix(PREFIX)}\"")
    assert reason in replanned.out, replanned.out
    drifted = mlform("monitor", ".", cwd=elsewhere)
    assert drifted.code == 3 and "breach: 3 of 4 features drifted" in drifted.out, drifted.out + drifted.err
    assert f"{written + more} logged rows from {len(keys)} batch(es)" in drifted.out


def test_batches_are_immutable_objects_without_pii_in_time_order(tmp_path: Path) -> None:
    url = str(tmp_path / "state")
    ref = {"variable": None, "url": url, "sha256": _sha(url)}
    log = RequestLog(BackendSink(ref, PREFIX), sample=1.0, buffer_rows=100, model="iris-classifier", version=1,
                     columns=["a", "email"], exclude=["email"])
    log.start()
    for i in range(3):
        log.offer({"a": [float(i)], "email": [f"x{i}@example.com"]}, [i])
        log.close()  # one flush, one object
        log.start()
    log.close()
    backend = open_backend(url)
    keys = backend.keys(PREFIX)
    assert len(keys) == 3 and keys == sorted(keys, key=lambda k: batch_time(k) or 0)
    rows = [json.loads(line) for key in keys for line in backend.read(key).data.splitlines()]  # type: ignore[union-attr]
    assert [(r["features"], r["prediction"]) for r in rows] == [({"a": 0.0}, 0), ({"a": 1.0}, 1), ({"a": 2.0}, 2)]
    assert b"example.com" not in b"".join(backend.read(k).data for k in keys)  # type: ignore[union-attr]


def test_rows_sampled_within_the_linger_share_one_object(tmp_path: Path) -> None:
    url = str(tmp_path / "state")
    log = RequestLog(BackendSink({"variable": None, "url": url, "sha256": _sha(url)}, PREFIX), sample=1.0,
                     buffer_rows=100, model="m", version=1, columns=["a"])
    log.start()
    for i in range(5):
        log.offer({"a": [float(i)]}, [i])
        time.sleep(0.2)  # past the folder sink's flush: a request each, but well within the linger
    log.close()
    (key,) = open_backend(url).keys(PREFIX)
    assert len(open_backend(url).read(key).data.splitlines()) == 5 == log.written  # type: ignore[union-attr]


def test_the_monitor_reads_batches_in_time_order_and_skips_those_before_its_window(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "state"))
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for hours, x in [(1, 3.0), (30, 2.0), (100, 1.0), (2, 4.0)]:  # written out of order
        when = now - timedelta(hours=hours)
        backend.write(batch_key(PREFIX, when), log_line(when - timedelta(seconds=1), {"x": x}).encode())
    backend.write(f"{PREFIX}notes.txt", b"{torn")
    log = read_backend_log(backend, PREFIX, "iris-classifier", 1, timedelta(days=2), now=now)
    assert log.frame["x"].tolist() == [2.0, 4.0, 3.0]
    assert (log.files, log.skipped, log.filtered) == (4, 1, 0)  # the 100-hour-old batch is not even read
    assert read_backend_log(backend, PREFIX, "iris-classifier", 1, None).frame["x"].tolist() == [1.0, 2.0, 4.0, 3.0]


def test_retention_deletes_only_the_batches_older_than_it(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "state"))
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for days in (10, 3.01, 2.99, 0):
        backend.write(batch_key(PREFIX, now - timedelta(days=days)), b"")
    backend.write(f"{PREFIX}notes.txt", b"not a batch")  # a key the sink did not name is never deleted
    kept = [key for key in backend.keys(PREFIX) if (stamp := batch_time(key)) is None or stamp >= now - timedelta(3)]
    assert prune_backend_log(backend, PREFIX, timedelta(days=3), now=now) == 2
    assert backend.keys(PREFIX) == kept and len(kept) == 3
    assert prune_backend_log(backend, PREFIX, timedelta(days=3), now=now) == 0


def test_the_monitor_deletes_batches_past_the_retention_after_reading(
        mlform: Cli, edit_spec: Edit, iris_project: Path, tmp_path: Path) -> None:
    def retain(doc: dict[str, Any]) -> None:
        _sinking({"kind": "local", "path": str(tmp_path / "shared")})(doc)
        doc["serving"]["log"]["retention_days"] = 3
        doc["monitoring"]["serving_log"] = {"window": "3d", "version": "all"}

    edit_spec(iris_project, retain)
    mlform("apply", ".", "--yes", cwd=iris_project.parent)  # registers a version; its monitor has no rows yet
    backend = open_backend(str(tmp_path / "shared"))
    rows = pd.read_csv(iris_project.parent / "data" / "iris.csv")[FEATURES].head(10).to_dict("records")
    now = datetime.now(UTC)
    for days in (10, 5, 1, 0):  # the two older ones are outside the 3-day window: deleted without being read
        when = now - timedelta(days=days, minutes=1)
        backend.write(batch_key(PREFIX, when), "".join(log_line(when, row) for row in rows).encode())
    recent = backend.keys(PREFIX)[2:]
    ran = mlform("monitor", ".", cwd=iris_project.parent)
    assert ran.code == 3, ran.out + ran.err  # ten setosa rows, logged twice, drift: a breach, beside the point
    assert (f"serving log `{PREFIX}` of the backend: 20 logged rows from 2 batch(es); 0 outside the window or of "
            "another model or version, 0 malformed; 2 batch(es) older than 3 days deleted") in ran.out
    assert backend.keys(PREFIX) == recent


def _sha(url: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()


@pytest.mark.parametrize("broken", ["file", "moved"])
def test_a_failing_sink_never_fails_a_request(tmp_path: Path, mlform: Cli, edit_spec: Edit, iris_project: Path,
                                               broken: str) -> None:
    edit_spec(iris_project, _sinking({"kind": "local", "path": str(tmp_path / "shared")}))
    assert "registered `iris-classifier` version 1" in mlform("apply", ".", "--yes", cwd=iris_project.parent).out
    resolved = load_resolved(iris_project, None)
    name, ref = served_ref(resolved)
    loaded = open_registry(iris_project, None).load(name, ref, resolved.env)
    config = watch_config(resolved, iris_project.parent)
    if broken == "file":  # the backend's folder cannot hold the batch: a file stands where its folder goes
        (tmp_path / "shared" / "serving-log").write_text("not a folder")
    else:  # the backend the server was configured with is no longer the one its settings name
        config["log"]["sink"]["backend"]["sha256"] = _sha("elsewhere")
    _, log = watch_parts(config, loaded)
    rows = pd.read_csv(iris_project.parent / "data" / "iris.csv")[FEATURES].head(40).to_dict("records")
    with Server(create_app(loaded, max_batch_size=1000, request_log=log)) as server:
        for start in range(0, 40, 10):
            assert server.predict({"records": rows[start:start + 10]})[0] == 200
        log.close()  # type: ignore[union-attr]
        text = metrics(server)
    assert counter(text, "mlform_serving_log_rows_total") == 0
    assert counter(text, "mlform_serving_log_dropped_total") == log.unwritten > 0  # type: ignore[union-attr]
