"""Open a backend from its URL: a folder, `postgresql://…` or `s3://bucket/prefix`."""

from __future__ import annotations

from pathlib import Path

from .base import Backend, BackendError

__all__ = ["open_backend", "redact"]


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
