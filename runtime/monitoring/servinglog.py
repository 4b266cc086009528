"""The serving log as current data: the JSON Lines files the server writes, one sampled request per row.

Each row is `{"ts": ISO 8601 UTC, "model": name, "version": int, "features": {...}, "prediction": ...}`.
Rows that are not such objects are counted and skipped, so one torn line does not hide the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["PREDICTION", "ServingLog", "read_serving_log"]

PREDICTION = "__prediction__"  # the logged prediction, kept beside the features


@dataclass(frozen=True)
class ServingLog:
    """The selected rows as a frame (features, and the logged prediction in `PREDICTION`), and what was left out."""

    frame: pd.DataFrame
    files: int
    skipped: int
    filtered: int

    def describe(self) -> str:
        """One line: rows read, from how many files, and what was left out."""
        return (f"{len(self.frame)} logged rows from {self.files} file(s); {self.filtered} outside the window or "
                f"of another model or version, {self.skipped} malformed")


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def read_serving_log(folder: Path, model: str, version: int | None, window: timedelta | None,
                     now: datetime | None = None) -> ServingLog:
    """The rows of `folder/*.jsonl` logged for `model` (and `version` unless None) within `window` before `now`."""
    since = (now or datetime.now(UTC)) - window if window is not None else None
    files = sorted(folder.glob("*.jsonl"))
    rows: list[dict[str, Any]] = []
    skipped = filtered = 0
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for line in handle:
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
    return ServingLog(pd.DataFrame(rows), len(files), skipped, filtered)
