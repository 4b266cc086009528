"""`mlform ui` over a shared backend (S3, moto's server): runs and the audit log are read through the backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, Client
from tools import s3_server

pytestmark = pytest.mark.integration


def test_runs_and_the_audit_log_of_an_s3_backend_are_shown(s3_endpoint: s3_server.Endpoint, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mlform.compiler.ui.app import create_app
    from mlform.runtime.storage.auditlog import append_entry
    from mlform.runtime.storage.backends.url import BACKEND_ENV, opened
    from mlform.runtime.tracking.tracker import open_tracker

    for name, value in s3_endpoint.environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    url = f"s3://{s3_endpoint.new_bucket()}/team/state"
    monkeypatch.setenv(BACKEND_ENV, url)
    shutil.copytree(REPO / "examples" / "iris", tmp_path / "iris", ignore=shutil.ignore_patterns(".mlform"))
    backend = opened(url)
    tracker = open_tracker(backend)
    assert tracker is not None
    tracker.start_run("20260101T000000-remote", "iris", "dev", "mlform.yaml", "0" * 64, {"model": {"x": 1}})
    tracker.log_step("20260101T000000-remote", "evaluate", "ran", 0.1, "a" * 64, [], metrics={"accuracy": 0.5})
    tracker.finish_run("20260101T000000-remote", "succeeded")
    append_entry(backend, {"command": "apply", "env": "dev", "spec": "iris/mlform.yaml", "result": "applied"})
    client = Client(create_app(tmp_path))
    runs = json.loads(client.get("/api/runs").body)
    assert [r["id"] for r in runs["runs"]] == ["20260101T000000-remote"]
    assert runs["runs"][0]["metrics"] == {"evaluate.accuracy": 0.5}
    (log,) = json.loads(client.get("/api/audit").body)["logs"]
    assert log["verified"] is True and [e["entry"]["seq"] for e in log["entries"]] == [1]
    assert url.split("//")[1].split("/")[0] in log["where"]
    tracker.start_run("20260102T000000-later", "iris", "dev", "mlform.yaml", "0" * 64, {})
    assert json.loads(client.get("/api/runs").body)["total"] == 2  # a remote tracker is read on every request
    assert client.get("/runs").status == 200 and client.get("/audit").status == 200
