"""Two working copies of one project on one shared backend (`MLFORM_BACKEND`): what one applies, the other sees."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.tools.server import get, serving

MODEL = "iris-classifier"
ROW = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}


def test_a_second_copy_reuses_serves_and_lists_what_the_first_applied(
        iris_project: Path, tmp_path: Path, backend_url: str, monkeypatch: pytest.MonkeyPatch,
        run_mlform: Callable[..., CliResult]) -> None:
    first = iris_project.parent
    second = shutil.copytree(first, tmp_path / "clone" / "iris")
    monkeypatch.setenv("MLFORM_BACKEND", backend_url)
    applied = run_mlform("apply", first, "--env", "dev", "--yes", cwd=first)
    assert applied.code == 0, applied.err
    assert "registered `iris-classifier` version 1" in applied.out

    again = run_mlform("apply", second, "--env", "dev", "--yes", cwd=second)
    assert again.code == 0, again.err
    assert "registered" not in again.out and " ran " not in again.out  # nothing trained or registered again
    assert not list((second / ".mlform").glob(f"store/*/*/{'model.pkl'}"))  # a no-op downloads no model either

    runs = [json.loads(run_mlform("runs", "list", copy, "--format", "json").out) for copy in (first, second)]
    assert runs[0] == runs[1] and [r["status"] for r in runs[1]] == ["cached", "ran"]  # the second copy: all cached
    shown = run_mlform("runs", "show", second, runs[0][1]["id"], "--format", "json")
    assert {s["step"]: s["status"] for s in json.loads(shown.out)["steps"]}["train"] == "ran"

    scored = run_mlform("predict", second, "--env", "dev", "--model", f"{MODEL}@staging",
                        "--input", second / "data" / "live.csv", "-o", tmp_path / "scored.csv")
    rows = len((second / "data" / "live.csv").read_text().splitlines()) - 1
    assert (scored.code, scored.out.split(" -> ")[0]) == (0, f"scored {rows} rows with `{MODEL}` version 1")
    with serving([str(second), "--env", "dev", "--workers", "2"], cwd=second) as port:
        status, body = get(port, "/predict", {"records": [ROW]})
        assert (status, body["model"]) == (200, {"name": MODEL, "version": 1})


def test_a_tampered_shared_model_is_refused_by_the_other_copy(
        iris_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run_mlform: Callable[..., CliResult]) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv("MLFORM_BACKEND", str(shared))
    second = shutil.copytree(iris_project.parent, tmp_path / "clone" / "iris")
    assert run_mlform("apply", iris_project.parent, "--env", "dev", "--yes", cwd=iris_project.parent).code == 0
    stored = shared / "registry" / MODEL / "versions" / "1" / "model.pkl"
    stored.write_bytes(stored.read_bytes()[:-10])
    refused = run_mlform("predict", second, "--env", "dev", "--model", f"{MODEL}@1",
                         "--input", second / "data" / "live.csv", "-o", tmp_path / "scored.csv")
    assert refused.code == 1
    assert refused.err.startswith(f"error: model `{MODEL}` version 1: model.pkl has sha256 ")
    assert refused.err.endswith("refusing a tampered or corrupt model\n")
    assert not (tmp_path / "scored.csv").exists()
