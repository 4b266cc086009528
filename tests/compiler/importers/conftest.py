"""The importer's tests see bytecode written as on a machine without `PYTHONDONTWRITEBYTECODE`."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def writes_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let imports write `__pycache__`, so "nothing is written" also covers the recipe's imported step modules."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
