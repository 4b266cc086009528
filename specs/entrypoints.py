"""Installed entry points, read once per process: the target and target-settings groups and the plan's toolchain
all select from one scan of the installed distributions."""

from __future__ import annotations

from functools import cache
from importlib import metadata

__all__ = ["entry_points"]


@cache
def _installed() -> metadata.EntryPoints:
    found = metadata.entry_points()  # Python 3.11: every group in a mapping, group -> its entry points
    return found if isinstance(found, metadata.EntryPoints) else metadata.EntryPoints(
        entry for group in found.groups for entry in found.select(group=group))


def entry_points(group: str) -> metadata.EntryPoints:
    """The installed entry points of `group`."""
    return _installed().select(group=group)
