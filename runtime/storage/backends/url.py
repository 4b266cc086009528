"""Open a backend from its URL: a folder, `postgresql://…` or `s3://bucket/prefix`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Backend, BackendError

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BACKEND_ENV", "backend_at", "backend_for", "open_backend", "redact"]

BACKEND_ENV = "MLFORM_BACKEND"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, host = rest.partition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user + ':***' if ':' in userinfo else user}@{host}"


def open_backend(url: str) -> Backend:
    """The backend `url` names; BackendError naming the scheme when it is unknown."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme == "file":
        from .local import LocalBackend

        return LocalBackend(Path(url.removeprefix("file://")))
    raise BackendError(f"unknown backend `{scheme}://` in {redact(url)}: expected a folder, postgresql://… or "
                       "s3://bucket/prefix")


def backend_at(state_dir: Path) -> Backend:
    """The backend of the state folder `state_dir`: `$MLFORM_BACKEND` when set, else that folder."""
    url = os.environ.get(BACKEND_ENV)
    if url:
        return open_backend(url)
    from .local import LocalBackend

    return LocalBackend(state_dir)


def backend_for(spec: ResolvedSpec) -> Backend:
    """The backend of one spec and environment: `$MLFORM_BACKEND` when set, else the local state folder."""
    from mlform.runtime.storage.statedir import state_dir_for

    return backend_at(state_dir_for(spec.root))
