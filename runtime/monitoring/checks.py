"""One production-readiness check's verdict, shared by the checks, the reports and the breach summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check"]


@dataclass(frozen=True)
class Check:
    """The verdict of one `monitoring` line: its key, whether it is breached, one sentence, and its figures."""

    key: str
    breached: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)
