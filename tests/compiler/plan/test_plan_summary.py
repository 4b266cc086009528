"""Plan text: the summary counts the actions the rows show, and a header-only file change takes one line."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from test_plan_apply import compiled_files, first_plan_summary, mlform


@pytest.fixture
def project(iris_project: Path) -> Path:
    """The iris example as its own project root (a git repo)."""
    root = iris_project.parent
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _plan(project: Path, fmt: str) -> str:
    result = mlform(project, "plan", ".", "--env", "dev", "--format", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_new_alias_is_counted_as_an_add_in_text_and_json(project: Path) -> None:
    plan = json.loads(_plan(project, "json"))["plans"][0]
    aliases = [(c["address"], c["action"]) for c in plan["changes"] if c["kind"] == "alias"]
    assert aliases == [("iris-classifier@staging", "create")]
    counts = Counter(c["action"] for c in plan["changes"])
    expected = (f"Plan: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy; "
                f"{counts['run']} steps to run.")
    assert plan["summary"] == expected == first_plan_summary(project)
    text = _plan(project, "text").splitlines()
    assert text[-1] == expected
    assert sum(line.startswith("  + ") for line in text) == counts["create"]


def test_a_param_change_shows_header_only_files_on_one_line_each(project: Path) -> None:
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    files = compiled_files(project)  # every one carries the spec's digest in its header, so every one changes
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 30"))
    plan = json.loads(_plan(project, "json"))["plans"][0]
    updates = [c for c in plan["changes"] if c["kind"] == "artifact" and c["action"] == "update"]
    header_only = [c for c in updates if c["header_only"]]
    assert len(updates) == files and len(header_only) == files - 1
    assert all(c["diff"].startswith("--- a/") for c in updates)  # JSON keeps every diff
    assert {c["reason"] for c in header_only} == {"differs only in the provenance header (`spec-digest`)"}
    detailed = [c["address"] for c in updates if not c["header_only"]]
    assert detailed == ["deploy/iris/dev/kubernetes/configmap.yaml"]  # it embeds the params
    text = _plan(project, "text").splitlines()
    rows = {re.split(r"\s+", line.strip())[1]: i for i, line in enumerate(text) if line.startswith("  ~ ")}
    for change in header_only:
        row = rows[change["address"]]
        assert not text[row + 1].startswith("      "), text[row:row + 3]
    assert "n_estimators: 30" in "\n".join(text)  # the real change keeps its diff
    assert len(text) < 60
