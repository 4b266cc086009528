"""The serving log as current data: the JSON Lines the server writes (files of a folder, or batches in the state
backend), one sampled request per row.

Each row is `{"ts": ISO 8601 UTC, "model": name, "version": int, "features": {...}, "prediction": ...}`.
Rows that are not such objects are counted and skipped, so one torn line does not hide the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlform.runtime.serving.logsink import batch_time

if TYPE_CHECKING:
    from mlform.runtime.storage.backends.base import Backend

__all__ = ["PREDICTION", "ServingLog", "prune_backend_log", "read_backend_log", "read_serving_log"]

PREDICTION = "__prediction__"  # the logged prediction, kept beside the features


@dataclass(frozen=True)
class ServingLog:
    """The selected rows as a frame (features, and the logged prediction in `PREDICTION`), and what was left out."""

    frame: pd.DataFrame
    files: int
    skipped: int
    filtered: int
    unit: str = "file(s)"

    def describe(self) -> str:
        """One line: rows read, from how many files (or batches), and what was left out."""
        return (f"{len(self.frame)} logged rows from {self.files} {self.unit}; {self.filtered} outside the window "
                f"or of another model or version, {self.skipped} malformed")


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _select(lines: Iterable[str], model: str, version: int | None, since: datetime | None) -> tuple[
        list[dict[str, Any]], int, int]:
    """The feature rows (with the prediction) of `lines` for `model` (and `version`) since `since`; and how many
    were skipped as malformed and filtered out."""
    rows: list[dict[str, Any]] = []
    skipped = filtered = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        stamp = _timestamp(row.get("ts")) if isinstance(row, dict) else None
        if stamp is None or not isinstance(row.get("features"), dict):
            skipped += 1
            continue
        if (row.get("model") != model or (version is not None and row.get("version") != version)
                or (since is not None and stamp < since)):
            filtered += 1
            continue
        rows.append({**row["features"], PREDICTION: row.get("prediction")})
    return rows, skipped, filtered


def _since(window: timedelta | None, now: datetime | None) -> datetime | None:
    return (now or datetime.now(UTC)) - window if window is not None else None


def read_serving_log(folder: Path, model: str, version: int | None, window: timedelta | None,
                     now: datetime | None = None) -> ServingLog:
    """The rows of `folder/*.jsonl` logged for `model` (and `version` unless None) within `window` before `now`."""
    since = _since(window, now)
    files = sorted(folder.glob("*.jsonl"))
    rows: list[dict[str, Any]] = []
    skipped = filtered = 0
    for file in files:
        with file.open(encoding="utf-8") as handle:
            found, bad, other = _select(handle, model, version, since)
        rows += found
        skipped, filtered = skipped + bad, filtered + other
    return ServingLog(pd.DataFrame(rows), len(files), skipped, filtered)


def read_backend_log(backend: Backend, prefix: str, model: str, version: int | None, window: timedelta | None,
                     now: datetime | None = None) -> ServingLog:
    """The rows of the batches under `prefix` of `backend`, in time order, like `read_serving_log`; batches
    flushed before the window are not read (every row of one is older than its key)."""
    since = _since(window, now)
    keys = backend.keys(prefix)
    wanted = [key for key in keys if since is None or (stamp := batch_time(key)) is None or stamp >= since]
    docs = backend.read_many(wanted)
    rows: list[dict[str, Any]] = []
    skipped = filtered = 0
    for key in wanted:
        if key in docs:
            found, bad, other = _select(docs[key].data.decode("utf-8", "replace").splitlines(), model, version, since)
            rows += found
            skipped, filtered = skipped + bad, filtered + other
    return ServingLog(pd.DataFrame(rows), len(wanted), skipped, filtered, "batch(es)")


def prune_backend_log(backend: Backend, prefix: str, retention: timedelta, now: datetime | None = None) -> int:
    """Delete the batches under `prefix` flushed more than `retention` before `now`; how many were deleted. Keys
    this module did not name are kept."""
    since = (now or datetime.now(UTC)) - retention
    old = [key for key in backend.keys(prefix) if (stamp := batch_time(key)) is not None and stamp < since]
    for key in old:
        backend.delete(key)
    return len(old)
