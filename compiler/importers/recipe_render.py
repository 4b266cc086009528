"""Render an MLflow Recipe's `recipe.yaml` with a profile as MLflow 2.x did, remembering where each key came from.

MLflow rendered both files with Jinja (undefined variables are errors, `#` starts a line comment), rendered the
recipe with the profile's keys as variables, and merged the profile's top-level keys into the result; a key in
both files was an error. Jinja runs sandboxed here: a recipe is configuration, not a program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs.errors import Diagnostic, SpecError
from mlform.specs.read.source import Document, KeyPath, parse_document

__all__ = ["RECIPE_FILE", "Origin", "RenderedRecipe", "render_recipe"]

RECIPE_FILE = "recipe.yaml"
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Origin:
    """Where a recipe key was written: file (as shown), line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class RenderedRecipe:
    """The merged recipe configuration and the documents it came from."""

    root: Path
    config: dict[str, Any]
    recipe: Document
    recipe_lines: list[str]
    profile: Document | None
    variables: frozenset[str]

    def origin(self, path: KeyPath) -> Origin:
        """Where `path` was written: in the profile when its value came from a profile variable."""
        path = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in path)
        if path and path[0] in self.config and self.profile is not None and path[0] in self.profile.data \
                and path[0] not in self.recipe.data:
            return self._at(self.profile, path)
        mark = self.recipe.keys.get(path) or self.recipe.mark(path)
        line = self.recipe_lines[mark.line - 1] if 0 < mark.line <= len(self.recipe_lines) else ""
        used = _VARIABLE.search(line)
        if used and self.profile is not None and used[1] in self.profile.data and len(mark.written) < len(path):
            return self._at(self.profile, (used[1], *path[len(mark.written):]))
        return Origin(self.recipe.file, mark.line, mark.col)

    @staticmethod
    def _at(doc: Document, path: KeyPath) -> Origin:
        mark = doc.keys.get(path) or doc.mark(path)
        return Origin(doc.file, mark.line, mark.col)


def _environment() -> Any:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, line_comment_prefix="#",
                                keep_trailing_newline=True, autoescape=False)


def _render(text: str, shown: str, variables: dict[str, Any], profile_shown: str) -> str:
    import jinja2

    try:
        return str(_environment().from_string(text).render(variables))
    except jinja2.UndefinedError as exc:
        name = re.search(r"'([^']+)' is undefined", str(exc))
        missing = name[1] if name else str(exc)
        line, col = next(((i + 1, m.start() + 1) for i, row in enumerate(text.splitlines())
                          for m in _VARIABLE.finditer(row.split("#", 1)[0]) if m[1] == missing), (1, 1))
        raise SpecError([Diagnostic(shown, line, col, missing,
                                    f"variable `{missing}` is not defined in {profile_shown}")]) from None
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None) or 1
        raise SpecError([Diagnostic(shown, line, 1, "", f"cannot render: {exc}")]) from None


def _parse(text: str, shown: str) -> Document | None:
    """The document, or None when the rendered text holds nothing but blank lines."""
    if not text.strip():
        return None
    return parse_document(text.encode(), shown, "recipe")


def render_recipe(root: Path, profile: str) -> RenderedRecipe:
    """Render `root/recipe.yaml` with `root/profiles/<profile>.yaml`; SpecError locates every problem."""
    recipe_path, profile_path = root / RECIPE_FILE, root / "profiles" / f"{profile}.yaml"
    recipe_shown, profile_shown = RECIPE_FILE, f"profiles/{profile}.yaml"
    if not recipe_path.is_file():
        raise SpecError([Diagnostic(str(root), 1, 1, "", f"no `{RECIPE_FILE}` in this folder")])
    if not profile_path.is_file():
        known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
        listed = ", ".join(f"`{k}`" for k in known) or "none"
        raise SpecError([Diagnostic(recipe_shown, 1, 1, "", f"profile `{profile}` not found: no `{profile_shown}` "
                                                              f"(profiles: {listed})")])
    profile_doc = _parse(_render(profile_path.read_text(encoding="utf-8"), profile_shown, {}, profile_shown),
                         profile_shown)
    variables = dict(profile_doc.data) if profile_doc is not None else {}
    recipe_text = recipe_path.read_text(encoding="utf-8")
    rendered = _render(recipe_text, recipe_shown, variables, profile_shown)
    recipe_doc = _parse(rendered, recipe_shown)
    if recipe_doc is None:
        raise SpecError([Diagnostic(recipe_shown, 1, 1, "", "the recipe is empty")])
    both = [key for key in variables if key in recipe_doc.data]
    if both:
        errors = []
        for key in both:
            mark = profile_doc.keys.get((key,)) if profile_doc else None
            errors.append(Diagnostic(profile_shown, mark.line if mark else 1, mark.col if mark else 1, key,
                                     f"`{key}` is set in both {recipe_shown} and {profile_shown}; MLflow refused "
                                     "that too: keep it in one file, or make the recipe's a `{{ variable }}`"))
        raise SpecError(errors)
    used = frozenset(m[1] for row in recipe_text.splitlines() for m in _VARIABLE.finditer(row.split("#", 1)[0]))
    config = {**recipe_doc.data, **variables}
    return RenderedRecipe(root, config, recipe_doc, rendered.splitlines(), profile_doc, used)
