"""The embedded tracker: a database of an earlier schema is migrated in place on first use, nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlform.runtime.gitinfo import GitState
from mlform.runtime.tracking.sqlite import SCHEMA_VERSION, SqliteTracker

SCHEMA_1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, spec_name TEXT NOT NULL, env TEXT NOT NULL, spec_path TEXT NOT NULL,
    spec_digest TEXT NOT NULL, status TEXT NOT NULL, started REAL NOT NULL, finished REAL, error TEXT);
CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, status TEXT NOT NULL, seconds REAL NOT NULL,
    fingerprint TEXT NOT NULL, reasons TEXT NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, step, key));
CREATE TABLE artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, name TEXT NOT NULL, uri TEXT NOT NULL,
    PRIMARY KEY (run_id, step, name));
INSERT INTO runs VALUES ('20260101T000000-aaaaaa', 'iris', 'dev', 'mlform.yaml', 'ab', 'ran', 1.0, 2.0, NULL);
PRAGMA user_version=1;
"""


def test_a_schema_1_database_gains_the_git_columns_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "tracking.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA_1)
    tracker = SqliteTracker(db)
    try:
        old = tracker.run("20260101T000000")
        assert (old["spec_name"], old["git_commit"], old["git_dirty"], old["git_diff_sha256"]) == (
            "iris", None, None, None)
        tracker.start_run("20260102T000000-bbbbbb", "iris", "dev", "mlform.yaml", "cd", {},
                          GitState("c0ffee", dirty=True, diff_sha256="d1"))
        new = tracker.run("20260102T000000")
        assert (new["git_commit"], new["git_dirty"], new["git_diff_sha256"]) == ("c0ffee", True, "d1")
        assert [r["id"] for r in tracker.runs()] == ["20260102T000000-bbbbbb", "20260101T000000-aaaaaa"]
    finally:
        tracker.close()
    again = SqliteTracker(db)  # already migrated: opens as is
    try:
        assert again.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    finally:
        again.close()
