"""One tracked run as a backend document (`runs/<id>.json`): the shape remote kinds keep runs in.

The document is `Tracker.run(id)` as canonical JSON (sorted keys) with a `format_version`: the run's
columns, then `steps`, `params`, `metrics` and `artifacts` as the local SQLite store returns them, so a
run moved between a local `tracking.db` and a remote backend keeps every field and its bytes are the same
whichever side produced them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError

from .tracker import Tracker

__all__ = ["RUNS_PREFIX", "RUN_DOC_FORMAT", "doc_to_run", "run_key", "run_to_doc", "runs_in_db", "save_run"]

RUNS_PREFIX = "runs/"
RUN_DOC_FORMAT = 1
_RUN_COLUMNS = ("id", "spec_name", "env", "spec_path", "spec_digest", "status", "started", "finished", "error",
                "git_commit", "git_dirty", "git_diff_sha256")


def run_key(run_id: str) -> str:
    """The backend key of a run's document."""
    return f"{RUNS_PREFIX}{run_id}.json"


def run_to_doc(run: dict[str, Any]) -> bytes:
    """A run (as `Tracker.run` returns it) as its document's bytes."""
    text = json.dumps({"format_version": RUN_DOC_FORMAT, **run}, sort_keys=True, separators=(",", ":"))
    return (text + "\n").encode()


def doc_to_run(data: bytes, where: str) -> dict[str, Any]:
    """The run a document holds; StateError naming `where` when it is not a run document of this format."""
    try:
        run = json.loads(data)
        version = run.pop("format_version")
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise StateError(f"run document {where} is not valid: {exc}") from None
    if version != RUN_DOC_FORMAT or not isinstance(run.get("id"), str):
        raise StateError(f"run document {where} has format_version {version}; this mlform reads {RUN_DOC_FORMAT}")
    return run


def runs_in_db(db: Path) -> Iterator[dict[str, Any]]:
    """Every run of a local tracking database, oldest first (none when the file does not exist)."""
    if not db.is_file():  # opening a missing database would create it
        return
    tracker = Tracker(db)
    try:
        ids = [row[0] for row in tracker.conn.execute("SELECT id FROM runs ORDER BY started, id")]
        for run_id in ids:
            yield tracker.run(run_id)
    finally:
        tracker.close()


def save_run(db: Path, run: dict[str, Any]) -> None:
    """Insert `run` into a local tracking database in one transaction, its times and fields as they were."""
    tracker = Tracker(db)
    conn = tracker.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" for _ in _RUN_COLUMNS)
        conn.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({marks})",
                     tuple(run.get(column) for column in _RUN_COLUMNS))
        run_id = run["id"]
        for step in run["steps"]:
            conn.execute("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?)", (run_id, step["step"], step["status"],
                         step["seconds"], step["fingerprint"], json.dumps(step["reasons"])))
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", [(run_id, k, v) for k, v in run["params"].items()])
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)",
                         [(run_id, m["step"], m["key"], m["value"]) for m in run["metrics"]])
        conn.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?)",
                         [(run_id, a["step"], a["name"], a["uri"]) for a in run["artifacts"]])
        conn.execute("COMMIT")
    except (sqlite3.Error, KeyError, TypeError) as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StateError(f"cannot write run `{run.get('id')}` to {db}: {exc}") from None
    finally:
        tracker.close()
