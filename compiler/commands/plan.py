"""`mlform plan` and `mlform apply`: Terraform's discipline for ML pipelines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..planviews import FORMATS
from .common import env_option, spec_files, specs_argument

__all__ = ["apply", "plan"]

PLANFILE_FORMAT = 1


def _inputs_options(func: Any) -> Any:
    func = click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        metavar="DIR", help="Folder of templates that replace built-in ones by name.")(func)
    func = click.option("--target", "-t", "targets", metavar="NAMES",
                        help="Comma-separated targets (default: all).")(func)
    return click.option("--artifacts-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        metavar="DIR", help="Root of generated files (default: the project root).")(func)


def _inputs(artifacts_dir: Path | None, targets: str | None, templates: Path | None) -> Any:
    from ..planner import PlanInputs

    names = [t.strip() for t in targets.split(",") if t.strip()] if targets else None
    return PlanInputs(artifacts_dir.resolve() if artifacts_dir else None, names,
                      templates.resolve() if templates else None)


def _resolved(paths: list[Path], env: str | None) -> list[Any]:
    from mlform.specs import BASE, SpecError, load_spec, validate_file

    specs = []
    for path in paths:
        if env is not None:
            specs.append(load_spec(path, env))
            continue
        found, diagnostics = validate_file(path)
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError(diagnostics)
        specs.extend([s for s in found if s.env != BASE] or found)
    return specs


@click.command()
@specs_argument
@env_option
@_inputs_options
@click.option("--out", "plan_out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Save the plan to FILE for `mlform apply FILE`.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
def plan(specs: tuple[Path, ...], env: str | None, artifacts_dir: Path | None, targets: str | None,
         templates: Path | None, plan_out: Path | None, fmt: str, detailed_exitcode: bool) -> None:
    """Show what `apply` would change for SPECS, and why; writes nothing but the plan file."""
    from mlform.specs.fsutil import write_atomic

    from ..planner import make_plan
    from ..planviews import render_plans

    inputs = _inputs(artifacts_dir, targets, templates)
    plans = [make_plan(spec, inputs) for spec in _resolved(spec_files(specs), env)]
    click.echo(render_plans(plans, fmt))
    if plan_out is not None:
        payload = {"format_version": PLANFILE_FORMAT, "plans": [p.to_dict() for p in plans],
                   "inputs": {"artifacts_dir": str(inputs.out) if inputs.out else None,
                              "targets": inputs.targets, "templates": str(inputs.templates) if inputs.templates else None}}
        write_atomic(plan_out, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        click.echo(f"Saved the plan to {plan_out}; apply it with `mlform apply {plan_out}`.", err=True)
    if detailed_exitcode and any(p.has_changes for p in plans):
        raise SystemExit(2)


def _read_planfile(path: Path) -> tuple[Any, list[Any]]:
    from mlform.specs.errors import PlanError

    from ..plan import Plan
    from ..planner import PlanInputs

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        version = payload["format_version"]
        raw_inputs, raw_plans = payload["inputs"], payload["plans"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"{path} is not an mlform plan file: {exc}") from None
    if version != PLANFILE_FORMAT:
        raise PlanError(f"{path} has format_version {version}; this mlform applies {PLANFILE_FORMAT}")
    inputs = PlanInputs(Path(raw_inputs["artifacts_dir"]) if raw_inputs.get("artifacts_dir") else None,
                        raw_inputs.get("targets"),
                        Path(raw_inputs["templates"]) if raw_inputs.get("templates") else None)
    return inputs, [Plan.from_json(json.dumps(p)) for p in raw_plans]


def _is_planfile(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(64).lstrip().startswith(b"{")


@click.command()
@click.argument("target", type=click.Path(exists=True, path_type=Path), metavar="SPEC|PLANFILE")
@env_option
@_inputs_options
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (required without a terminal).")
def apply(target: Path, env: str | None, artifacts_dir: Path | None, targets: str | None,
          templates: Path | None, yes: bool) -> None:
    """Apply a saved plan exactly, or plan SPEC and apply after confirmation."""
    from mlform.runtime.progress import ConsoleReporter
    from mlform.specs import load_spec

    from ..apply import apply_plan
    from ..planner import make_plan
    from ..planviews import render_plans

    console = ConsoleReporter()
    if _is_planfile(target):
        inputs, saved = _read_planfile(target)
        pairs = [(load_spec(p.spec, p.env), p) for p in saved]
    else:
        inputs = _inputs(artifacts_dir, targets, templates)
        specs = _resolved(spec_files((target,)), env)
        fresh = [make_plan(spec, inputs) for spec in specs]
        click.echo(render_plans(fresh, "text"))
        if not any(p.has_changes for p in fresh):
            click.echo("No changes. Nothing to apply.")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise click.UsageError("refusing to apply without confirmation: pass --yes, "
                                       "or apply a saved plan file")
            click.confirm("Apply these changes?", abort=True)
        pairs = [(spec, None) for spec in specs]
    for spec, saved_plan in pairs:
        done, state, notes = apply_plan(spec, inputs, saved_plan, console)
        for note in notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"Applied {spec.display} ({spec.env}): {done.summary().removeprefix('Plan: ')} "
                   f"State serial {state.serial}.")
