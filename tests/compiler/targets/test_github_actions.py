"""GitHub Actions target: actionlint, zizmor and the workflow schema find nothing; pins, permissions, scripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import LINT, actionlint, run

from mlform.compiler.targets.github_actions import ACTIONS

from .conftest import EXAMPLES, Project

# GitHub-hosted runner labels newer than the label list inside the actionlint build the tests run
NEWER_RUNNER_LABELS = {"ubuntu-24.04"}
BAD_WORKFLOW = """\
on: pull_request
jobs:
  x:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def workflows(project: Project) -> list[Path]:
    """Every generated workflow."""
    return sorted(project.root.glob(".github/workflows/*.yml"))


def lint_findings(files: list[Path]) -> list[dict[str, Any]]:
    """actionlint's findings, less unknown-label ones for runner labels newer than its label list."""
    done = run([*actionlint(), *files])
    assert done.returncode == 0, done.stderr
    return [f for f in json.loads(done.stdout)
            if not (f["kind"] == "runner-label" and any(f'"{label}"' in f["message"] for label in NEWER_RUNNER_LABELS))]


@pytest.mark.integration
def test_actionlint_zizmor_and_the_schema_find_nothing(compiled: Project) -> None:
    files = workflows(compiled)
    assert len(files) >= 12
    assert lint_findings(files) == []
    done = run([LINT.bin("zizmor"), "--offline", "--format", "json", *files])
    assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stdout + done.stderr
    done = run([LINT.bin("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_the_linters_are_not_blind(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    assert any("github.event.pull_request.title" in f["message"] for f in lint_findings([bad]))
    findings = json.loads(run([LINT.bin("zizmor"), "--offline", "--format", "json", bad]).stdout)
    assert {f["ident"] for f in findings} >= {"template-injection", "unpinned-uses", "artipacked"}


def test_actions_are_pinned_to_release_commits_with_the_tag_beside(compiled: Project) -> None:
    seen = set()
    for path in workflows(compiled):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                match = re.fullmatch(r"\s*(?:- )?uses: ([\w-]+/[\w-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", line)
                assert match, line
                assert ACTIONS[match[1]] == (match[2], match[3])
                seen.add(match[1])
    assert seen == set(ACTIONS)


def test_scripts_read_values_from_the_environment_only(compiled: Project) -> None:
    for path in workflows(compiled):
        doc = yaml.safe_load(path.read_text())
        assert doc["permissions"] == {}
        for job in doc["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, step["name"])
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_apply_never_overlaps_and_builds_both_images(compiled: Project) -> None:
    doc = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-apply.yml").read_text())
    assert doc["concurrency"] == {"group": "mlform-apply-iris-prod", "cancel-in-progress": False}
    assert doc["on"]["push"]["branches"] == ["main"]
    job = doc["jobs"]["apply"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    assert job["environment"] == "prod"
    builds = [s["with"] for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
    assert [(b["context"], b["file"]) for b in builds] == [
        ("models/iris", "deploy/iris/prod/docker/Dockerfile.train"),
        ("models/iris", "deploy/iris/prod/docker/Dockerfile.serve")]


def test_pull_requests_check_plan_and_diff_on_spec_and_data_changes(compiled: Project) -> None:
    doc = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-pr.yml").read_text())
    on = doc["on"]
    assert on["pull_request"]["paths"] == [
        "models/iris/mlform.yaml", "models/iris/data/iris.csv", "models/iris/data/live.csv",
        "deploy/iris/prod/**", ".github/workflows/mlform-iris-prod-*.yml"]
    runs = [s.get("run", "") for s in doc["jobs"]["check"]["steps"]]
    assert any("mlform validate" in r and "--format github" in r for r in runs)
    assert any("mlform compile" in r and "--check" in r for r in runs)
    assert any("--format markdown" in r and "GITHUB_STEP_SUMMARY" in r for r in runs)
    assert any(r.startswith("mlform diff") for r in runs)


def test_pull_requests_post_the_card_of_a_promotion_with_the_plan(compiled: Project) -> None:
    doc = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-pr.yml").read_text())
    steps = {s["name"]: s for s in doc["jobs"]["check"]["steps"]}
    names = list(steps)
    assert names.index("Plan") < names.index("Model card of a promotion") < names.index("Comment the plan")
    card = steps["Model card of a promotion"]["run"]
    assert card.startswith('mlform card "$MLFORM_SPEC" --env "$MLFORM_ENV" --promotion --format markdown '
                           '--output "$RUNNER_TEMP/mlform-card.md"\n')
    assert 'cat "$RUNNER_TEMP/mlform-card.md" >> "$GITHUB_STEP_SUMMARY"' in card
    assert names.index("Plan") < names.index("Readiness") < names.index("Comment the plan")
    assert steps["Readiness"]["run"].startswith(
        'mlform readiness "$MLFORM_SPEC" --env "$MLFORM_ENV" --format markdown --base "origin/$GITHUB_BASE_REF"')


_FAKE_GITHUB = """
const posted = [];
const github = {
  paginate: async () => [{ id: 7, user: { type: 'Bot' }, body: 'unrelated' }],
  rest: { issues: {
    listComments: null,
    createComment: async (args) => posted.push(args),
    updateComment: async (args) => posted.push(args),
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 5 } };
(async () => { %s })().then(() => process.stdout.write(JSON.stringify(posted)));
"""


@pytest.mark.integration
@pytest.mark.parametrize("card", [True, False])
def test_the_plan_comment_holds_the_plan_the_readiness_and_the_card(compiled: Project, tmp_path: Path,
                                                                   card: bool) -> None:
    doc = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-pr.yml").read_text())
    steps = {s["name"]: s for s in doc["jobs"]["check"]["steps"]}
    (tmp_path / "mlform-plan.md").write_text("PLAN")
    (tmp_path / "mlform-readiness.md").write_text("SCORE")
    if card:
        (tmp_path / "mlform-card.md").write_text("CARD")
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), **steps["Comment the plan"]["env"]}
    script = _FAKE_GITHUB % steps["Comment the plan"]["with"]["script"]
    done = subprocess.run(["node", "-e", script], env=env, capture_output=True, text=True, check=True)
    [posted] = json.loads(done.stdout)
    body = "PLAN\n\nSCORE\n\nCARD" if card else "PLAN\n\nSCORE"
    assert posted == {"owner": "o", "repo": "r", "issue_number": 5,
                      "body": f"<!-- mlform-plan iris/prod -->\n{body}"}


def test_monitoring_dispatches_retraining_on_breach(compiled: Project) -> None:
    doc = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-monitor.yml").read_text())
    on = doc["on"]
    assert on["schedule"] == [{"cron": "0 6 * * *"}]
    job = doc["jobs"]["monitor"]
    assert job["permissions"] == {"contents": "read", "actions": "write"}
    dispatch = job["steps"][-1]
    assert dispatch["if"] == "steps.monitor.outputs.breach == 'true'"
    assert dispatch["env"] == {"MLFORM_APPLY_WORKFLOW": "mlform-iris-prod-apply.yml"}
    alert = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-dev-monitor.yml").read_text())
    assert alert["jobs"]["monitor"]["permissions"] == {"contents": "read"}  # dev only alerts


def test_monitoring_by_pull_request_gets_write_access_in_that_job_only(compiled: Project) -> None:
    flows = compiled.root / ".github/workflows"
    doc = yaml.safe_load((flows / "mlform-watch-prod-monitor.yml").read_text())
    job = doc["jobs"]["monitor"]
    assert (doc["permissions"], job["permissions"]) == ({}, {"contents": "write", "pull-requests": "write"})
    [monitor] = [s for s in job["steps"] if s.get("id") == "monitor"]
    assert 'mlform monitor "$MLFORM_SPEC" --env "$MLFORM_ENV" --open-pr\n' in monitor["run"]
    assert monitor["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert monitor["env"]["MONITOR_WEBHOOK"] == "${{ secrets.MONITOR_WEBHOOK }}"
    for kind in ("apply", "pr"):
        other = yaml.safe_load((flows / f"mlform-watch-prod-{kind}.yml").read_text())
        assert all(j["permissions"].get("contents") == "read" for j in other["jobs"].values())


def _workflow(project: Project, name: str) -> dict[str, Any]:
    return yaml.safe_load((project.root / ".github/workflows" / f"mlform-{name}.yml").read_text())


def _steps(project: Project, name: str) -> dict[str, dict[str, Any]]:
    [job] = _workflow(project, name)["jobs"].values()
    return {step["name"]: step for step in job["steps"]}


def test_only_pull_requests_check_out_the_history_diff_compiles_from(compiled: Project) -> None:
    for name, checkout in [("iris-prod-pr", {"persist-credentials": False, "fetch-depth": 0}),
                           ("iris-prod-apply", {"persist-credentials": False}),
                           ("iris-prod-monitor", {"persist-credentials": False})]:
        assert _steps(compiled, name)["Check out"]["with"] == checkout, name


def test_the_pull_request_job_runs_its_steps_in_order(compiled: Project) -> None:
    doc = _workflow(compiled, "iris-prod-pr")
    assert doc["name"] == "mlform iris (prod): pull request"
    assert doc["concurrency"] == {"group": "mlform-pr-iris-prod-${{ github.event.pull_request.number }}",
                                  "cancel-in-progress": True}
    job = doc["jobs"]["check"]
    assert (job["runs-on"], job["permissions"], job["timeout-minutes"]) == (
        "ubuntu-24.04", {"contents": "read", "pull-requests": "write"}, 60)
    assert job["env"] == {"MLFORM_SPEC": "models/iris/mlform.yaml", "MLFORM_ENV": "prod"}
    assert [s["name"] for s in job["steps"]] == [
        "Check out", "Set up Python", "Install mlform", "Validate", "Fit the pipeline on a sample",
        "Check generated files are current", "Plan", "Readiness", "Model card of a promotion", "Diff",
        "Comment the plan"]
    steps = {s["name"]: s for s in job["steps"]}
    assert steps["Set up Python"]["with"] == {"python-version": "3.11"}
    assert steps["Check generated files are current"] == {
        "name": "Check generated files are current", "env": {"MLFORM_OUT": "."},
        "run": 'mlform compile "$MLFORM_SPEC" --env "$MLFORM_ENV" --out "$MLFORM_OUT" --check\n'}
    assert steps["Diff"] == {"name": "Diff", "run": 'mlform diff "$MLFORM_SPEC" --env "$MLFORM_ENV"\n'}
    assert steps["Comment the plan"]["env"] == {"MLFORM_PLAN_ID": "iris/prod"}


AWS_SECRETS = {"AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
               "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
               "AWS_ENDPOINT_URL": "${{ secrets.AWS_ENDPOINT_URL }}"}


@pytest.mark.parametrize(("name", "env"), [
    ("iris-prod", None),  # a local backend: nothing to reach
    ("team-prod", {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"}),
    ("team-dev", {**AWS_SECRETS, "AWS_REGION": "us-east-1"}),
    ("team-staging", None),  # the OIDC role gives the AWS variables
])
def test_read_only_steps_get_the_shared_backends_credentials_only(compiled: Project, name: str,
                                                                  env: dict[str, str] | None) -> None:
    steps = _steps(compiled, f"{name}-pr")
    for step in ("Plan", "Model card of a promotion", "Diff"):
        assert steps[step].get("env") == env, step
    for step in ("Validate", "Readiness"):
        assert "env" not in steps[step]


@pytest.mark.parametrize(("name", "permissions", "aws"), [
    ("team-staging-pr", {"contents": "read", "pull-requests": "write", "id-token": "write"},
     {"role-to-assume": "arn:aws:iam::123456789012:role/iris-ci", "aws-region": "eu-west-1"}),
    ("team-staging-apply", {"contents": "read", "packages": "write", "id-token": "write"},
     {"role-to-assume": "arn:aws:iam::123456789012:role/iris-ci", "aws-region": "eu-west-1"}),
    ("team-dev-pr", {"contents": "read", "pull-requests": "write"}, None),
    ("iris-prod-pr", {"contents": "read", "pull-requests": "write"}, None),
])
def test_an_aws_role_is_assumed_by_oidc_after_the_install(compiled: Project, name: str,
                                                         permissions: dict[str, str],
                                                         aws: dict[str, str] | None) -> None:
    [job] = _workflow(compiled, name)["jobs"].values()
    assert job["permissions"] == permissions
    names = [s["name"] for s in job["steps"]]
    if aws is None:
        assert "Configure AWS credentials" not in names
        return
    assert names[:4] == ["Check out", "Set up Python", "Install mlform", "Configure AWS credentials"]
    assert job["steps"][3]["with"] == aws


@pytest.mark.parametrize(("name", "run", "env"), [
    ("iris-prod", 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes\n', None),
    ("team-prod", 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes --lock-timeout 10m\n',
     {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"}),
    ("team-dev", 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes --lock-timeout 10m\n',
     {**AWS_SECRETS, "AWS_REGION": "us-east-1"}),
    ("full-prod", 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes\n',
     {"MLFLOW_TRACKING_URI": "${{ secrets.MLFLOW_TRACKING_URI }}"}),
])
def test_apply_queues_on_a_shared_lock_and_reads_the_secrets_it_needs(compiled: Project, name: str, run: str,
                                                                      env: dict[str, str] | None) -> None:
    apply = _steps(compiled, f"{name}-apply")["Apply"]
    assert (apply["run"], apply.get("env")) == (run, env)


def test_the_apply_workflow_runs_on_pushes_and_by_hand(compiled: Project) -> None:
    doc = _workflow(compiled, "iris-dev-apply")
    assert doc["name"] == "mlform iris (dev): apply"
    assert doc["run-name"] == "mlform iris (dev): apply (${{ inputs.reason || github.event_name }})"
    assert doc["on"]["workflow_dispatch"] == {"inputs": {"reason": {
        "description": "Why the pipeline is applied again", "type": "string", "required": False,
        "default": "manual"}}}
    assert "environment" in doc["jobs"]["apply"] and doc["jobs"]["apply"]["environment"] == "dev"


def test_images_are_built_after_logging_in_to_their_registry(compiled: Project) -> None:
    steps = _steps(compiled, "iris-prod-apply")
    assert steps["Log in to the registry"]["with"] == {
        "registry": "ghcr.io", "username": "${{ github.actor }}", "password": "${{ secrets.GITHUB_TOKEN }}"}
    built = steps["Build and push the train image"]["with"]
    assert re.fullmatch(r"ghcr\.io/example/iris:train-prod-[0-9a-f]{12}", built.pop("tags"))
    assert built == {"context": "models/iris", "file": "deploy/iris/prod/docker/Dockerfile.train", "push": True}


def test_alerting_monitors_fail_on_a_breach_at_the_schedule(compiled: Project) -> None:
    doc = _workflow(compiled, "iris-dev-monitor")
    assert doc["name"] == "mlform iris (dev): monitor"
    assert doc["on"] == {"schedule": [{"cron": "0 6 * * *"}], "workflow_dispatch": {}}
    assert doc["concurrency"] == {"group": "mlform-monitor-iris-dev", "cancel-in-progress": False}
    job = doc["jobs"]["monitor"]
    assert [s["name"] for s in job["steps"]][3:] == ["Monitor drift and performance", "Fail on breach"]
    monitor, alert = job["steps"][3:]
    assert monitor["id"] == "monitor" and "env" not in monitor
    assert monitor["run"].startswith('set +e\nmlform monitor "$MLFORM_SPEC" --env "$MLFORM_ENV"\nstatus=$?\n')
    assert alert == {"name": "Fail on breach", "if": "steps.monitor.outputs.breach == 'true'",
                     "run": 'echo "::error title=mlform monitor::drift or performance breach; see the log of the '
                            'previous step"\nexit 1\n'}


def test_pull_requests_watch_no_data_outside_the_project(project: Project, cli) -> None:
    shutil.copy(EXAMPLES / "iris" / "data" / "live.csv", project.root.parent / "shared.csv")
    spec = project.spec(edit=lambda d: d["data"]["sources"]["live"].update(path="../../../shared.csv"))
    code, out, err = cli("compile", spec, "--env", "dev", "--target", "github-actions", "--out", "gen",
                         cwd=project.root)
    assert code == 0, out + err
    paths = yaml.safe_load((project.root / "gen/.github/workflows/mlform-iris-dev-pr.yml").read_text())["on"]
    assert paths["pull_request"]["paths"] == [
        "models/iris/mlform.yaml", "models/iris/data/iris.csv", "gen/deploy/iris/dev/**",
        "gen/.github/workflows/mlform-iris-dev-*.yml"]


def test_a_shared_backend_pins_the_served_models_libraries_before_the_build(compiled: Project) -> None:
    names = list(_steps(compiled, "team-prod-apply"))
    assert names[names.index("Log in to the registry"):] == [
        "Log in to the registry", "Pin the served model's training libraries", "Build and push the train image",
        "Build and push the serve image"]
    assert _steps(compiled, "team-prod-apply")["Pin the served model's training libraries"] == {
        "name": "Pin the served model's training libraries",
        "env": {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"},
        "run": 'mlform models pins "$MLFORM_SPEC" --env "$MLFORM_ENV" > models/team/mlform-pins-prod.txt\n'}
    assert "Pin the served model's training libraries" not in _steps(compiled, "iris-prod-apply")
