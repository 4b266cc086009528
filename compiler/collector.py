"""Pausing the cyclic garbage collector around work that makes many objects and little garbage."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]


@contextmanager
def collection_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (or decorated call), then restore it as it was; with
    `freeze`, first move every object alive then out of its sight."""
    # Importing modules, building pydantic models and rendering a compile's files allocate many objects and free
    # few: the collections they trigger find nothing to free (~3% of `mlform validate`; collecting a compile's ever
    # larger heap took a fifth of its CPU time, 1,000 specs: about 2 of 10 seconds). So would the first collection
    # after the block, unless what was built is frozen: only in a process of mlform's own, where it stays to the
    # end anyway.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
