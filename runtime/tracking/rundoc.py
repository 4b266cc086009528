"""One tracked run as one JSON document (`runs/<spec name>/<run id>.json`): the shape `Tracker.run` returns."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError

from .sqlite import SqliteTracker

__all__ = ["RUNDOC_FORMAT", "RUN_FIELDS", "doc_to_run", "run_key", "run_to_doc", "runs_in_db", "save_run"]

RUNDOC_FORMAT = 1
# a run's own fields, as `Tracker.runs` lists them; the document adds `steps`, `params`, `metrics`, `artifacts`
RUN_FIELDS = ("id", "spec_name", "env", "spec_path", "spec_digest", "status", "started", "finished", "error",
              "git_commit", "git_dirty", "git_diff_sha256")


def run_key(spec_name: str, run_id: str) -> str:
    """The backend key of one run."""
    return f"runs/{spec_name}/{run_id}.json"


def run_to_doc(run: dict[str, Any]) -> bytes:
    """The document of `run` (a `Tracker.run` dict)."""
    return json.dumps({"format": RUNDOC_FORMAT, **run}, sort_keys=True, default=str).encode()


def doc_to_run(data: bytes, where: str) -> dict[str, Any]:
    """The `Tracker.run` dict in a run document (`where` names it); StateError when it is not one this mlform reads."""
    try:
        run = json.loads(data)
    except ValueError as exc:
        raise StateError(f"cannot read tracked run {where}: {exc}") from None
    if not isinstance(run, dict) or run.pop("format", None) != RUNDOC_FORMAT or not all(f in run for f in RUN_FIELDS):
        raise StateError(f"cannot read tracked run {where}: not a run document of format {RUNDOC_FORMAT}")
    return run


def runs_in_db(db: Path) -> Iterator[dict[str, Any]]:
    """Every run of a local tracking database, oldest first (none when the file does not exist)."""
    if not db.is_file():  # opening a missing database would create it
        return
    tracker = SqliteTracker(db)
    try:
        ids = [row[0] for row in tracker.conn.execute("SELECT id FROM runs ORDER BY started, id")]
        for run_id in ids:
            yield tracker.run(run_id)
    finally:
        tracker.close()


def save_run(db: Path, run: dict[str, Any]) -> None:
    """Insert `run` into a local tracking database in one transaction, its times and fields as they were."""
    tracker = SqliteTracker(db)
    conn = tracker.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" for _ in RUN_FIELDS)
        conn.execute(f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) VALUES ({marks})",
                     tuple(run.get(column) for column in RUN_FIELDS))
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
