"""The error of a request a server refuses, light enough for the web UI to share: no pandas, no numpy."""

from __future__ import annotations

from typing import Any

from mlform.specs.errors import StepPartError

__all__ = ["HttpError"]


class HttpError(StepPartError):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or {}
