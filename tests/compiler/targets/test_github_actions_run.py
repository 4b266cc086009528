"""The generated workflows do what they are for: their `run:` steps executed in order in a throwaway clone.

The pull-request job writes a plan and fails on an invalid spec, the apply job trains and registers, the
monitor job reports a breach on drifted live data; and an apply workflow that only plans is caught.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tools.workflow_run import JobRun, run_job

from mlform.compiler.artifacts.output import compile_specs, write

from .conftest import Project
from .test_airflow_run import drift

pytestmark = pytest.mark.integration

ENV = "dev"


def git(cwd: Path, *args: str) -> str:
    """Run git quietly as a throwaway identity; its output."""
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def clone(project: Project, tmp_path: Path) -> Path:
    """A clone of a repository holding the iris spec and every file `mlform compile` writes for it, on `main`."""
    shutil.rmtree(project.root / ".git")
    spec = project.spec()
    write(compile_specs([spec], None, None, cwd=project.root))
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "iris")
    target = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project.root), str(target))
    return target


def workflow(clone: Path, kind: str) -> Path:
    """The generated workflow of iris in ENV."""
    return clone / f".github/workflows/mlform-iris-{ENV}-{kind}.yml"


def ran(job: JobRun) -> list[str]:
    """The steps that ran, in order."""
    return [step.name for step in job.steps if step.status == "ran"]


def registered(clone: Path) -> list[str]:
    """The versions of `iris-classifier` in the spec's registry."""
    folder = clone / "models/iris/.mlform/registry/iris-classifier/versions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


PULL_REQUEST = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}  # what GitHub sets for the event


def test_the_pull_request_job_plans_a_valid_spec(clone: Path) -> None:
    job = run_job(workflow(clone, "pr"), clone, env=PULL_REQUEST)
    assert job.failed is None, [(s.name, s.output[-2000:]) for s in job.steps if s.code]
    assert ran(job) == ["Validate", "Fit the pipeline on a sample", "Check generated files are current", "Plan",
                        "Readiness", "Model card of a promotion", "Diff"]
    assert job.step("Comment the plan").status == "recorded"
    plan = (job.temp / "mlform-plan.md").read_text()
    assert plan.strip() and job.summary.startswith(plan)
    readiness = (job.temp / "mlform-readiness.md").read_text()
    assert readiness.startswith(f"### ML Test Score: `models/iris/mlform.yaml` ({ENV}): **")
    assert "(+0 since the base: " in readiness.splitlines()[0] and readiness in job.summary
    for step in ("ingest.train", "train", "register"):
        assert f"`{step}`" in plan
    assert registered(clone) == []  # a pull request plans; it trains nothing


def test_the_pull_request_job_fails_on_an_invalid_spec(clone: Path) -> None:
    spec = clone / "models/iris/mlform.yaml"
    spec.write_text(spec.read_text().replace("max_depth: 5", "max_depht: 5"))
    job = run_job(workflow(clone, "pr"), clone, env=PULL_REQUEST)
    assert job.failed == "Validate"
    assert ran(job) == ["Validate"]
    assert job.step("Validate").code == 1
    assert "::error file=models/iris/mlform.yaml" in job.step("Validate").output
    assert "max_depht" in job.step("Validate").output


def test_the_apply_job_trains_and_registers(clone: Path) -> None:
    job = run_job(workflow(clone, "apply"), clone)
    assert job.failed is None, job.steps[-1].output[-2000:]
    assert ran(job) == ["Apply"]
    assert {s.name for s in job.steps if s.status == "skipped"} >= {"Build and push the train image",
                                                                    "Build and push the serve image"}
    assert registered(clone) == ["1"]


def test_an_apply_workflow_that_only_plans_is_caught(clone: Path) -> None:
    path = workflow(clone, "apply")
    text = path.read_text()
    assert 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes' in text
    path.write_text(text.replace('mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes',
                                 'mlform plan "$MLFORM_SPEC" --env "$MLFORM_ENV"'))
    job = run_job(path, clone)
    assert job.failed is None  # the job looks green ...
    assert registered(clone) == []  # ... but nothing was trained: the outcome check above would fail


def test_the_monitor_job_reports_a_breach_on_drifted_data(clone: Path) -> None:
    assert run_job(workflow(clone, "apply"), clone).failed is None
    healthy = run_job(workflow(clone, "monitor"), clone)
    assert healthy.failed is None, healthy.steps[0].output[-2000:]
    assert healthy.outputs["monitor"] == {}
    assert healthy.step("Fail on breach").status == "skipped"
    drift(clone / "models/iris/data/live.csv")
    breached = run_job(workflow(clone, "monitor"), clone)
    assert breached.outputs["monitor"] == {"breach": "true"}
    assert "::warning title=mlform monitor::drift or performance breach" in breached.step(
        "Monitor drift and performance").output
    assert breached.failed == "Fail on breach"  # dev alerts on a breach (`on_breach: alert`)
