"""`mlform monitor`: run the monitor step through the executor, then act on a breach as `on_breach` says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlform.runtime.registry.journal import Journal
    from mlform.specs.loader import ResolvedSpec

__all__ = ["BREACH_EXIT_CODE", "monitor"]

BREACH_EXIT_CODE = 3
_RETRAIN_STEPS = ("train", "evaluate", "register")


def _reports(folder: Path, values: dict[str, Any]) -> list[Path]:
    """The JSON and HTML reports in the step's folder here (the paths recorded may be another working copy's)."""
    return [folder / Path(values[key]).name for key in ("report_json", "report_html")]


def _copy_reports(reports: list[Path], out: Path) -> list[Path]:
    from mlform.specs.fsutil import write_atomic

    copied = []
    for source in reports:
        target = out / source.name
        write_atomic(target, source.read_bytes())
        copied.append(target)
    return copied


def _retrain(resolved: ResolvedSpec, reporter: Any, journal: Journal) -> str | None:
    """Run train -> evaluate -> register again; None when a new version was promoted, else why the breach persists."""
    from mlform.runtime.run.executor import run_pipeline

    click.echo(f"on_breach: retrain -> {' -> '.join(_RETRAIN_STEPS)}")
    result = run_pipeline(resolved, list(_RETRAIN_STEPS), force=True, upstream="run", reporter=reporter,
                          journal=journal, forced_by="`monitoring.on_breach: retrain`")
    registered = result.steps["register"].values
    if registered.get("created") is False:
        return f"retraining reproduced version {registered['version']} (identical model bytes)"
    return None if registered.get("promoted") else "the retrained version was not promoted"


@click.command(epilog="""\b
Exit codes:
  0  no breach; or a breach handled: `on_breach: none` (reported only),
     `on_breach: retrain` (a retrained version was registered and promoted),
     `on_breach: pull_request` with --open-pr (the pull request was opened)
  1  error: invalid spec, missing data, a failing step
  3  breach with `on_breach: alert`, or a retrain that promoted no new version
     (not promoted, or identical to a registered version), or `on_breach:
     pull_request` without --open-pr (the branch and body are prepared)""")
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, metavar="ENV",
              help="Environment overlay to resolve (default: the base spec).")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="Also write monitor.json and monitor.html into DIR.")
@click.option("--open-pr", is_flag=True,
              help="With `on_breach: pull_request`: push the retraining branch and open the pull request with `gh`.")
def monitor(spec: Path, env: str | None, out: Path | None, open_pr: bool) -> None:
    """Compare the current data with the reference for drift, and check live performance.

    Runs the `monitor` step of SPEC (and any upstream step whose output is missing), writes a JSON
    and a self-contained HTML report, and acts on a breach as `monitoring.on_breach` declares.
    """
    from mlform.runtime.registry.journal import Journal
    from mlform.specs.errors import StepError

    from .run import load_resolved

    resolved = load_resolved(spec, env)
    if resolved.pipeline.monitoring is None:
        raise StepError("monitor", "the spec has no `monitoring` section")
    with Journal("monitor").auditing(resolved) as journal:  # one audit entry for the aliases this command moves
        handled = _monitor(resolved, out, journal, open_pr)
    if not handled:
        # SystemExit, not ctx.exit: the CLI runs click with standalone_mode=False, which turns ctx.exit into a return
        sys.exit(BREACH_EXIT_CODE)


def _monitor(resolved: ResolvedSpec, out: Path | None, journal: Journal, open_pr: bool = False) -> bool:
    """Run the monitor step and act on a breach; False when the breach is left for the exit code to report."""
    from mlform.runtime.run.executor import run_pipeline
    from mlform.runtime.run.progress import ConsoleReporter
    from mlform.specs.model.monitoring_checks import SERVING_LOG

    reporter = ConsoleReporter()
    monitoring = resolved.pipeline.monitoring
    assert monitoring is not None  # checked by the command
    # these read the clock or a running server, which no fingerprint covers: never reuse an earlier verdict
    live = [why for why, on in (("`monitoring.max_model_age` reads the clock", monitoring.max_model_age),
                                ("`monitoring.serving` reads the server", monitoring.serving),
                                ("`monitoring.current: serving_log` reads the server's log",
                                 monitoring.current == SERVING_LOG)) if on]
    step = run_pipeline(resolved, ["monitor"], force=bool(live), upstream="run", reporter=reporter,
                        journal=journal, forced_by="; ".join(live)).steps["monitor"]
    values = step.values
    assert step.dir is not None  # the monitor step completed
    reports = _reports(step.dir, values)
    if out is not None:
        reports = _copy_reports(reports, out)
    if step.status == "cached":
        for reason in values["reasons"]:
            click.echo(f"breach: {reason}")
    click.echo(f"reports: {reports[0]}, {reports[1]}")
    if not values["breached"]:
        click.echo("monitor: no breach")
        return True
    action = monitoring.on_breach
    if action == "retrain":
        persists = _retrain(resolved, reporter, journal)
        if persists is None:
            click.echo("monitor: breach handled, the retrained version was promoted")
            return True
        click.echo(f"monitor: breach persists, {persists}", err=True)
    elif action == "pull_request":
        from .monitor_pr import retrain_pull_request

        if retrain_pull_request(resolved, reports[0], out or step.dir, open_pr):
            click.echo("monitor: breach handled, a retraining pull request was opened")
            return True
        click.echo("monitor: breach (on_breach: pull_request, not opened)", err=True)
    elif action == "none":
        click.echo("monitor: breach reported (on_breach: none)")
        return True
    else:
        click.echo("monitor: breach (on_breach: alert)", err=True)
    return False
