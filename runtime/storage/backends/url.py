"""Open a backend from its URL: a folder, `postgresql://…` or `s3://bucket/prefix`."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from .base import Backend, BackendError

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BACKEND_ENV", "backend_at", "backend_for", "backend_ref", "backend_url", "open_backend", "opened",
           "redact", "reopen"]

BACKEND_ENV = "MLFORM_BACKEND"
_OPENED: dict[str, Backend] = {}  # one backend per URL per process: connections are reused, not reopened
os.register_at_fork(after_in_child=_OPENED.clear)  # a forked worker must not share its parent's connections


_POSTGRES = ("postgresql", "postgres")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_USERINFO = re.compile(r"(://[^:/@?#\s]*):[^@\s]*@")
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&#\s]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without passwords (in a user part, also of a URL nested in a parameter, or `password=`)."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _USERINFO.sub(r"\1:***@", url))


def _scheme(url: str) -> str:
    """The URL's scheme in lower case; `""` for a plain folder path."""
    named = _SCHEME.match(url)
    return named.group(1).lower() if named else ""


def _split_artifacts(url: str) -> tuple[str, str | None]:
    """`url` without its `artifacts=` query parameter, and that parameter's value (where files go)."""
    base, question, query = url.partition("?")
    if not question:
        return url, None
    pairs = parse_qsl(query, keep_blank_values=True)
    found = [value for name, value in pairs if name == "artifacts"]
    rest = urlencode([(name, value) for name, value in pairs if name != "artifacts"])
    return base + (f"?{rest}" if rest else ""), (found[-1] if found else None)


def _artifact_store(location: str | None, owner: str) -> Backend | None:
    """The backend holding the files of a remote backend: a folder or `s3://bucket/prefix`; None: the backend's own."""
    if location is None:
        return None
    if _scheme(location) not in ("", "file", "s3"):
        raise BackendError(f"`artifacts={redact(location)}` in {redact(owner)}: expected a folder or "
                           "s3://bucket/prefix")
    return open_backend(location)


def open_backend(url: str) -> Backend:
    """The backend `url` names; BackendError naming the scheme when it is unknown."""
    scheme = _scheme(url)
    if scheme in ("", "file"):
        from .local import LocalBackend

        return LocalBackend(Path(url.removeprefix("file://")))
    if scheme in (*_POSTGRES, "s3"):
        target, location = _split_artifacts(url)
        artifacts = _artifact_store(location, url)
        try:
            if scheme == "s3":
                from .s3 import S3Backend

                return S3Backend(target, artifacts=artifacts)
            from .postgres import PostgresBackend

            return PostgresBackend(target, shown=redact(target), artifacts=artifacts)
        except ImportError as exc:
            kind, client = ("s3", "boto3") if scheme == "s3" else ("postgres", "psycopg")
            if (exc.name or "").partition(".")[0] not in (client, "botocore"):
                raise
            raise BackendError(f"the {kind} backend needs the `{client}` package: install `mlform[{kind}]`") \
                from None
    raise BackendError(f"unknown backend `{scheme}://` in {redact(url)}: expected a folder, postgresql://… or "
                       "s3://bucket/prefix")


def opened(url: str) -> Backend:
    """The backend `url` names, opened once per process."""
    if url not in _OPENED:
        _OPENED[url] = open_backend(url)
    return _OPENED[url]


def backend_at(state_dir: Path) -> Backend:
    """The backend of a command run without a spec: `$MLFORM_BACKEND` when set, else the state folder `state_dir`."""
    return opened(os.environ.get(BACKEND_ENV) or str(state_dir))


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
            secret = read_secret(spec.pipeline, setting.url.secret)
        except MlformError as exc:
            raise BackendError(f"`state.backend.url`: {exc}") from None
        scheme = _scheme(secret.value)
        if scheme not in _POSTGRES:  # never a folder or another kind: the value may hold a password
            got = f"a `{scheme}://` URL" if scheme else "no URL"
            raise BackendError(f"`state.backend.url`: secret `{secret.name}` (environment variable "
                               f"`{secret.variable}`) holds {got}; `kind: postgres` needs postgresql://USER@HOST:PORT/DB")
        return secret.value
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
