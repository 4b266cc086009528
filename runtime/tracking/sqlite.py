"""The local kind's run tracker: runs, steps, params, metrics and artifacts in one SQLite file (WAL)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlform.runtime.gitinfo import GitState
from mlform.specs.errors import StateError

from .tracker import Tracker, flat_params

__all__ = ["SCHEMA_VERSION", "SqliteTracker"]

SCHEMA_VERSION = 2
# added by schema 2 (a schema 1 database gains them on first use): the project's git state at the run's start
_GIT_COLUMNS = ("git_commit TEXT", "git_dirty INTEGER", "git_diff_sha256 TEXT")
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, spec_name TEXT NOT NULL, env TEXT NOT NULL, spec_path TEXT NOT NULL,
    spec_digest TEXT NOT NULL, status TEXT NOT NULL, started REAL NOT NULL, finished REAL, error TEXT,
    {", ".join(_GIT_COLUMNS)});
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, status TEXT NOT NULL, seconds REAL NOT NULL,
    fingerprint TEXT NOT NULL, reasons TEXT NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, step, key));
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, name TEXT NOT NULL, uri TEXT NOT NULL,
    PRIMARY KEY (run_id, step, name));
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
"""


class SqliteTracker(Tracker):
    """Tracking store in `db`; each method is one transaction."""

    def __init__(self, db: Path) -> None:
        self.db = db
        db.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(db, timeout=30, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(f"BEGIN;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;")
            elif version == 1:
                self._migrate_from_1()
            elif version != SCHEMA_VERSION:
                raise StateError(f"tracking database {db} has schema {version}; this mlform reads {SCHEMA_VERSION}")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open tracking database {db}: {exc}") from None

    def _migrate_from_1(self) -> None:
        """Add the git columns to a schema 1 database; the version is re-read under the write lock."""
        self.conn.execute("BEGIN IMMEDIATE")
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == 1:
            for column in _GIT_COLUMNS:
                self.conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for sql, args in statements:
                self.conn.execute(sql, args)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StateError(f"cannot write to tracking database {self.db}: {exc}") from None

    def start_run(self, run_id: str, spec_name: str, env: str, spec_path: str, spec_digest: str,
                  params: Mapping[str, Any], git: GitState | None = None) -> None:
        """Record a new running run with its flattened params and the project's git state (None: not looked up)."""
        flat = flat_params(params)
        git = git or GitState()
        self._write([("INSERT INTO runs (id, spec_name, env, spec_path, spec_digest, status, started, git_commit, "
                      "git_dirty, git_diff_sha256) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                      (run_id, spec_name, env, spec_path, spec_digest, time.time(), git.commit, git.dirty,
                       git.diff_sha256)),
                     *(("INSERT INTO params VALUES (?, ?, ?)", (run_id, k, v)) for k, v in flat.items())])

    def log_step(self, run_id: str, step: str, status: str, seconds: float, fingerprint: str, reasons: list[str],
                 metrics: Mapping[str, float] | None = None, artifacts: Mapping[str, str] | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        """Record one step's outcome with its metrics and artifact URIs."""
        rows: list[tuple[str, tuple[Any, ...]]] = [("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
                 (run_id, step, status, seconds, fingerprint, json.dumps(reasons)))]
        rows += [("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)", (run_id, step, k, v))
                 for k, v in (metrics or {}).items()]
        rows += [("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)", (run_id, step, k, v))
                 for k, v in (artifacts or {}).items()]
        rows += [("INSERT OR REPLACE INTO params VALUES (?, ?, ?)", (run_id, k, v))
                 for k, v in (flat_params(params) if params else {}).items()]
        self._write(rows)

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Mark a run finished."""
        self._write([("UPDATE runs SET status = ?, finished = ?, error = ? WHERE id = ?",
                      (status, time.time(), error, run_id))])

    def runs(self, limit: int = 20, spec_name: str | None = None) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        where, args = ("WHERE spec_name = ?", (spec_name,)) if spec_name else ("", ())
        sql = f"SELECT * FROM runs {where} ORDER BY started DESC LIMIT ?"
        return [dict(row) for row in self.conn.execute(sql, (*args, limit))]

    def step_history(self, spec_name: str, steps: Sequence[str]) -> list[dict[str, Any]]:
        """The completed (`ran` or `cached`) `steps` of every run of `spec_name`, newest run first."""
        marks = ", ".join("?" for _ in steps)
        sql = (f"SELECT r.id AS run_id, r.env, r.started, s.step, s.fingerprint FROM steps s JOIN runs r "
               f"ON r.id = s.run_id WHERE r.spec_name = ? AND s.step IN ({marks}) AND s.status IN ('ran', 'cached') "
               "ORDER BY r.started DESC, s.rowid")
        return [dict(row) for row in self.conn.execute(sql, (spec_name, *steps))]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run with its steps, params, metrics and artifacts; a unique ID prefix is enough."""
        # a range on the primary key finds a prefix through its index (IDs are ASCII, below U+FFFF)
        found = self.conn.execute("SELECT * FROM runs WHERE id >= ? AND id < ? ORDER BY started DESC LIMIT 2",
                                  (run_id, run_id + "\uffff")).fetchall()
        if len(found) != 1:
            problem = "matches several runs" if found else "is not a tracked run"
            raise StateError(f"run `{run_id}` {problem}")
        run = dict(found[0])
        if run["git_dirty"] is not None:
            run["git_dirty"] = bool(run["git_dirty"])

        def rows(sql: str) -> list[dict[str, Any]]:
            return [dict(r) for r in self.conn.execute(sql, (run["id"],))]

        run["steps"] = rows("SELECT step, status, seconds, fingerprint, reasons FROM steps WHERE run_id = ? "
                            "ORDER BY rowid")
        for step in run["steps"]:
            step["reasons"] = json.loads(step["reasons"])
        run["params"] = {r["key"]: r["value"] for r in rows("SELECT key, value FROM params WHERE run_id = ?")}
        run["metrics"] = rows("SELECT step, key, value FROM metrics WHERE run_id = ? ORDER BY rowid")
        run["artifacts"] = rows("SELECT step, name, uri FROM artifacts WHERE run_id = ? ORDER BY rowid")
        return run
