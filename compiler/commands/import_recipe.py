"""`mlform import mlflow-recipe`: turn an MLflow Recipe (recipe.yaml, a profile, steps/*.py) into an mlform spec."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

__all__ = ["import_group"]

SPEC_NAME = "mlform.yaml"


@click.group("import")
def import_group() -> None:
    """Import another tool's pipeline definition as an mlform spec."""


def _name(root: Path) -> str:
    import re

    return (re.sub(r"[^a-z0-9-]+", "-", root.resolve().name.lower()).strip("-")[:53] or "recipe").strip("-")


def _write_all(files: dict[Path, str], steps_from: Path | None, steps_to: Path | None) -> None:
    """Write every file atomically; copy the recipe's `steps/` when the spec goes elsewhere."""
    from mlform.specs.fsutil import write_atomic

    if steps_from is not None and steps_to is not None:
        for module in sorted(steps_from.rglob("*.py")):
            write_atomic(steps_to / module.relative_to(steps_from), module.read_bytes())
    for path, text in files.items():
        write_atomic(path, text)


@import_group.command("mlflow-recipe")
@click.argument("recipe_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--profile", default="local", show_default=True, help="Profile in `profiles/` to render the recipe with.")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for `mlform.yaml` and its glue (default: RECIPE_DIR); `steps/` is copied there.")
@click.option("--force", is_flag=True, help="Replace an existing `mlform.yaml` and glue module.")
def mlflow_recipe(recipe_dir: Path, profile: str, out: Path | None, force: bool) -> None:
    """Read RECIPE_DIR's recipe.yaml rendered with profiles/PROFILE.yaml (MLflow Recipes 2.x: regression/v1,
    classification/v1) and write a commented mlform spec plus the glue its steps/*.py need.

    Prints what was mapped, approximated and not mapped, each with the recipe's file:line. Writes nothing and exits 1
    when a key cannot be imported or the result does not validate.
    """
    from mlform.compiler.importers.mlflow_recipe import map_recipe
    from mlform.compiler.importers.recipe_glue import GLUE_MODULE
    from mlform.compiler.importers.recipe_render import render_recipe
    from mlform.specs.errors import SpecError
    from mlform.specs.loader import validate_file

    out = out or recipe_dir
    rendered = render_recipe(recipe_dir, profile)
    mapping = map_recipe(rendered, _name(recipe_dir), out)
    for origin, key, target in mapping.mapped:
        click.echo(f"mapped      {origin} `{key}` -> `{target}`")
    for origin, key, how in mapping.approximated:
        click.echo(f"approximated {origin} `{key}`: {how}")
    for origin, key, reason in mapping.skipped:
        click.echo(f"not mapped  {origin} `{key}`: {reason}")
    if mapping.errors:
        raise SpecError(sorted(set(mapping.errors)))
    header = [f"# Imported from an MLflow Recipe by `mlform import mlflow-recipe` (profile `{profile}`).",
              "# Each comment names the recipe key a line came from. Edit freely: this file is the pipeline now."]
    spec_path, glue_path = out / SPEC_NAME, out / f"{GLUE_MODULE}.py"
    files = {spec_path: "\n".join([*header, *mapping.lines]) + "\n"}
    if mapping.glue.needed:
        files[glue_path] = mapping.glue.text()
    existing = [p for p in files if p.exists()]
    if existing and not force:
        listed = ", ".join(f"`{p}`" for p in existing)
        raise click.ClickException(f"{listed} already exist{'s' if len(existing) == 1 else ''}; "
                                   "pass --force to replace")
    copy_steps = out.resolve() != recipe_dir.resolve() and (recipe_dir / "steps").is_dir()
    steps_existed = (out / "steps").exists()
    backups = {p: p.read_bytes() for p in existing}
    _write_all(files, recipe_dir / "steps" if copy_steps else None, out / "steps" if copy_steps else None)
    _, diagnostics = validate_file(spec_path)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:  # the result cannot run: take back what was written
        for path in files:
            if path in backups:
                path.write_bytes(backups[path])
            else:
                path.unlink(missing_ok=True)
        if copy_steps and not steps_existed:
            shutil.rmtree(out / "steps", ignore_errors=True)
        raise SpecError(errors)
    for path in files:
        click.echo(f"wrote {path}")
    click.echo(f"next: mlform validate {out} && mlform plan {out}")
