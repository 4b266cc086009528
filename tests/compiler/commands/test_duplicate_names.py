"""Two specs naming their pipeline alike are refused: validate, compile and plan say where, nothing is overwritten."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Run = Callable[..., CliResult]


@pytest.fixture
def twins(tmp_path: Path, iris_project: Path) -> Path:
    """A project root holding `a/` and `b/`, two copies of the iris project, both named `iris`."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    for folder in ("a", "b"):
        shutil.copytree(iris_project.parent, root / folder)
    return root


def _name_mark(spec: Path) -> str:
    """`line:col` of the value of `metadata.name` in `spec`."""
    lines = spec.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("  name: "))
    return f"{line}:{len('  name: ') + 1}"


def _clash(root: Path) -> str:
    mark = _name_mark(root / "a" / "mlform.yaml")
    return (f"b/mlform.yaml:{mark}: error: metadata.name: pipeline `iris` is already named by a/mlform.yaml:{mark}; "
            "each writes its generated files under its name, so give each spec its own `metadata.name`")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".mlform" not in p.parts}


@pytest.mark.parametrize("command", [["validate", "."], ["compile", "."], ["plan", ".", "--env", "dev"]])
def test_a_second_spec_with_the_same_name_is_an_error_pointing_at_the_first(twins: Path, run_mlform: Run,
                                                                             command: list[str]) -> None:
    before = _files(twins)

    result = run_mlform(*command, cwd=twins)

    assert result.code == 1
    assert _clash(twins) in result.err.splitlines()
    assert "Traceback" not in result.err
    assert _files(twins) == before


def test_validate_reports_the_clash_once_and_still_passes_a_renamed_twin(twins: Path, run_mlform: Run) -> None:
    spec = twins / "b" / "mlform.yaml"
    spec.write_text(spec.read_text().replace("  name: iris\n", "  name: iris-b\n", 1))

    result = run_mlform("validate", ".", cwd=twins)

    assert result.code == 0, result.err
    assert "ok: a/mlform.yaml" in result.out and "ok: b/mlform.yaml" in result.out


@pytest.mark.parametrize("command", [["compile", "b"], ["plan", "b", "--env", "dev"],
                                     ["apply", "b", "--env", "dev", "--yes"]])
def test_a_file_generated_from_another_spec_is_never_overwritten(twins: Path, run_mlform: Run,
                                                                  command: list[str]) -> None:
    assert run_mlform("compile", "a", cwd=twins).code == 0
    before = _files(twins)

    result = run_mlform(*command, cwd=twins)

    assert result.code == 1
    assert result.err.startswith("error: refusing to overwrite `.github/workflows/mlform-iris-dev-apply.yml` and ")
    assert ("generated from `a/mlform.yaml`, not `b/mlform.yaml`; both specs name their pipeline alike, so give "
            "one another `metadata.name` (or, if `a/mlform.yaml` no longer generates these files, delete them)") \
        in result.err
    assert _files(twins) == before
    assert not (twins / "b" / ".mlform").exists()


def test_files_of_a_spec_that_moved_away_are_taken_over(twins: Path, run_mlform: Run) -> None:
    assert run_mlform("compile", "a", cwd=twins).code == 0
    shutil.rmtree(twins / "a")

    result = run_mlform("compile", "b", cwd=twins)

    assert result.code == 0, result.err
    dockerfile = twins / "deploy" / "iris" / "dev" / "docker" / "Dockerfile.train"
    assert '# spec: "b/mlform.yaml"' in dockerfile.read_text()


def test_a_spec_with_other_errors_still_claims_its_name(twins: Path, run_mlform: Run) -> None:
    spec = twins / "b" / "mlform.yaml"
    spec.write_text(spec.read_text().replace("sklearn.", "sklearnx.", 1))

    result = run_mlform("validate", ".", cwd=twins)

    assert result.code == 1
    assert _clash(twins) in result.err.splitlines()
    assert "b/mlform.yaml" in result.err.replace(_clash(twins), "")  # the estimator error too
