"""Open a backend from its URL: a folder, `postgresql://…` or `s3://bucket/prefix`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Backend, BackendError

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BACKEND_ENV", "backend_for", "backend_ref", "backend_url", "open_backend", "opened", "redact", "reopen"]

BACKEND_ENV = "MLFORM_BACKEND"
_OPENED: dict[str, Backend] = {}  # one backend per URL per process: connections are reused, not reopened
os.register_at_fork(after_in_child=_OPENED.clear)  # a forked worker must not share its parent's connections


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


def opened(url: str) -> Backend:
    """The backend `url` names, opened once per process."""
    if url not in _OPENED:
        _OPENED[url] = open_backend(url)
    return _OPENED[url]


def backend_url(spec: ResolvedSpec) -> str:
    """The URL of a spec's backend: `$MLFORM_BACKEND`, else its `state.backend`, else the local state folder.

    A `postgres` URL comes from the secret the setting names; it is never written anywhere.
    """
    from mlform.runtime.secretref import read_secret
    from mlform.runtime.storage.statedir import state_dir_for
    from mlform.specs.errors import MlformError

    url = os.environ.get(BACKEND_ENV)
    if url:
        return url
    setting = spec.pipeline.state.backend
    if setting.kind == "postgres":
        try:
            return read_secret(spec.pipeline, setting.url.secret).value
        except MlformError as exc:
            raise BackendError(f"`state.backend.url`: {exc}") from None
    if setting.kind == "s3":
        return f"s3://{setting.bucket}/{setting.prefix}".rstrip("/")
    return str((spec.root / setting.path).resolve() if setting.path else state_dir_for(spec.root))


def backend_for(spec: ResolvedSpec) -> Backend:
    """The backend of one spec and environment (see `backend_url`), opened once per process."""
    return opened(backend_url(spec))


def _digest(url: str) -> str:
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def backend_ref(spec: ResolvedSpec) -> dict[str, Any]:
    """How to reopen a spec's backend without loading the spec, holding no secret: the variable its URL is read
    from (else the URL, which then holds none) and the URL's digest; kept in local receipts."""
    url = backend_url(spec)
    setting = spec.pipeline.state.backend
    if os.environ.get(BACKEND_ENV):
        variable: str | None = BACKEND_ENV
    elif setting.kind == "postgres":
        variable = spec.pipeline.secrets[setting.url.secret].env
    else:
        variable = None
    return {"variable": variable, "url": None if variable else url, "sha256": _digest(url)}


def reopen(ref: Mapping[str, Any]) -> Backend | None:
    """The backend `ref` (from `backend_ref`) names, when the URL it would open now is the same; else None."""
    variable = ref["variable"]
    url = os.environ.get(BACKEND_ENV) or (os.environ.get(variable) if variable else ref["url"])
    if not url or _digest(url) != ref["sha256"]:
        return None
    return opened(url)
