"""What each environment of a spec file resolves to now, read once and only when its bytes moved (receipts' check).

A receipt holds the digest of the spec file's bytes and that of what its environment resolves to: when the bytes
differ (another environment's overlay edited, a comment, formatting) the file is parsed, without validating it or
importing pydantic, and the environment's resolved digest decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlform.specs.errors import SpecError

if TYPE_CHECKING:
    from mlform.specs.read.source import Document

__all__ = ["SpecNow"]


@dataclass
class SpecNow:
    """The spec file at `path` as it is now, parsed on first use."""

    path: Path
    _doc: list[Document | None] = field(default_factory=list)

    def _document(self) -> Document | None:
        """The parsed file; None when it cannot be read or parsed, or an overlay breaks a rule (the full path says
        which)."""
        if not self._doc:
            from mlform.specs.read.overlays import check_overlays  # imports PyYAML: only once the bytes moved
            from mlform.specs.read.source import read_document

            try:
                doc: Document | None = read_document(self.path, str(self.path))
            except SpecError:
                doc = None
            self._doc.append(doc if doc is not None and not check_overlays(doc) else None)
        return self._doc[0]

    def digest(self, env: str | None) -> str | None:
        """`resolved_digest` of environment `env` (None: the base spec); None when unknown."""
        from mlform.specs.read.overlays import BASE, environment_names, resolve, resolved_digest

        doc = self._document()
        if doc is None or (env is not None and env not in environment_names(doc)):
            return None
        return resolved_digest(resolve(doc, env or BASE))

    def matches(self, env: str | None, recorded: object) -> bool:
        """Whether environment `env` (None: the base spec) resolves now to the digest `recorded`."""
        return recorded is not None and recorded == self.digest(env)

    def environments(self) -> list[str] | None:
        """The environments the file declares, in file order; None when unknown."""
        from mlform.specs.read.overlays import environment_names

        doc = self._document()
        return environment_names(doc) if doc is not None else None
