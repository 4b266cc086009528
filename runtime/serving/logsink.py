"""The serving log in the state backend (`serving.log.sink: backend`): one immutable object per flushed batch.

S3 has no append, and the server pods are not the monitoring pod, so each batch the writer thread flushes
(rows gathered for `LINGER_SECONDS`) is stored once under `serving-log/<model>/<env>/<UTC time>-<pid>-<random>.jsonl`:
keys sort in time order, and a batch's key time is after every row in it, so a monitoring window skips older
batches without reading them. The backend is reopened from a reference that holds no secret (the variable its URL
is read from).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlform.specs.graph.statistic import statistic_digest

if TYPE_CHECKING:
    from mlform.runtime.storage.backends.base import Backend

__all__ = ["LINGER_SECONDS", "ROOT", "BackendSink", "batch_key", "batch_time", "log_prefix", "log_statistic"]

ROOT = "serving-log"
LINGER_SECONDS = 5.0  # rows gathered per object: a few objects a minute per worker, not one per request
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def log_prefix(model: str, env: str) -> str:
    """The key prefix of one model's serving log in one environment."""
    return f"{ROOT}/{model}/{env}/"


def batch_key(prefix: str, when: datetime, pid: int | None = None) -> str:
    """The key of a batch flushed at `when` (UTC) by process `pid`; a random part keeps two flushes apart."""
    return f"{prefix}{when.astimezone(UTC).strftime(_STAMP)}-{os.getpid() if pid is None else pid}-" \
           f"{uuid.uuid4().hex[:8]}.jsonl"


def batch_time(key: str) -> datetime | None:
    """When the batch at `key` was flushed; None for a key this module did not name."""
    try:
        return datetime.strptime(key.rpartition("/")[2].partition("-")[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def log_statistic(backend: Backend, prefix: str) -> str:
    """The cheap fingerprint of the log: its number of batches and the latest one's key (one listing)."""
    keys = backend.keys(prefix)
    latest = keys[-1].removeprefix(prefix) if keys else None
    return statistic_digest(f"serving log {prefix}", [("batches", len(keys)), ("latest", latest)])


class BackendSink:
    """Store each batch as a new object of the state backend `ref` (from `backend_ref`) names."""

    linger = LINGER_SECONDS

    def __init__(self, ref: Mapping[str, Any], prefix: str) -> None:
        self.ref, self.prefix = dict(ref), prefix
        self._backend: Backend | None = None

    def prepare(self) -> None:
        """Nothing: the backend is opened by the first write, on the writer thread, so a failure costs no request."""

    def write(self, lines: bytes) -> None:
        """Store `lines` under a new key; never replaces an object."""
        from mlform.runtime.storage.backends.base import ABSENT, BackendError
        from mlform.runtime.storage.backends.url import reopen

        if self._backend is None:
            self._backend = reopen(self.ref)
            if self._backend is None:
                raise BackendError("the state backend's URL is not the one the server was started with")
        self._backend.write(batch_key(self.prefix, datetime.now(UTC)), lines, expect=ABSENT)

    def describe(self) -> str:
        """The prefix, in the state backend."""
        return f"`{self.prefix}` of the state backend"
