"""An applied and monitored copy of the iris example with script payloads in it, and an in-process ASGI client."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# each would run if it reached a page unescaped
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
MLFORM = Path(sys.executable).parent / "mlform"


def mlform(*args: object, cwd: Path) -> str:
    """Run the `mlform` command in `cwd`; its output (the test fails when it does)."""
    done = subprocess.run([str(MLFORM), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: monitor found a breach
    return done.stdout


def with_payload(project: Path) -> None:
    """Put PAYLOAD into the spec's description and a run's params and metric names (as tuning may log them)."""
    spec = project / "mlform.yaml"
    text = spec.read_text()
    text = text.replace("description: Classifies", f"description: {PAYLOAD!r}\n  # Classifies", 1)
    spec.write_text(text)


def tracked_payload_run(project: Path) -> str:
    """Record a run whose param and metric names and values carry PAYLOAD; its ID."""
    from mlform.runtime.tracking.sqlite import SqliteTracker

    tracker = SqliteTracker(project / ".mlform" / "tracking.db")
    try:
        run_id = "20200101T000000-payload"
        tracker.start_run(run_id, "iris", "dev", str(project / "mlform.yaml"), "0" * 64,
                          {"model": {"params": {PAYLOAD: PAYLOAD}}, "db": {"password": "hunter2-secret-value"}})
        tracker.log_step(run_id, "evaluate", "ran", 0.5, "f" * 64, [PAYLOAD], metrics={PAYLOAD: 0.5, "accuracy": 0.1})
        tracker.finish_run(run_id, "succeeded")
    finally:
        tracker.close()
    return run_id


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding an iris copy with payloads, applied in dev (its monitor step included), with a saved plan."""
    root = tmp_path_factory.mktemp("ui")
    project = root / "iris"
    shutil.copytree(REPO / "examples" / "iris", project, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    with_payload(project)
    mlform("apply", project, "--env", "dev", "-y", cwd=root)
    mlform("plan", project, "--env", "dev", "--out", root / "dev.plan", cwd=root)
    tracked_payload_run(project)
    return root


@dataclass
class Answer:
    """One response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode()


class Client:
    """Calls an ASGI app in-process, as uvicorn would, with the raw path exactly as given."""

    def __init__(self, app: object) -> None:
        self.app = app

    def request(self, method: str, target: str) -> Answer:
        """Send one request; the whole response."""
        from urllib.parse import unquote

        raw, _, query = target.partition("?")
        scope = {"type": "http", "method": method, "path": unquote(raw), "raw_path": raw.encode(),
                 "query_string": query.encode(), "headers": []}
        answer = Answer(0)

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                answer.status = int(message["status"])  # type: ignore[call-overload]
                answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}  # type: ignore[attr-defined]
            else:
                answer.body += message.get("body", b"")  # type: ignore[operator]

        asyncio.run(self.app(scope, receive, send))  # type: ignore[operator]
        return answer

    def get(self, target: str) -> Answer:
        """GET `target`."""
        return self.request("GET", target)


@pytest.fixture(scope="module")
def client(applied: Path) -> Client:
    """The UI over `applied`."""
    from mlform.compiler.ui.app import create_app

    return Client(create_app(applied))
