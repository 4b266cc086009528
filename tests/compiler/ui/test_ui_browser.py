"""`mlform ui` in headless Chromium: both examples applied and monitored, every page visited, two runs compared."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MLFORM, REPO, mlform, with_payload
from tools import browser
from tools.server import free_port

pytestmark = pytest.mark.integration


def _wait(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the UI did not start"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)


def test_every_page_renders_in_chromium_without_errors_or_executed_payloads(tmp_path: Path) -> None:
    reason = browser.unavailable()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "project"
    for name in ("iris", "fraud-detection"):
        shutil.copytree(REPO / "examples" / name, root / name, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    with_payload(root / "iris")
    for name in ("iris", "fraud-detection"):
        mlform("apply", root / name, "--env", "dev", "-y", cwd=root)
        mlform("monitor", root / name, "--env", "dev", cwd=root)
    port = free_port()
    proc = subprocess.Popen([str(MLFORM), "ui", str(root), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait(port, proc)
        seen = browser.tour(f"http://127.0.0.1:{port}", tmp_path / "shots")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert seen.pop("filter") == {"before": 4, "after": 0, "errors": []}  # the filter box asked the JSON twin
    pages = {k: v for k, v in seen.items() if isinstance(v, dict)}
    assert set(pages) == {"/", "/runs", "/models", "/plans", "/monitoring", "/audit", "report", "card", "compare"}
    for name, page in pages.items():
        assert page["errors"] == [], (name, page["errors"])
        assert page["pwned"] is False, name
        assert page["variance"] > 100, (name, page["variance"])  # a blank page has a variance near 0
    assert seen["compare_enabled_before"] is False
    assert "/compare?run=" in pages["compare"]["url"]
    assert pages["compare"]["differs"] > 0 and pages["compare"]["charts"] > 0
