"""A real `mlflow server` for the tests, its tracking store and model registry in a PostgreSQL database.

The server is MLflow from the `test` extra, run as its own process on a free port, with artifacts proxied
to a folder (`--artifacts-destination`); SQLAlchemy reaches PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .postgres_server import Cluster, free_port

__all__ = ["Server", "start"]

_START_TIMEOUT = 120.0  # the first start migrates the schema


@dataclass
class Server:
    """A running MLflow server; `uri` is its tracking URI."""

    process: subprocess.Popen[bytes]
    uri: str
    log: Path

    def stop(self) -> None:
        """SIGTERM the server's process group (gunicorn or uvicorn workers included)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(cluster: Cluster, folder: Path) -> Server:
    """Create a database for MLflow on `cluster` and start a server on it; wait until `/health` answers."""
    database = cluster.new_database("mlflow")
    store = cluster.url(database).replace("postgresql://", "postgresql+psycopg://", 1)
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "mlflow-server.log"
    argv = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", store,
            "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"mlflow server did not answer within {_START_TIMEOUT:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")
