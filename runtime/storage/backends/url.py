"""Open a backend from its URL: a folder, `postgresql://…` or `s3://bucket/prefix`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from .base import Backend, BackendError

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BACKEND_ENV", "backend_at", "backend_for", "open_backend", "redact"]

BACKEND_ENV = "MLFORM_BACKEND"


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
    if scheme in ("postgresql", "postgres", "s3"):
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
