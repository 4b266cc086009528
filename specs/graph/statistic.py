"""The digest of a `sql` source fingerprinted by a statistic, and what moved between two of them (no imports beyond
the standard library: the plan's reasons and a re-run's fast path read it)."""

from __future__ import annotations

import hashlib
import json

__all__ = ["statistic_change", "statistic_digest"]

_STATISTIC = "statistic:"


def statistic_digest(query: str, values: list[tuple[str, object]]) -> str:
    """`statistic:<hash of the whitespace-normalized query> <the statistic's columns and values as JSON>`."""
    normalized = " ".join(query.split())
    shown = json.dumps([[str(column), value] for column, value in values], separators=(",", ":"), default=str)
    return f"{_STATISTIC}{hashlib.sha256(normalized.encode()).hexdigest()[:16]} {shown}"


def statistic_change(before: str, after: str) -> str | None:
    """What moved between two digests of a `sql` source, e.g. `statistic changed: count 1000 -> 1012`; None
    unless `after` is a statistic digest."""
    if not after.startswith(_STATISTIC):
        return None
    if not before.startswith(_STATISTIC):
        return "is now fingerprinted by its statistic, not its full result"
    old_query, _, old_values = before.partition(" ")
    new_query, _, new_values = after.partition(" ")
    if old_query != new_query:
        return "query or statistic query changed"
    old, new = dict(json.loads(old_values)), dict(json.loads(new_values))
    moved = [f"{column} {json.dumps(old.get(column))} -> {json.dumps(value)}"
             for column, value in new.items() if old.get(column) != value]
    return f"statistic changed: {', '.join(moved)}" if moved else None
