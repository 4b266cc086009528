"""A real local HTTP server for tests: serves fixed `/metrics` text and records what is POSTed to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Stub:
    """The server's base URL, what GET `/metrics` answers, the POST status, and the bodies POSTed."""

    url: str = ""
    metrics: str = ""
    post_status: int = 200
    posted: list[Any] = field(default_factory=list)


@contextmanager
def http_stub(metrics: str = "", post_status: int = 200) -> Iterator[Stub]:
    """Serve a `Stub` on 127.0.0.1 (a free port) while the block runs."""
    stub = Stub(metrics=metrics, post_status=post_status)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            found = self.path == "/metrics"
            body = stub.metrics.encode() if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length", 0))
            stub.posted.append(json.loads(self.rfile.read(length)))
            self.send_response(stub.post_status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
