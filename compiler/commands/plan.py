"""`mlform plan` and `mlform apply`: Terraform's discipline for ML pipelines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mlform.compiler.plan.plans import PlanInputs
from mlform.compiler.plan.planviews import FORMATS

from .common import env_option, lock_timeout_option, policy_option, spec_files, specs_argument

__all__ = ["apply", "plan"]

PLANFILE_FORMAT = 1


def _inputs_options(func: Any) -> Any:
    func = click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        metavar="DIR", help="Folder of templates that replace built-in ones by name.")(func)
    func = click.option("--target", "-t", "targets", metavar="NAMES",
                        help="Comma-separated targets (default: all).")(func)
    return click.option("--artifacts-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        metavar="DIR", help="Root of generated files (default: the project root).")(func)


def _inputs(artifacts_dir: Path | None, targets: str | None, templates: Path | None) -> PlanInputs:
    names = tuple(t.strip() for t in targets.split(",") if t.strip()) if targets else None
    return PlanInputs(artifacts_dir.resolve() if artifacts_dir else None, names,
                      templates.resolve() if templates else None)


@click.command()
@specs_argument
@env_option
@_inputs_options
@click.option("--out", "-o", "plan_out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Save the plan to FILE for `mlform apply FILE`.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="`text` for people, `markdown` for pull-request comments, `json` (with `format_version`) for "
                   "tools.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
@policy_option
def plan(specs: tuple[Path, ...], env: str | None, artifacts_dir: Path | None, targets: str | None,
         templates: Path | None, plan_out: Path | None, fmt: str, detailed_exitcode: bool,
         policy: Path | None) -> None:
    """Show what `apply` would change for SPECS, and why; writes nothing but the plan file.

    Exit status: 1 when a spec is invalid or breaks a policy rule of severity `error` (policy warnings are
    printed, not counted); else 0, or with --detailed-exitcode 2 when something changes.
    """
    from dataclasses import replace

    from mlform.compiler.plan.planset import plan_files
    from mlform.compiler.plan.planviews import render_plans
    from mlform.specs.fsutil import write_atomic

    inputs = replace(_inputs(artifacts_dir, targets, templates), policy=policy)
    plans = [p for file in plan_files(spec_files(specs), env, inputs) for p in file.plans]
    click.echo(render_plans(plans, fmt))
    refused = [problem for p in plans for problem in p.problems]
    if refused:  # apply would refuse: fail the check and save nothing
        from mlform.specs.errors import PlanError

        raise PlanError(refused[0] if len(refused) == 1 else f"{refused[0]} (and {len(refused) - 1} more)")
    if plan_out is not None:
        payload = {"format_version": PLANFILE_FORMAT, "plans": [p.to_dict() for p in plans],
                   "inputs": {"artifacts_dir": str(inputs.out) if inputs.out else None,
                              "targets": inputs.targets,
                              "templates": str(inputs.templates) if inputs.templates else None}}
        write_atomic(plan_out, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        click.echo(f"Saved the plan to {plan_out}; apply it with `mlform apply {plan_out}`.", err=True)
    if detailed_exitcode and any(p.has_changes for p in plans):
        raise SystemExit(2)


def _not_a_plan(path: Path, why: str = "") -> Exception:
    from mlform.specs.errors import PlanError

    return PlanError(f"`{path}` is not a saved plan{f': {why}' if why else ''}; a saved plan is what "
                     "`mlform plan --out FILE` writes. `mlform apply` also takes a spec file or a folder of "
                     "`mlform.yaml` files, which it plans and applies after confirmation")


def _read_planfile(path: Path) -> tuple[PlanInputs, list[Any]]:
    from mlform.compiler.plan.plans import Plan
    from mlform.specs.errors import PlanError

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _not_a_plan(path, f"not JSON: {exc}") from None
    keys = payload if isinstance(payload, dict) else {}
    missing = [key for key in ("format_version", "inputs", "plans") if key not in keys]
    if missing:
        raise _not_a_plan(path, f"it has no `{missing[0]}`")
    version, raw_inputs, raw_plans = payload["format_version"], payload["inputs"], payload["plans"]
    if version != PLANFILE_FORMAT:
        raise PlanError(f"`{path}` has `format_version` {version}; this mlform applies {PLANFILE_FORMAT}")
    targets = raw_inputs.get("targets")
    inputs = PlanInputs(Path(raw_inputs["artifacts_dir"]) if raw_inputs.get("artifacts_dir") else None,
                        tuple(targets) if targets else None,
                        Path(raw_inputs["templates"]) if raw_inputs.get("templates") else None)
    return inputs, [Plan.from_json(json.dumps(p)) for p in raw_plans]


def _is_planfile(path: Path) -> bool:
    """True for a file to apply as a saved plan; raise PlanError for a file that is neither a plan nor a spec."""
    if not path.is_file():
        return False
    from mlform.specs.read.discovery import SPEC_FILENAMES

    with path.open("rb") as handle:
        head = handle.read(64).lstrip()
    if head.startswith(b"{"):
        return True  # JSON: what `plan --out` writes; `_read_planfile` says what else it is
    if path.name in SPEC_FILENAMES or path.suffix in (".yaml", ".yml"):
        return False  # a spec: its own errors are the ones to show
    from mlform.specs.errors import SpecError
    from mlform.specs.read.source import read_document

    try:
        is_spec = "apiVersion" in read_document(path, keep_duplicates=True).data
    except SpecError:
        is_spec = False
    if not is_spec:
        raise _not_a_plan(path)
    return False


@click.command()
@click.argument("target", type=click.Path(exists=True, path_type=Path), metavar="SPEC|PLANFILE")
@env_option
@_inputs_options
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (required without a terminal).")
@lock_timeout_option
def apply(target: Path, env: str | None, artifacts_dir: Path | None, targets: str | None,
          templates: Path | None, yes: bool, lock_timeout: float) -> None:
    """Apply a saved plan exactly, or plan SPEC and apply what changed after confirmation."""
    from mlform.compiler.plan.planset import plan_files
    from mlform.compiler.plan.planviews import render_plans
    from mlform.runtime.run.progress import ConsoleReporter

    console = ConsoleReporter()
    if _is_planfile(target):
        _apply_saved(target, console, lock_timeout)
        return
    inputs = _inputs(artifacts_dir, targets, templates)
    files = plan_files(spec_files((target,)), env, inputs)
    fresh = [p for file in files for p in file.plans]
    click.echo(render_plans(fresh, "text"))
    changed = any(p.has_changes for p in fresh)
    refused = any(p.problems for p in fresh)  # apply_plan refuses it, and the audit log records that
    if changed and not yes and not refused:
        if not sys.stdin.isatty():
            raise click.UsageError("refusing to apply without confirmation: pass --yes, or apply a saved plan file")
        click.confirm("Apply these changes?", abort=True)
    _apply_files(files, env, inputs, console, lock_timeout)
    if not changed:
        click.echo("No changes. Nothing to apply.")


def _apply_saved(path: Path, console: Any, lock_timeout: float) -> None:
    from mlform.compiler.governance.audit import recording
    from mlform.compiler.plan.apply import apply_plan
    from mlform.specs import load_spec
    from mlform.specs.fsutil import file_sha256

    inputs, saved = _read_planfile(path)
    loaded = []
    for saved_plan in saved:
        try:
            sha: str | None = file_sha256(saved_plan.spec)
        except OSError:
            sha = None  # loading names the problem
        loaded.append((load_spec(saved_plan.spec, saved_plan.env, require_data=True), saved_plan, sha))
    for spec, saved_plan, sha in loaded:
        with recording(spec, saved_plan) as audit:
            done = audit.applied(apply_plan(spec, inputs, saved_plan, console, sha, audit.journal, lock_timeout))
        _applied(*done)


def _apply_files(files: list[Any], env: str | None, inputs: PlanInputs, console: Any, lock_timeout: float) -> None:
    """Apply each loaded spec whose plan changes something; record receipts for those that change nothing."""
    from mlform.compiler.governance.audit import recording
    from mlform.compiler.plan.apply import apply_plan, record_unchanged
    from mlform.compiler.plan.receipts import write_index

    for file in files:
        if not file.specs:
            continue  # answered from receipts: nothing changed
        if env is None:
            write_index(file.path, file.sha256, file.checked, [s.env for s in file.specs])
        for spec, fresh in zip(file.specs, file.plans, strict=True):
            if fresh.has_changes:
                with recording(spec, fresh) as audit:
                    done = audit.applied(apply_plan(spec, inputs, None, console, file.sha256, audit.journal,
                                                    lock_timeout))
                _applied(*done)
            else:
                record_unchanged(spec, inputs, fresh, file.sha256)


def _applied(done: Any, state: Any, notes: list[str]) -> None:
    for note in notes:
        click.echo(f"note: {note}", err=True)
    summary = done.summary().removeprefix("Plan: ")
    click.echo(f"Applied {done.spec} ({done.env}): {summary} State serial {state.serial}.")
