"""Each backend kind the contract tests run against, by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.url import open_backend

KINDS = ["local", pytest.param("postgres", marks=pytest.mark.integration),
         pytest.param("s3", marks=pytest.mark.integration)]


@pytest.fixture(params=KINDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty backend of each kind: a folder, a new database, or a prefix in a new bucket."""
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        database = cluster.new_database()
        request.addfinalizer(lambda: cluster.drop_database(database))
        return str(cluster.url(database))
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        for name, value in endpoint.environment(tmp_path).items():
            monkeypatch.setenv(name, value)
        return f"s3://{endpoint.new_bucket()}/team/state"
    return str(tmp_path / "state")


@pytest.fixture
def backend(backend_url: str) -> Iterator[Backend]:
    """The backend `backend_url` names, closed afterwards."""
    opened = open_backend(backend_url)
    yield opened
    opened.close()
