"""A semantic finding: a message at a key path of a spec, before it is located in the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from mlform.specs.read.source import KeyPath

__all__ = ["Finding", "Sections"]

# Top-level key -> its validated section (None for an absent optional section); sections that fail
# schema validation are left out, and so are the checks that need them.
Sections = Mapping[str, Any]


class Finding(NamedTuple):
    """One semantic finding at a key path; `on_key` when it is about the mapping key, not its value; `offset`, the
    character inside a one-line scalar value where the problem is."""

    path: KeyPath
    message: str
    severity: str = "error"
    on_key: bool = False
    offset: int | None = None
