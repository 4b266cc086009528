"""An S3 API endpoint for the tests: moto's server (from the `test` extra), one per test session, on a free port.

moto is used only as the S3 endpoint in tests: it implements conditional writes as S3 does (`If-None-Match: *`
on an existing key and a stale `If-Match` both give 412), which locks and compare-and-swap rely on. It keeps
everything in memory and accepts any credentials, unless started with `authenticate=True`: then it checks
every request's access key against its (empty) IAM users, so every key is refused.

moto checks a condition and then writes without a lock, so on its threaded server two PUTs with the same
`If-Match` can both pass (a lost update S3 itself never allows). The server here runs moto's own `main` with
each request handled under one lock, which makes every request atomic as S3 makes each write.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .postgres_server import free_port

__all__ = ["CREDENTIALS", "Endpoint", "start"]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mlform-tests", "AWS_SECRET_ACCESS_KEY": "mlform-tests-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}
_START_TIMEOUT = 30.0
# moto's server, with its WSGI application serialised (see the module docstring); argv as `moto_server`'s
_SERIALISED = """
import sys, threading
import moto.server as server

class Serialised(server.DomainDispatcherApplication):
    serial = threading.Lock()  # moto's own `lock` guards only its app cache

    def __call__(self, environ, start_response):
        with self.serial:
            return super().__call__(environ, start_response)

server.DomainDispatcherApplication = Serialised
server.main(sys.argv[1:])
"""


@dataclass
class Endpoint:
    """A running moto server; `environment()` points boto3 at it."""

    process: subprocess.Popen[bytes]
    url: str

    def environment(self, home: Path) -> dict[str, str]:
        """The standard AWS variables that reach this endpoint (no config files of the machine: `home` has none)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url, "AWS_CONFIG_FILE": str(home / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials")}

    @functools.cached_property
    def client(self) -> Any:
        """A boto3 S3 client of this endpoint."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def new_bucket(self) -> str:
        """Create an empty bucket with a unique name; its name."""
        name = f"mlform-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(*, authenticate: bool = False) -> Endpoint:
    """Start `moto_server` on 127.0.0.1 and a free port; wait until it answers."""
    port = free_port()
    env = {**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if authenticate else {})}
    process = subprocess.Popen([sys.executable, "-c", _SERIALISED, "-H", "127.0.0.1", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    endpoint = Endpoint(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{endpoint.url}/moto-api/", timeout=2):
                return endpoint
        except OSError:
            time.sleep(0.1)
    endpoint.stop()
    raise RuntimeError(f"moto_server did not answer on port {port} within {_START_TIMEOUT:.0f} s")
