"""`plan` and `apply` need the training data; `validate` only warns, since data may be produced later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult


def test_a_missing_training_file_is_a_plan_error_and_a_validate_warning(
        iris_project: Path, run_mlform: Callable[..., CliResult]) -> None:
    root = iris_project.parent
    for path in (root / "data").iterdir():
        path.unlink()
    text = iris_project.read_text().splitlines()
    line = next(i for i, row in enumerate(text, 1) if "path: data/iris.csv" in row)
    col = text[line - 1].index("data/iris.csv") + 1

    validated = run_mlform("validate", "mlform.yaml", "--env", "dev", cwd=root)
    planned = run_mlform("plan", "mlform.yaml", "--env", "dev", cwd=root)
    applied = run_mlform("apply", "mlform.yaml", "--env", "dev", "--yes", cwd=root)

    where = f"mlform.yaml:{line}:{col}"
    assert validated.code == 0
    assert f"{where}: warning: data.sources.train.path: file `data/iris.csv` does not exist (yet)" in validated.err
    for result in (planned, applied):
        assert result.code == 1
        assert (f"{where}: error: data.sources.train.path: file `data/iris.csv` does not exist; "
                "the model trains on it") in result.err.splitlines()
    assert not (root / ".mlform").exists()
