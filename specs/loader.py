"""Load spec files: read, check overlays, resolve each environment, validate, check semantics."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from .errors import Diagnostic, SpecError
from .explain import did_you_mean, explain
from .overlays import BASE, check_overlays, environment_names, resolve
from .pipeline import Pipeline
from .semantic import check_pipeline
from .source import Document, read_document

__all__ = ["SPEC_FILENAMES", "ResolvedSpec", "discover", "load_spec", "validate_file"]

SPEC_FILENAMES = ("mlform.yaml", "mlform.yml")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".mlform", "__pycache__", "build", "dist"}


@dataclass(frozen=True)
class ResolvedSpec:
    """One spec file resolved for one environment and fully validated."""

    path: Path
    display: str
    env: str
    pipeline: Pipeline
    document: Document = field(repr=False, compare=False)
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def root(self) -> Path:
        """The folder of the spec file; relative paths in the spec start here."""
        return self.path.parent

    @property
    def name(self) -> str:
        """The pipeline name."""
        return self.pipeline.metadata.name

    @cached_property
    def config(self) -> dict[str, object]:
        """The resolved spec as plain JSON data, without the overlays."""
        return self.pipeline.model_dump(mode="json", by_alias=True, exclude={"environments"})

    @cached_property
    def digest(self) -> str:
        """sha256 of the resolved spec's meaning: formatting and comments do not change it."""
        text = json.dumps({"env": self.env, "spec": self.config}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files named by `paths`: files as given, directories searched for `mlform.yaml`."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(path.rglob("mlform.y*ml")):
                parts = set(candidate.relative_to(path).parts[:-1])
                if candidate.name in SPEC_FILENAMES and not parts & _SKIP_DIRS:
                    found.append(candidate)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def _resolve_env(doc: Document, path: Path, env: str) -> tuple[ResolvedSpec | None, list[Diagnostic]]:
    view = resolve(doc, env)
    try:
        pipeline = Pipeline.model_validate(view.data)
    except ValidationError as exc:
        return None, explain(view, Pipeline, exc)
    found = []
    for key_path, message, severity in check_pipeline(pipeline, path.parent):
        mark = view.mark(key_path)
        shown = ".".join(str(p) for p in mark.written) if len(mark.written) >= len(key_path) else ""
        shown = shown or ".".join(str(p) for p in key_path)
        found.append(Diagnostic(doc.file, mark.line, mark.col, shown, message, severity))
    warnings = tuple(d for d in found if d.severity != "error")
    if len(warnings) != len(found):
        return None, found
    return ResolvedSpec(path.resolve(), doc.file, env, pipeline, view, warnings), found


def _envs_or_error(doc: Document, env: str) -> None:
    names = environment_names(doc)
    if env != BASE and env not in names:
        declared = ", ".join(f"`{n}`" for n in names) or "none"
        mark = doc.mark(("environments",))
        message = f"environment `{env}` is not declared (declared: {declared}){did_you_mean(env, names)}"
        raise SpecError([Diagnostic(doc.file, mark.line, mark.col, "environments", message)])


def validate_file(path: str | Path, envs: Sequence[str] | None = None) -> tuple[list[ResolvedSpec], list[Diagnostic]]:
    """Validate the base spec and each environment (all when `envs` is None); never raises SpecError."""
    path = Path(path)
    try:
        doc = read_document(path, str(path))
        for env in envs or ():
            _envs_or_error(doc, env)
    except SpecError as exc:
        return [], list(exc.diagnostics)
    overlay_errors = check_overlays(doc)
    found: set[Diagnostic] = set(overlay_errors)
    broken = {d.path.split(".")[1] for d in overlay_errors}
    specs = []
    base_found: set[Diagnostic] = set()
    for env in envs or [BASE, *environment_names(doc)]:
        if env in broken:
            continue
        spec, diagnostics = _resolve_env(doc, path, env)
        if env == BASE:
            base_found = set(diagnostics)
        for diagnostic in diagnostics:
            if env != BASE and diagnostic not in base_found and diagnostic.severity == "error":
                diagnostic = Diagnostic(diagnostic.file, diagnostic.line, diagnostic.col, diagnostic.path,
                                        f"{diagnostic.message} (in environment `{env}`)", diagnostic.severity)
            found.add(diagnostic)
        if spec is not None:
            specs.append(spec)
    return specs, sorted(found)


def load_spec(path: str | Path, env: str | None = None) -> ResolvedSpec:
    """Load one spec for one environment (the base spec when `env` is None); raise SpecError on errors."""
    specs, diagnostics = validate_file(path, [env or BASE])
    if any(d.severity == "error" for d in diagnostics) or not specs:
        raise SpecError(diagnostics)
    return specs[0]
