"""Pipeline names across spec files: two specs naming their pipeline alike would write the same generated files."""

from __future__ import annotations

from collections.abc import Iterable

from mlform.specs.errors import Diagnostic
from mlform.specs.read.source import Document

__all__ = ["duplicate_names"]


def duplicate_names(documents: Iterable[Document]) -> list[Diagnostic]:
    """An error at each spec file naming its pipeline like an earlier file: both would write the same files.

    Documents are spec files as read (or resolved for an environment): a file with other errors still counts.
    """
    first: dict[str, Document] = {}
    found = set()
    for doc in documents:
        metadata = doc.data.get("metadata") if isinstance(doc.data, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(name, str):
            continue
        earlier = first.setdefault(name, doc)
        if earlier.file == doc.file:
            continue
        there, here = earlier.mark(("metadata", "name")), doc.mark(("metadata", "name"))
        message = (f"pipeline `{name}` is already named by {earlier.file}:{there.line}:{there.col}; "
                   "each writes its generated files under its name, so give each spec its own `metadata.name`")
        found.add(Diagnostic(doc.file, here.line, here.col, "metadata.name", message))
    return sorted(found)
