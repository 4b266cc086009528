"""Commands refusing what they are given: the exact last line, exit 1, no traceback, and not one byte written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def workspace(iris_project: Path) -> Path:
    """A folder holding `iris/` (one spec), `two/` (two specs), `broken/` (an invalid one), `empty/` (none), two
    files that are no plan and a plan of a later format."""
    root = iris_project.parent.parent
    for name in ("a", "b"):
        shutil.copytree(iris_project.parent, root / "two" / name)
    second = root / "two/b/mlform.yaml"
    second.write_text(second.read_text().replace("\n  name: iris\n", "\n  name: iris-b\n", 1))
    shutil.copytree(iris_project.parent, root / "broken")  # a regression metric on a classifier, and a `state`
    broken = root / "broken/mlform.yaml"
    broken.write_text(broken.read_text().replace("metrics: [accuracy, f1_macro]", "metrics: [accuracy, f1_macro, rmse]")
                      + "state:\n  backend: {kind: local}\n")
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a plan\n")
    (root / "other.json").write_text('{"plans": []}\n')
    (root / "later.plan").write_text('{"format_version": 9, "inputs": {}, "plans": []}\n')  # a later mlform's
    return root


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


NOT_A_PLAN = ("a saved plan is what `mlform plan --out FILE` writes. `mlform apply` also takes a spec file or a folder "
              "of `mlform.yaml` files, which it plans and applies after confirmation")


@pytest.mark.parametrize(("args", "message"), [
    (["state", "show", "iris", "--env", "dev"],
     "error: no state for iris/mlform.yaml (dev) yet; `mlform apply` creates it"),
    (["runs", "show", "iris", "20260101"],
     "error: no runs tracked yet ({root}/iris/.mlform/tracking.db does not exist)"),
    (["runs", "show", "iris", "20260101", "extra"], "Error: expected [SPEC] ID"),
    (["runs", "show", "nowhere", "20260101"], "Error: neither `nowhere` nor `20260101` is a spec file or folder"),
    (["run", "empty"], "Error: no `mlform.yaml` in empty"),
    (["promote", "two", "--version", "2"],
     "Error: promote edits one spec file; two holds 2: two/a/mlform.yaml, two/b/mlform.yaml"),
    (["reproduce", "two", "iris-classifier@1"], "Error: reproduce needs one spec file; two holds 2"),
    (["apply", "notes.txt"], f"error: `notes.txt` is not a saved plan; {NOT_A_PLAN}"),
    (["apply", "other.json"], f"error: `other.json` is not a saved plan: it has no `format_version`; {NOT_A_PLAN}"),
    (["readiness", "broken"], "{rmse}"),
    (["runs", "list", "broken"], "{rmse}"),  # its `state` section names the backend: the spec must validate
    (["apply", "later.plan"], "error: `later.plan` has `format_version` 9; this mlform applies 1"),
    (["reproduce", "iris", "iris-classifier@1", "extra"], "Error: expected [SPEC] MODEL@VERSION; got 3 arguments"),
    (["reproduce", "nowhere", "iris-classifier@1"], "Error: Invalid value for 'SPEC': `nowhere` does not exist"),
    (["build", "iris", "--tag", "Bad Tag"], "Error: Invalid value for --tag: `Bad Tag` is not a valid image reference"),
    (["build", "iris", "--env", "dev", "--tag", "iris:1"],  # dev's training and serving images
     "Error: --tag needs exactly one image to build, not 2: give --env and --kind train or serve"),
], ids=lambda v: "-".join(v[:2]) if isinstance(v, list) else None)
def test_a_refused_command_names_why_and_writes_nothing(workspace: Path, run_mlform, args: list[str],
                                                        message: str) -> None:
    before = _tree(workspace)

    result = run_mlform(*args, cwd=workspace)

    assert (result.code, result.err.splitlines()[-1]) == (1, message.format(root=workspace.resolve(),
                                                                            rmse=_rmse_error(workspace)))
    assert "Traceback" not in result.out + result.err
    assert _tree(workspace) == before


def _rmse_error(root: Path) -> str:
    """The diagnostic of `broken/mlform.yaml`, located by finding `rmse` in its text."""
    lines = (root / "broken/mlform.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "rmse" in text)
    col = lines[line - 1].index("rmse") + 1
    return (f"broken/mlform.yaml:{line}:{col}: error: evaluation.metrics.2: metric `rmse` is for regression, but "
            "this model does classification")


def test_diff_of_a_spec_outside_the_repository(workspace: Path, run_mlform) -> None:
    repo = workspace / "iris"
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    before = _tree(workspace)

    result = run_mlform("diff", "../two/a", cwd=repo)

    assert (result.code, result.err.splitlines()[-1]) == (1, "Error: `../two/a` is outside the git repository")
    assert "Traceback" not in result.out + result.err
    assert _tree(workspace) == before
