"""The `postgres` backend: documents, locks and files (unless an artifact location takes them) in one database.

Tables (prefixed `mlform_`, in the connection's current schema) are created on first use under a
transaction-level advisory lock, so two processes starting at once do not race. A document's version is a
number from one sequence: a key deleted and written again never reuses a version a stale reader could quote.
A lock is a session-level advisory lock held on a connection of its own for the lock's life, so the server
frees it the moment that connection ends, also when the holder is killed; a row beside it names the holder.
Files are stored in chunks, streamed both ways, and checked against their sha256 on every download.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from mlform.specs.fsutil import write_atomic_with

from .base import ABSENT, ANY, Backend, BackendError, ConflictError, Doc, Expect, LockHeldError, LockInfo, check_key
from .url import redact

__all__ = ["PostgresBackend"]

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS mlform_versions;
CREATE TABLE IF NOT EXISTS mlform_documents (
    key text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL,
    version bigint NOT NULL);
CREATE TABLE IF NOT EXISTS mlform_locks (
    name text PRIMARY KEY,
    holder jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS mlform_files (
    key text COLLATE "C" PRIMARY KEY,
    sha256 text NOT NULL,
    size bigint NOT NULL);
CREATE TABLE IF NOT EXISTS mlform_file_chunks (
    key text COLLATE "C" NOT NULL REFERENCES mlform_files ON DELETE CASCADE,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (key, seq));
"""
_NEXT = "nextval('mlform_versions')"
_HELD = """EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND classid = %s::bigint::oid AND objid = %s::bigint::oid)"""
_CHUNK = 4 << 20
_POLL = 0.1
_CONNECT_TIMEOUT = 10


def _advisory_key(namespace: str, name: str) -> int:
    """A signed 64-bit advisory lock key for `name` within `namespace` (the schema, so schemas never collide)."""
    digest = hashlib.sha256(f"mlform\0{namespace}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching keys that start with `prefix` literally."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _one_line(exc: BaseException) -> str:
    """A library error's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresBackend(Backend):
    """State in a PostgreSQL database; files there too, or in `artifacts` (a folder or S3 backend) when given."""

    kind = "postgres"

    def __init__(self, url: str, *, shown: str, artifacts: Backend | None = None) -> None:
        """Connect to `url` (a libpq URL) and create the tables if missing; `shown` names it without secrets."""
        super().__init__()
        self.shown, self.artifacts, self._secret = shown, artifacts, ""
        try:
            self._params: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT, **conninfo_to_dict(url)}
        except psycopg.Error as exc:
            raise self._failure("read the URL", exc) from None
        self._secret = str(self._params.get("password") or "")
        self._conn = self._connect()
        try:
            self._schema = self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def describe(self) -> str:
        """The database URL without its password, and where files go."""
        files = f", files in {self.artifacts.describe()}" if self.artifacts else ""
        return f"postgres backend {self.shown}{files}"

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Turn a driver error into one BackendError line naming the redacted URL, with no password in it."""
        try:
            yield
        except psycopg.Error as exc:
            raise self._failure(action, exc) from None

    def _failure(self, action: str, exc: psycopg.Error) -> BackendError:
        """The BackendError for a driver error: one line, the password (should the driver echo it) masked."""
        detail = redact(_one_line(exc))  # a URL it cannot parse is echoed whole, before its password is known
        if self._secret:
            detail = detail.replace(self._secret, "***")
        return BackendError(f"postgres backend {self.shown}: cannot {action}: {detail}")

    def _connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection."""
        try:
            return psycopg.connect(autocommit=True, **self._params)
        except psycopg.Error as exc:
            raise self._failure("connect", exc) from None

    def _prepare(self) -> str:
        """Create the tables unless they exist; the current schema's name."""
        with self._calling("create its tables"):
            schema, ready = self._conn.execute(
                "SELECT current_schema(), to_regclass('mlform_file_chunks') IS NOT NULL").fetchone() or (None, False)
            if schema is None:
                raise BackendError(f"postgres backend {self.shown}: no schema to create tables in: check the "
                                   "connection's search_path")
            if not ready:
                with self._conn.transaction():
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_advisory_key(schema, "\0schema"),))
                    self._conn.execute(_SCHEMA)
            return str(schema)

    def read(self, key: str) -> Doc | None:
        """The document and its version number."""
        return self.read_many([key]).get(key)

    def read_many(self, keys: Sequence[str]) -> dict[str, Doc]:
        """The documents among `keys`, in one query."""
        wanted = [check_key(key) for key in keys]
        with self._calling("read documents"):
            rows = self._conn.execute("SELECT key, data, version FROM mlform_documents WHERE key = ANY(%s)",
                                      (wanted,)).fetchall()
        return {key: Doc(bytes(data), str(version)) for key, data, version in rows}

    def write(self, key: str, data: bytes, *, expect: Expect = ANY) -> str:
        """Insert or update in one statement whose condition is the expectation."""
        check_key(key)
        if expect is ANY:
            query = (f"INSERT INTO mlform_documents (key, data, version) VALUES (%s, %b, {_NEXT}) ON CONFLICT (key) "
                     f"DO UPDATE SET data = EXCLUDED.data, version = {_NEXT} RETURNING version")
            params: tuple[object, ...] = (key, data)
        elif expect is ABSENT:
            query = (f"INSERT INTO mlform_documents (key, data, version) VALUES (%s, %b, {_NEXT}) "
                     "ON CONFLICT (key) DO NOTHING RETURNING version")
            params = (key, data)
        else:
            query = f"UPDATE mlform_documents SET data = %b, version = {_NEXT} WHERE key = %s AND version = %s " \
                    "RETURNING version"
            params = (data, key, _version_number(expect))
        with self._calling(f"write {key}"):
            row = self._conn.execute(query, params).fetchone()
        if row is None:
            raise ConflictError(_conflict(key, expect, self.shown))
        return str(row[0])

    def delete(self, key: str, *, expect: Expect = ANY) -> None:
        """Delete the row when the expectation holds."""
        check_key(key)
        with self._calling(f"delete {key}"):
            if expect is ANY:
                self._conn.execute("DELETE FROM mlform_documents WHERE key = %s", (key,))
                return
            if expect is ABSENT:
                found = self._conn.execute("SELECT 1 FROM mlform_documents WHERE key = %s", (key,)).fetchone()
            else:
                found = None if self._conn.execute(
                    "DELETE FROM mlform_documents WHERE key = %s AND version = %s RETURNING 1",
                    (key, _version_number(expect))).fetchone() else True
        if found is not None:
            raise ConflictError(_conflict(key, expect, self.shown))

    def keys(self, prefix: str) -> list[str]:
        """Documents and files whose key starts with `prefix`, in byte order."""
        pattern = _like_prefix(prefix)
        with self._calling("list keys"):
            rows = self._conn.execute(
                "SELECT key FROM mlform_documents WHERE key LIKE %s ESCAPE '\\' "
                "UNION SELECT key FROM mlform_files WHERE key LIKE %s ESCAPE '\\'", (pattern, pattern)).fetchall()
        found = {str(row[0]) for row in rows}
        if self.artifacts is not None:
            found.update(self.artifacts.keys(prefix))
        return sorted(found)

    @contextlib.contextmanager
    def _session(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection of its own for one transfer or lock, closed afterwards."""
        conn = self._connect()
        try:
            with self._calling(action):
                yield conn
        finally:
            conn.close()

    def put_file(self, key: str, source: Path) -> str:
        """Stream `source` into chunk rows in one transaction, replacing an earlier file of that key."""
        if self.artifacts is not None:
            return self.artifacts.put_file(key, source)
        check_key(key)
        digest, size = hashlib.sha256(), 0
        with self._session(f"store {key}") as conn, conn.transaction(), source.open("rb") as handle:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_advisory_key(self._schema, "\0file\0" + key),))
            conn.execute("DELETE FROM mlform_files WHERE key = %s", (key,))
            conn.execute("INSERT INTO mlform_files (key, sha256, size) VALUES (%s, '', 0)", (key,))
            for seq, chunk in enumerate(iter(lambda: handle.read(_CHUNK), b"")):
                digest.update(chunk)
                size += len(chunk)
                conn.execute("INSERT INTO mlform_file_chunks (key, seq, data) VALUES (%s, %s, %b)", (key, seq, chunk))
            sha256 = "sha256:" + digest.hexdigest()
            conn.execute("UPDATE mlform_files SET sha256 = %s, size = %s WHERE key = %s", (sha256, size, key))
        return sha256

    def get_file(self, key: str, dest: Path, sha256: str) -> None:
        """Stream the chunks into a temp file beside `dest`, check the digest, then rename it into place."""
        if self.artifacts is not None:
            self.artifacts.get_file(key, dest, sha256)
            return
        check_key(key)
        with self._session(f"load {key}") as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM mlform_files WHERE key = %s", (key,)).fetchone() is None:
                raise BackendError(f"{key} is missing from {self.describe()}")

            def fill(tmp: Path) -> None:
                digest = hashlib.sha256()
                with tmp.open("wb") as out, conn.cursor(name="mlform_file_chunks", binary=True) as rows:
                    rows.itersize = 1  # one chunk in memory at a time
                    rows.execute("SELECT data FROM mlform_file_chunks WHERE key = %s ORDER BY seq", (key,))
                    for (chunk,) in rows:
                        digest.update(chunk)
                        out.write(chunk)
                actual = "sha256:" + digest.hexdigest()
                if actual != sha256:
                    raise BackendError(f"{key} in {self.describe()} has {actual}, expected {sha256}: it was changed "
                                       "or damaged")

            write_atomic_with(dest, fill)

    def _lock_ids(self, name: str) -> tuple[int, int, int]:
        """The advisory key of lock `name`, and its two halves as `pg_locks` shows them."""
        key = _advisory_key(self._schema, name)
        return key, (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF

    def _record(self, conn: psycopg.Connection[Any], name: str) -> tuple[LockInfo, bool] | None:
        """The holder row of `name` and whether its advisory lock is held now."""
        _, high, low = self._lock_ids(name)
        row = conn.execute(f"SELECT holder, {_HELD} FROM mlform_locks WHERE name = %s", (high, low, name)).fetchone()
        return None if row is None else (LockInfo(**row[0]), bool(row[1]))

    def holder(self, name: str) -> LockInfo | None:
        """The holder row, when its session still holds the lock (a dead holder's row is not a holder)."""
        check_key(name)
        with self._calling(f"read the lock {name}"):
            found = self._record(self._conn, name)
        return found[0] if found and found[1] else None

    @contextlib.contextmanager
    def lock(self, name: str, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Take the advisory lock on a session of its own, polling until `timeout`; write the holder row."""
        check_key(name)
        key = self._lock_ids(name)[0]
        deadline = time.monotonic() + timeout
        with self._session(f"lock {name}") as conn:
            while not (conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() or (False,))[0]:
                if time.monotonic() >= deadline:
                    who = self.holder(name)
                    raise LockHeldError(f"{name} is locked: {who.describe() if who else 'another session'}")
                time.sleep(_POLL)
            left = self._record(conn, name)
            if left is not None:
                self.notes.append(f"took over the lock left by {left[0].operation} of pid {left[0].pid} on "
                                  f"{left[0].host}, whose database session has ended")
            info = LockInfo.mine(operation)
            conn.execute("INSERT INTO mlform_locks (name, holder) VALUES (%s, %s) ON CONFLICT (name) "
                         "DO UPDATE SET holder = EXCLUDED.holder", (name, Jsonb(asdict(info))))
            try:
                yield info
            finally:
                conn.execute("DELETE FROM mlform_locks WHERE name = %s AND holder->>'id' = %s", (name, info.id))
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def force_unlock(self, name: str, lock_id: str) -> LockInfo:
        """Remove the holder row a dead holder left; a live session's lock cannot be forced."""
        check_key(name)
        with self._calling(f"unlock {name}"):
            found = self._record(self._conn, name)
            if found is None:
                raise BackendError(f"{name} is not locked")
            info, live = found
            if info.id != lock_id:
                raise BackendError(f"lock ID `{lock_id}` does not match the holder's ID `{info.id}`")
            if live:
                raise BackendError(f"{name} is held by a live database session: {info.describe()}; the server "
                                   "releases it when that process ends or its connection drops, so stop the "
                                   "process instead of forcing the lock")
            self._conn.execute("DELETE FROM mlform_locks WHERE name = %s AND holder->>'id' = %s", (name, lock_id))
        return info

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
        if self.artifacts is not None:
            self.artifacts.close()


def _version_number(expect: str) -> int:
    """The version number a write quotes; -1 (matches nothing) for a tag from another kind of backend."""
    return int(expect) if expect.isdigit() else -1


def _conflict(key: str, expect: Expect, shown: str) -> str:
    """Why a conditional write or delete was refused."""
    if expect is ABSENT:
        return f"{key} already exists in {shown}"
    return f"{key} changed in {shown} since it was read"
