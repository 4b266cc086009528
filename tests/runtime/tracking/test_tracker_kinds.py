"""Runs through the Tracker interface: SQLite on the local kind, one document per run on other kinds, same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.runtime.gitinfo import GitState
from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.tracking.documents import DocumentTracker
from mlform.runtime.tracking.rundoc import doc_to_run, run_key
from mlform.runtime.tracking.sqlite import SqliteTracker
from mlform.runtime.tracking.tracker import Tracker, open_tracker
from mlform.specs.errors import StateError
from tests.tools.elsewhere import Elsewhere


def _record(tracker: Tracker) -> None:
    """Three runs of two specs; the first has a step logged twice (a retry replaces it)."""
    git = GitState("abc123", True, "d" * 64)
    tracker.start_run("20260101T000000-aaaaaa", "iris", "dev", "models/iris.yaml", "s1", {"model": {"depth": 3}}, git)
    tracker.log_step("20260101T000000-aaaaaa", "train", "failed", 1.0, "f1", ["no previous run"])
    tracker.log_step("20260101T000000-aaaaaa", "train", "ran", 2.5, "f1", ["no previous run"], {"accuracy": 0.9},
                     {"model": "/store/f1/model.pkl"})
    tracker.log_step("20260101T000000-aaaaaa", "monitor", "ran", 0.5, "m1", ["no previous run"])
    tracker.finish_run("20260101T000000-aaaaaa", "ran")
    tracker.start_run("20260101T000001-bbbbbb", "wine", "prod", "wine.yaml", "s2", {"env": "prod"})
    tracker.finish_run("20260101T000001-bbbbbb", "failed", "boom")
    tracker.start_run("20260101T000002-cccccc", "iris", "dev", "models/iris.yaml", "s1", {})
    tracker.log_step("20260101T000002-cccccc", "train", "cached", 0.0, "f1", ["cached: fingerprint unchanged"])
    tracker.finish_run("20260101T000002-cccccc", "cached")


def _answers(tracker: Tracker) -> tuple[object, ...]:
    first = tracker.run("20260101T000000")
    for volatile in ("started", "finished"):
        assert isinstance(first.pop(volatile), float)
    listed = [(r["id"], r["spec_name"], r["status"], r["error"]) for r in tracker.runs(2)]
    history = [(h["run_id"], h["step"], h["fingerprint"]) for h in tracker.step_history("iris", ["train", "monitor"])]
    return first, listed, [r["id"] for r in tracker.runs(spec_name="wine")], history


def test_documents_answer_as_the_sqlite_database_does(tmp_path: Path) -> None:
    sqlite = SqliteTracker(tmp_path / "tracking.db")
    documents = DocumentTracker(Elsewhere(LocalBackend(tmp_path / "shared")))
    for tracker in (sqlite, documents):
        _record(tracker)
    assert _answers(documents) == _answers(sqlite)
    assert _answers(sqlite)[1] == [("20260101T000002-cccccc", "iris", "cached", None),
                                   ("20260101T000001-bbbbbb", "wine", "failed", "boom")]
    sqlite.close()


def test_each_run_is_one_document_under_runs(tmp_path: Path) -> None:
    backend = Elsewhere(LocalBackend(tmp_path))
    _record(DocumentTracker(backend))
    assert backend.keys("runs/") == [run_key("iris", "20260101T000000-aaaaaa"),
                                     run_key("iris", "20260101T000002-cccccc"),
                                     run_key("wine", "20260101T000001-bbbbbb")]
    doc = backend.read(run_key("iris", "20260101T000000-aaaaaa"))
    assert doc is not None
    run = doc_to_run(doc.data, "here")
    assert [(s["step"], s["status"]) for s in run["steps"]] == [("train", "ran"), ("monitor", "ran")]
    assert (run["params"], run["git_dirty"], run["metrics"]) == ({"model.depth": "3"}, True,
                                                               [{"step": "train", "key": "accuracy", "value": 0.9}])


@pytest.mark.parametrize(("prefix", "message"), [
    ("2026", "run `2026` matches several runs"),
    ("2025", "run `2025` is not a tracked run"),
])
def test_a_run_id_prefix_names_one_run(tmp_path: Path, prefix: str, message: str) -> None:
    tracker = DocumentTracker(Elsewhere(LocalBackend(tmp_path)))
    _record(tracker)
    with pytest.raises(StateError, match=f"^{message}$"):
        tracker.run(prefix)


def test_the_backend_kind_chooses_the_tracker(tmp_path: Path) -> None:
    local: Backend = LocalBackend(tmp_path / "state")
    assert open_tracker(local, create=False) is None  # a reader does not create the database
    assert not (tmp_path / "state" / "tracking.db").exists()
    opened = open_tracker(local)
    assert isinstance(opened, SqliteTracker)
    opened.close()
    assert (tmp_path / "state" / "tracking.db").is_file()
    assert isinstance(open_tracker(Elsewhere(local), create=False), DocumentTracker)


@pytest.mark.integration
@pytest.mark.parametrize(("data", "cause"), [
    (b"{broken", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b"[1, 2]", "not a run document of format 1"),
    (b'{"format": 7, "id": "20260101T000000-aaaaaa"}', "not a run document of format 1"),
], ids=["not-json", "not-an-object", "another-format"])
def test_a_damaged_run_document_is_named_by_runs_list(iris_project: Path, s3_url: str, mlform,
                                                      monkeypatch: pytest.MonkeyPatch, data: bytes,
                                                      cause: str) -> None:
    from mlform.runtime.storage.backends.url import open_backend

    backend = open_backend(s3_url)
    key = run_key("iris", "20260101T000000-aaaaaa")
    backend.write(key, data)
    monkeypatch.setenv("MLFORM_BACKEND", s3_url)

    result = mlform("runs", "list", iris_project.parent)

    assert (result.code, result.err) == (
        1, f"error: cannot read tracked run {key} in {backend.describe()}: {cause}\n")
    assert "Traceback" not in result.out
    left = backend.read(key)
    assert left is not None and left.data == data
