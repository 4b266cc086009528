"""Each backend kind the contract tests run against, by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.url import open_backend


@pytest.fixture(params=["local"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty backend of each kind."""
    return str(tmp_path / "state")


@pytest.fixture
def backend(backend_url: str) -> Iterator[Backend]:
    """The backend `backend_url` names, closed afterwards."""
    opened = open_backend(backend_url)
    yield opened
    opened.close()
