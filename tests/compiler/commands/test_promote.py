"""`mlform promote`, run for real: a round-trip edit of the spec that changes exactly the lines it must."""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import heavy_imports

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MLFORM = str(Path(sys.executable).with_name("mlform"))
NEXT = ("next: run `mlform compile {spec} --env prod` and commit {spec} with the files it regenerates, then open a "
        "pull request; `mlform plan {spec} --env prod` shows the promotion with its evidence, and `mlform apply` "
        "performs it\n")


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFORM_HOME", "MLFORM_POLICY")}
    return subprocess.run([MLFORM, "promote", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _copy(tmp_path: Path, name: str) -> Path:
    """A private copy of an example; returns its spec file."""
    shutil.copytree(EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    return tmp_path / name / "mlform.yaml"


def _changes(before: str, after: str) -> list[str]:
    """The lines that differ, as `-line` and `+line`."""
    return [line[0] + line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[0] in "+-"]


@pytest.mark.parametrize("example", ["iris", "fraud-detection"])
def test_promote_inserts_then_replaces_then_rolls_back(tmp_path: Path, example: str) -> None:
    spec = _copy(tmp_path, example)
    shown = f"{example}/mlform.yaml"
    original = spec.read_text()
    end = len(original.splitlines())  # the prod overlay is the last one in both examples

    result = _run(tmp_path, example, "--env", "prod", "--version", "7")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (f"{shown}:{end + 2}:19: environments.prod.registry.production: unset -> 7\n"
                             + NEXT.format(spec=shown))
    first = spec.read_text()
    assert _changes(original, first) == ["+    registry:", "+      production: 7"]

    result = _run(tmp_path, example, "--env", "prod", "--version", "8")
    assert result.stdout.splitlines()[0] == f"{shown}:{end + 2}:19: environments.prod.registry.production: 7 -> 8"
    second = spec.read_text()
    assert _changes(first, second) == ["-      production: 7", "+      production: 8"]

    result = _run(tmp_path, example, "--env", "prod", "--version", "7")
    assert result.stdout.splitlines()[0] == (f"{shown}:{end + 2}:19: environments.prod.registry.production: "
                                             "8 -> 7 (rollback)")
    assert spec.read_text() == first


def test_promote_without_env_pins_the_base_spec_and_names_environments_that_pin_their_own(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    spec.write_text(spec.read_text() + "    registry:\n      path: prod-registry\n      production: 4\n")
    before = spec.read_text()
    result = _run(tmp_path, "iris", "--version", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "iris/mlform.yaml:63:15: registry.production: unset -> 3"
    assert result.stderr == "note: environment `prod` pins its own version (4); this does not change it\n"
    assert _changes(before, spec.read_text()) == ["+  production: 3"]


def test_promote_is_idempotent(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    assert _run(tmp_path, "iris", "--env", "prod", "--version", "2").returncode == 0
    before = spec.stat()
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "2")
    line = len(spec.read_text().splitlines())
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (f"iris/mlform.yaml:{line}:19: environments.prod.registry.production is already 2; "
                             "nothing to change\n")
    assert spec.stat().st_mtime_ns == before.st_mtime_ns


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    original = spec.read_bytes().replace(b"\n", b"\r\n")
    spec.write_bytes(original)
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "5")
    assert result.returncode == 0, result.stderr
    assert spec.read_bytes() == original + b"    registry:\r\n      production: 5\r\n"


def test_flow_style_overlay(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    text = spec.read_text()
    base = text[:text.index("environments:")]
    spec.write_text(base + "environments:\n  dev: {model: {params: {n_estimators: 20}}}  # quick\n"
                           "  prod: {serving: {replicas: 2}}  # two replicas\n")
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "3")
    assert result.returncode == 0, result.stderr
    line = len(base.splitlines()) + 3
    assert result.stdout.splitlines()[0] == (f"iris/mlform.yaml:{line}:33: environments.prod.registry.production: "
                                             "unset -> 3")
    assert spec.read_text().endswith(
        "  prod: {registry: {production: 3}, serving: {replicas: 2}}  # two replicas\n")


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    before = spec.read_bytes()
    end = len(before.splitlines())
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "7", "--dry-run")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "--- a/iris/mlform.yaml\n+++ b/iris/mlform.yaml\n"
        f"@@ -{end - 2},3 +{end - 2},5 @@\n"
        "     targets:\n       kubernetes:\n         namespace: ml-prod\n+    registry:\n+      production: 7\n"
        f"iris/mlform.yaml:{end + 2}:19: environments.prod.registry.production: unset -> 7 "
        "(dry run: nothing written)\n")
    assert spec.read_bytes() == before


def test_notes_a_version_missing_from_the_local_registry(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    version = spec.parent / ".mlform" / "registry" / "iris-classifier" / "versions" / "1"
    version.mkdir(parents=True)
    (version / "meta.json").write_text(json.dumps({"sha256": "0" * 64}))
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "5")
    assert result.returncode == 0
    assert result.stderr == (
        "note: model `iris-classifier` has no version 5 (versions: 1..1) in the local registry "
        f"{spec.parent.resolve() / '.mlform' / 'registry'}; `mlform plan` and `mlform apply` check it for real\n")
    assert "      production: 5" in spec.read_text()


ALIASED = ("  dev: &dev\n    model:\n      params:\n        n_estimators: 20\n", "  qa: *dev\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "prd", "--version", "2"],
         "iris/mlform.yaml:98:1: error: environments: environment `prd` is not declared "
         "(declared: `dev`, `prod`, `qa`); did you mean `prod`?\n"),
        (["--env", "staging", "--version", "2"],
         "iris/mlform.yaml:98:1: error: environments: environment `staging` is not declared "
         "(declared: `dev`, `prod`, `qa`)\n"),
        (["--env", "prod", "--version", "0"],
         "Usage: mlform promote [OPTIONS] SPEC\nTry 'mlform promote --help' for help.\n\n"
         "Error: Invalid value for '--version': versions start at 1; got 0\n"),
        (["--env", "dev", "--version", "2"],
         "iris/mlform.yaml:99:8: error: environments.dev: `environments.dev` has an anchor (`&dev`) that aliases "
         "may share; remove the anchor to edit it\n"),
        (["--env", "qa", "--version", "2"],
         "iris/mlform.yaml:112:7: error: environments.qa: `environments.qa` is an alias (`*dev`); "
         "write the value out to edit it\n"),
    ],
)
def test_refusals_leave_the_file_untouched(tmp_path: Path, args: list[str], message: str) -> None:
    spec = _copy(tmp_path, "iris")
    text = spec.read_text()
    start = text.index("  dev:\n")
    text = text[:start] + ALIASED[0] + text[text.index("  prod:\n"):] + ALIASED[1]
    spec.write_text(text)
    result = _run(tmp_path, "iris", *args)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", message)
    assert spec.read_text() == text


def test_an_edit_that_would_not_validate_is_refused(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    text = spec.read_text().replace("      replicas: 2\n", "      replicas: -2\n")
    spec.write_text(text)
    result = _run(tmp_path, "iris", "--env", "prod", "--version", "2")
    assert (result.returncode, result.stdout) == (1, "")
    first, *diagnostics = result.stderr.splitlines()
    assert first == ("error: not promoted: iris/mlform.yaml would not validate with "
                     "`environments.prod.registry.production: 2`; nothing was written")
    assert diagnostics and all(d.startswith("iris/mlform.yaml:105:17: error: environments.prod.serving.replicas: ")
                               for d in diagnostics)
    assert spec.read_text() == text


def test_help_names_the_pin(tmp_path: Path) -> None:
    assert "registry.production" in heavy_imports(tmp_path, ["promote", "--help"])[0]


def test_following_the_next_step_keeps_the_pull_requests_compile_check_green(tmp_path: Path) -> None:
    spec = _copy(tmp_path, "iris")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFORM_HOME", "MLFORM_POLICY")}

    def mlform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MLFORM, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    assert mlform("compile", "iris", "--env", "prod").returncode == 0  # the generated files, as committed
    promoted = _run(tmp_path, "iris", "--env", "prod", "--version", "3")
    assert promoted.returncode == 0, promoted.stderr
    assert mlform("compile", "iris", "--env", "prod", "--check").returncode == 1  # their headers name the old digest
    hinted = re.findall(r"run `mlform ([^`]+)`", promoted.stdout)
    assert hinted == [f"compile {spec.relative_to(tmp_path)} --env prod"], promoted.stdout
    assert mlform(*hinted[0].split()).returncode == 0
    check = mlform("compile", "iris", "--env", "prod", "--check")
    assert check.returncode == 0, check.stdout + check.stderr  # as the pull request's workflow runs it
