"""`mlform ui` as a user starts it: a real process listening where `--host` and `--port` say, and nowhere else."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MLFORM, REPO
from tools.server import free_port, get


def test_host_and_port_choose_where_the_ui_listens(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "iris", root / "iris", ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    port = free_port()
    proc = subprocess.Popen([str(MLFORM), "ui", str(root), "--host", "127.0.0.2", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the UI did not start"
            try:
                status, body = get(port, "/api/pipelines", host="127.0.0.2")
                break
            except OSError:
                time.sleep(0.2)
        pipelines = body["pipelines"]
        assert status == 200 and isinstance(pipelines, list)
        assert [p["name"] for p in pipelines] == ["iris"]
        with pytest.raises(ConnectionRefusedError):  # the default address is not listened on
            get(port, "/api", host="127.0.0.1")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"mlform ui: 1 spec(s) under {root} on http://127.0.0.2:{port}\n" in err
