"""Checks of `data.columns_meta` and `data.pii` against the declared columns and the data's header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlform.specs.model.data import Data

from .columns import SourceUnreadableError, source_columns
from .explain import did_you_mean
from .finding import Finding, Sections

__all__ = ["columns_meta_findings", "pii_findings"]

_VALUE_RULES = ("min", "max", "allowed", "regex")  # rules on values, which hashing replaces


def _header(data: Data, root: Path) -> tuple[str, ...] | None:
    """The training source's columns when its file can be read cheaply; None otherwise (another check says why)."""
    source = data.sources.get(data.training_source)
    try:
        return source_columns(source, root) if source is not None else None
    except SourceUnreadableError:
        return None


def columns_meta_findings(s: Sections, root: Path) -> Iterator[Finding]:
    """Unknown columns in `data.columns_meta`, PII marks without `data.pii`, deprecated features."""
    data: Data = s["data"]
    header = _header(data, root)
    listed = set(data.pii.columns) if data.pii else set()
    for column, meta in data.columns_meta.items():
        if header is not None and column not in header:
            yield Finding(("data", "columns_meta", column), f"column `{column}` is not in the training data"
                          f"{did_you_mean(column, header)}", on_key=True)
        if meta.pii and column not in listed:
            yield Finding(("data", "columns_meta", column, "pii"),
                          f"`{column}` is marked `pii: true` but is not listed in `data.pii.columns`")
        if meta.status == "deprecated" and column in data.features:
            yield Finding(("data", "columns_meta", column, "status"),
                          f"feature `{column}` is deprecated", "warning")


def pii_findings(s: Sections, root: Path) -> Iterator[Finding]:
    """PII columns that are features, the target or kept ids, or absent from the data; bad `allow_as_feature`."""
    data: Data = s["data"]
    pii = data.pii
    if pii is None:
        return
    header = _header(data, root)
    for index, column in enumerate(pii.columns):
        path = ("data", "pii", "columns", index)
        if header is not None and column not in header:
            yield Finding(path, f"column `{column}` is not in the training data{did_you_mean(column, header)}")
        if column == data.target:
            yield Finding(path, f"the target `{column}` cannot be a PII column: the model needs its values")
        elif pii.action == "drop" and (column in data.id_columns or column == data.split.time_column):
            yield Finding(path, f"`{column}` is dropped (`action: drop`) but the run needs it as an id or time "
                                "column; use `action: hash`")
    for index, column in enumerate(data.features):
        if column in pii.columns and column not in pii.allow_as_feature:
            yield Finding(("data", "features", index),
                          f"feature `{column}` is a PII column (`data.pii.columns`); remove it, or allow it with "
                          "`data.pii.allow_as_feature` and `action: hash`")
    for index, column in enumerate(pii.allow_as_feature):
        path = ("data", "pii", "allow_as_feature", index)
        if column not in pii.columns:
            yield Finding(path, f"`{column}` is not in `data.pii.columns`{did_you_mean(column, pii.columns)}")
        elif pii.action != "hash":
            yield Finding(path, f"`{column}` is dropped (`action: drop`), so it cannot be a feature; "
                                "use `action: hash`")
    validation = s.get("validation")
    for column, rule in (validation.columns.items() if validation is not None and pii.action == "hash" else ()):
        for key in _VALUE_RULES:
            if column in pii.columns and getattr(rule, key) is not None:
                yield Finding(("validation", "columns", column, key),
                              f"`{column}` is hashed (`data.pii`) before validation runs: `{key}` would check "
                              "the hashes, not the values")
