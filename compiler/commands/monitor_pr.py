"""`on_breach: pull_request` for `mlform monitor`: prepare the retraining branch and body, and open it with `gh`."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BODY_NAME", "retrain_pull_request"]

BODY_NAME = "pull_request.md"
_GH_CREDENTIALS = "credential.helper=!gh auth git-credential"  # for this push only: no global git config


def _plan(resolved: ResolvedSpec, text: str, shown_as: str) -> str:
    """The plan of the edited spec as Markdown, the spec `shown_as` its path in the repository, or why it could not
    be made (the pull request is still useful)."""
    from mlform.compiler.plan.planner import make_plan
    from mlform.compiler.plan.plans import PlanInputs
    from mlform.compiler.plan.planviews import render_plans
    from mlform.specs.errors import MlformError
    from mlform.specs.loader import validate_file

    try:
        found, _ = validate_file(resolved.path, raw=text.encode("utf-8"))
        edited = replace(next(s for s in found if s.env == resolved.env), display=shown_as)
        return render_plans([make_plan(edited, PlanInputs(None, None, None))], "markdown")
    except (MlformError, StopIteration) as exc:
        return f"(no plan: {exc or 'the edited spec does not resolve'})"


def _run(args: list[str], cwd: Path) -> str:
    from mlform.specs.errors import StepError

    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # the command without its `-c NAME=VALUE` settings, and the tool's complaint on one line
        shown = [arg for i, arg in enumerate(args) if arg != "-c" and (i == 0 or args[i - 1] != "-c")]
        said = " ".join((done.stderr.strip() or done.stdout.strip()).split())
        raise StepError("monitor", f"`{' '.join(shown[:3])}` failed: {said}")
    return done.stdout.strip()


def retrain_pull_request(resolved: ResolvedSpec, report: Path, out: Path, open_pr: bool) -> bool:
    """Commit the retraining change on a new branch and write its body to `out`; push and open it with `open_pr`.

    True when the pull request was opened.
    """
    from mlform.runtime.monitoring.retrain_pr import commit_retrain, in_work_tree, pr_body, retrain_change
    from mlform.specs.fsutil import write_atomic

    if not in_work_tree(resolved.root):  # e.g. the CronJob's container: the monitor workflow opens the PR
        click.echo("on_breach: pull_request -> no pull request: the spec is not in a git working copy")
        return False
    payload = json.loads(report.read_text())
    now = datetime.now(UTC)
    marker = f"breach {now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    change = retrain_change(resolved.path, resolved.env, marker)
    branch = f"mlform/retrain-{resolved.name}-{resolved.env}-{now.strftime('%Y%m%d%H%M%S')}"
    title = f"Retrain {resolved.name} ({resolved.env}): monitoring breach"
    body = pr_body(payload, marker, _plan(resolved, change.text, change.relpath))
    commit = commit_retrain(change, branch, f"{title}\n\n" + "\n".join(payload["verdict"]["reasons"]))
    body_file = out / BODY_NAME
    write_atomic(body_file, body)
    click.echo(f"on_breach: pull_request -> branch {branch} (commit {commit[:12]}), body {body_file}")
    if not open_pr:
        click.echo(f"open it with: git push origin {branch} && gh pr create --head {branch} "
                   f"--title {json.dumps(title)} --body-file {body_file}")
        return False
    base = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], change.repo)
    _run(["git", "-c", "credential.helper=", "-c", _GH_CREDENTIALS, "push", "origin", f"{branch}:{branch}"],
         change.repo)
    url = _run(["gh", "pr", "create", "--head", branch, "--base", base, "--title", title,
                "--body-file", str(body_file)], change.repo)
    click.echo(f"pull request: {url}")
    return True
