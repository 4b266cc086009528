"""Each backend kind the contract tests run against, by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tools import postgres_server, s3_server

from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.url import open_backend

KINDS = ["local", pytest.param("postgres", marks=pytest.mark.integration),
         pytest.param("s3", marks=pytest.mark.integration)]


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_cluster: postgres_server.Cluster) -> str:
    """The URL of a new, empty database on the session's PostgreSQL cluster (dropped afterwards)."""
    database = postgres_cluster.new_database()
    request.addfinalizer(lambda: postgres_cluster.drop_database(database))
    return postgres_cluster.url(database)


@pytest.fixture
def s3_url(s3_endpoint: s3_server.Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://bucket/prefix` in a new bucket of the session's S3 endpoint, which the AWS variables point at."""
    for name, value in s3_endpoint.environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_endpoint.new_bucket()}/team/state"


@pytest.fixture(params=KINDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty backend of each kind: a folder, a new database, or a prefix in a new bucket."""
    if request.param == "local":
        return str(tmp_path / "state")
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def backend(backend_url: str) -> Iterator[Backend]:
    """The backend `backend_url` names, closed afterwards."""
    opened = open_backend(backend_url)
    yield opened
    opened.close()
