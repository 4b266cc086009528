"""A real `mlform serve` process on a free loopback port, for tests that talk to it over HTTP."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MLFORM", "free_port", "get", "serving"]

MLFORM = str(Path(sys.executable).parent / "mlform")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, body: dict[str, object] | None = None, *,
        host: str = "127.0.0.1") -> tuple[int, dict[str, object]]:
    """GET `path`, or POST `body` as JSON to it; the status and the decoded JSON answer."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@contextmanager
def serving(args: list[str], *, cwd: Path | None = None, logs: list[str] | None = None,
            host: str = "127.0.0.1", port: int | None = None) -> Iterator[int]:
    """`mlform serve ARGS` until `/ready` answers 200 on `host` (the address ARGS make it listen on): its port (a
    free one given as `--port`, or `port`, which ARGS choose without it); on exit, a graceful shutdown is asserted
    (and the server's output lines appended to `logs` when given)."""
    flag = [] if port is not None else ["--port", str(port := free_port())]
    proc = subprocess.Popen([MLFORM, "serve", *args, *flag], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "server did not become ready"
            try:
                if get(port, "/ready", host=host)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        if logs is not None:
            logs.extend([*out.splitlines(), *err.splitlines()])
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how the process ended
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err or "Stopping parent process" in err
    # mlform's own start-up line, on stderr (uvicorn's "Uvicorn running on ..." line is there too)
    assert re.search(rf"^serving `[^`]+` version \d+ on http://{re.escape(host)}:{port} with \d+ workers?$", err,
                     flags=re.MULTILINE), err
