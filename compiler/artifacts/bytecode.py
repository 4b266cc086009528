"""Compiled templates kept in the user's cache folder, so a process renders a template without compiling it.

Jinja keys each file by template name (and path, for an override folder) and holds the SHA-1 of the source it was
compiled from, recompiling when the source differs; its header names Jinja's bytecode format and the Python version.
The folder is named by a digest of Jinja's version, the interpreter's cache tag and the module that configures the
environment (its options and filters shape the compiled code), so other installations keep their own. Files are
written to a temporary name and renamed (concurrent writers each leave a whole file); a torn or foreign file is
compiled again; nothing is written when Python is told not to write bytecode; a folder that cannot be written only
costs the compile.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from mlform.specs.fsutil import user_cache_dir

__all__ = ["TemplateCache", "template_cache"]

_UNREADABLE = (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError)


class TemplateCache(jinja2.FileSystemBytecodeCache):
    """A Jinja bytecode cache that never fails a render: unreadable entries recompile, failed writes are skipped."""

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill `bucket` from its file when that holds code compiled from the same source."""
        try:
            super().load_bytecode(bucket)
        except _UNREADABLE:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Write `bucket` atomically, unless bytecode writing is off."""
        if sys.dont_write_bytecode:
            return
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass


def template_cache(configured_by: Path) -> TemplateCache | None:
    """The cache for an environment configured by module `configured_by`; None when that file cannot be read."""
    try:
        digest = hashlib.sha256(configured_by.read_bytes())
    except OSError:
        return None
    digest.update(f"\0{jinja2.__version__}\0{sys.implementation.cache_tag}".encode())
    return TemplateCache(str(user_cache_dir() / f"templates-{digest.hexdigest()[:16]}"), "%s.jinja")
