"""The routes a server answers and the error of a request it refuses, light enough to share: no pandas, no numpy."""

from __future__ import annotations

from typing import Any

from mlform.specs.errors import StepPartError

__all__ = ["ROUTES", "HttpError"]

ROUTES = {"/predict": "POST", "/health": "GET", "/ready": "GET", "/metrics": "GET", "/openapi.json": "GET"}


class HttpError(StepPartError):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or {}
