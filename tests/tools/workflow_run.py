"""Run a generated GitHub Actions job locally: its `run:` steps in order, in a throwaway clone of a project.

What needs GitHub is mapped to a local equivalent: `actions/checkout` is the clone itself, `actions/setup-python`
and the `Install mlform` step are the Python that runs the tests (mlform is installed there), registry logins and
image pushes are skipped, and an `actions/github-script` step is recorded, not run (it only calls GitHub's API).
Each `run:` script runs as GitHub runs it (`bash -eo pipefail`), with the workflow, job and step `env:`,
`${{ secrets.X }}` from the secrets given, and `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY` and `$RUNNER_TEMP` as
files and a folder; a step's outputs feed the `if:` of later steps (`steps.ID.outputs.KEY == 'VALUE'`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["JobRun", "StepRun", "run_job"]

_SKIPPED = ("actions/checkout@", "actions/setup-python@", "docker/", "aws-actions/")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_OUTPUT_TEST = re.compile(r"steps\.([\w-]+)\.outputs\.([\w-]+) == '([^']*)'")


@dataclass
class StepRun:
    """One step as the harness ran it: `ran`, `skipped` (mapped or its `if:` false) or `recorded` (GitHub API)."""

    name: str
    status: str
    code: int = 0
    output: str = ""


@dataclass
class JobRun:
    """A job's steps in order; `failed` names the step that failed, if one did."""

    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    temp: Path = Path()

    @property
    def failed(self) -> str | None:
        """The failing step's name, or None when the job succeeded."""
        return next((s.name for s in self.steps if s.status == "ran" and s.code != 0), None)

    def step(self, name: str) -> StepRun:
        """The step named `name`."""
        return next(s for s in self.steps if s.name == name)


def _expand(value: str, secrets: dict[str, str], context: dict[str, str]) -> str:
    """`value` with `${{ ... }}` evaluated: secrets, the escape of a literal opener, and known context values."""

    def one(match: re.Match[str]) -> str:
        expr = match[1]
        if expr == "'${{'":
            return "${{"
        if expr.startswith("secrets."):
            return secrets.get(expr.removeprefix("secrets."), "")  # an unset secret is empty on GitHub too
        if expr in context:
            return context[expr]
        raise AssertionError(f"the harness cannot evaluate `${{{{ {expr} }}}}`")

    return _EXPRESSION.sub(one, value)


def _condition(test: str | None, outputs: dict[str, dict[str, str]]) -> bool:
    if test is None or test == "github.event.pull_request.head.repo.full_name == github.repository":
        return True  # a pull request from the repository itself
    match = _OUTPUT_TEST.fullmatch(test.strip())
    assert match is not None, f"the harness cannot evaluate `if: {test}`"
    return outputs.get(match[1], {}).get(match[2]) == match[3]


def _read_outputs(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key] = value
    return found


def run_job(workflow: Path, clone: Path, *, secrets: dict[str, str] | None = None, job: str | None = None,
            env: dict[str, str] | None = None, context: dict[str, str] | None = None) -> JobRun:
    """Run the one job (or `job`) of `workflow` inside `clone`, stopping at the first failing step."""
    doc = yaml.safe_load(workflow.read_text())
    jobs: dict[str, Any] = doc["jobs"]
    spec = jobs[job] if job is not None else next(iter(jobs.values()))
    secrets = secrets or {}
    context = context or {}
    temp = clone.parent / f"runner-temp-{workflow.stem}"
    temp.mkdir(exist_ok=True)
    summary = temp / "step-summary.md"
    summary.write_text("")
    result = JobRun(temp=temp)
    python_bin = str(Path(sys.executable).parent)
    base = {**os.environ, **(env or {}), "RUNNER_TEMP": str(temp), "GITHUB_STEP_SUMMARY": str(summary),
            "CI": "true", "GITHUB_ACTIONS": "true", "PATH": os.pathsep.join([python_bin, os.environ["PATH"]])}
    for key, value in {**doc.get("env", {}), **spec.get("env", {})}.items():
        base[key] = _expand(str(value), secrets, context)
    for step in spec["steps"]:
        name = step.get("name", step.get("uses", "run"))
        uses = step.get("uses", "")
        mapped = uses.startswith(_SKIPPED) or name == "Install mlform"  # done by the clone and this Python
        if mapped or not _condition(step.get("if"), result.outputs):
            result.steps.append(StepRun(name, "skipped"))
        elif uses:
            result.steps.append(StepRun(name, "recorded"))
        else:
            output_file = temp / f"output-{len(result.steps)}"
            output_file.write_text("")
            step_env = {**base, "GITHUB_OUTPUT": str(output_file),
                        **{k: _expand(str(v), secrets, context) for k, v in step.get("env", {}).items()}}
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=clone,
                                  env=step_env, capture_output=True, text=True, timeout=600, check=False)
            result.steps.append(StepRun(name, "ran", done.returncode, done.stdout + done.stderr))
            if "id" in step:
                result.outputs[step["id"]] = _read_outputs(output_file)
            if done.returncode != 0:
                break
    result.summary = summary.read_text()
    return result
