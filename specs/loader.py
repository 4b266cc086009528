"""Load spec files: read, check overlays, resolve each environment, validate, check semantics."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from mlform.specs.check.explain import did_you_mean, explain
from mlform.specs.check.semantic import Finding, check_sections, sections_of, valid_sections
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.read.discovery import SPEC_FILENAMES, discover
from mlform.specs.read.overlays import BASE, check_overlays, environment_names, resolve
from mlform.specs.read.source import Document, parse_document, read_document

from .errors import Diagnostic, SpecError

__all__ = ["SPEC_FILENAMES", "ResolvedSpec", "discover", "load_spec", "read_spec_document", "require_environment",
           "validate_file"]


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


def _locate(view: Document, finding: Finding) -> Diagnostic:
    mark = (view.keys.get(finding.path) if finding.on_key else None) or view.mark(finding.path)
    # a mark deep enough is the finding's own (possibly inside an overlay); a shallower one is an ancestor's
    shown = mark.written if len(mark.written) >= len(finding.path) else finding.path
    col = mark.col
    if finding.offset is not None and len(mark.written) >= len(finding.path):
        col += finding.offset + (0 if mark.written in view.plain else 1)  # past a quote
    return Diagnostic(view.file, mark.line, col, ".".join(str(p) for p in shown), finding.message, finding.severity)


def _resolve_env(doc: Document, env: str, root: Path, resolved: Path,
                 require_data: bool = False) -> tuple[ResolvedSpec | None, list[Diagnostic]]:
    """Schema errors and semantic findings of one environment; the resolved spec when there are no errors.

    `root` is the folder of the spec file as named, `resolved` the spec file with symlinks resolved.
    """
    view = resolve(doc, env)
    try:
        pipeline: Pipeline | None = Pipeline.model_validate(view.data)
    except ValidationError as exc:
        pipeline, found = None, explain(view, Pipeline, exc)
        sections = valid_sections(view.data)
    else:
        assert pipeline is not None  # model_validate returns or raises
        found, sections = [], sections_of(pipeline)
    found += [_locate(view, finding) for finding in check_sections(sections, root, require_data)]
    if pipeline is None or any(d.severity == "error" for d in found):
        return None, found
    return ResolvedSpec(resolved, doc.file, env, pipeline, view, tuple(found)), found


def require_environment(doc: Document, env: str) -> None:
    """Raise SpecError, with a did-you-mean hint, when `doc` does not declare environment `env`."""
    names = environment_names(doc)
    if env != BASE and env not in names:
        declared = ", ".join(f"`{n}`" for n in names) or "none"
        mark = doc.keys.get(("environments",)) or doc.mark(())
        message = f"environment `{env}` is not declared (declared: {declared}){did_you_mean(env, names)}"
        raise SpecError([Diagnostic(doc.file, mark.line, mark.col, "environments", message)])


def read_spec_document(path: str | Path) -> Document | None:
    """The spec file at `path` as read, without validating it; None when it cannot be read or parsed."""
    try:
        return read_document(Path(path), str(path))
    except SpecError:
        return None


def validate_file(path: str | Path, envs: Sequence[str] | None = None, *, raw: bytes | None = None,
                  require_data: bool = False) -> tuple[list[ResolvedSpec], list[Diagnostic]]:
    """Validate the base spec and each environment (all when `envs` is None), of `raw` if given; never raises.

    With `require_data` (plan, apply), a missing training data file is an error rather than a warning.
    """
    path = Path(path)
    try:
        doc = (read_document(path, str(path), keep_duplicates=True) if raw is None
               else parse_document(raw, str(path), keep_duplicates=True))
    except SpecError as exc:
        return [], list(exc.diagnostics)
    try:
        for env in envs or ():
            require_environment(doc, env)
    except SpecError as exc:
        return [], sorted({*doc.duplicates, *exc.diagnostics})
    wanted = list(envs) if envs else [BASE, *environment_names(doc)]
    overlay_errors = [d for d in check_overlays(doc) if d.path.split(".")[1] in wanted]
    found: set[Diagnostic] = {*doc.duplicates, *overlay_errors}
    broken = {d.path.split(".")[1] for d in overlay_errors}
    base_found: list[Diagnostic] | None = None
    specs = []
    root, resolved = path.parent, path.resolve()
    for env in wanted:
        if env in broken:
            continue
        spec, diagnostics = _resolve_env(doc, env, root, resolved, require_data)
        if env == BASE:
            base_found = diagnostics
        elif any(d.severity == "error" for d in diagnostics):
            # an error the base spec has too is the spec's, not this environment's
            if base_found is None:
                base_found = _resolve_env(doc, BASE, root, resolved, require_data)[1]
            diagnostics = [d if d in base_found or d.severity != "error" else _in_env(d, env) for d in diagnostics]
        found.update(diagnostics)
        if spec is not None:
            specs.append(spec)
    return ([] if doc.duplicates else specs), sorted(found)  # a duplicate key leaves no spec anyone may use


def _in_env(diagnostic: Diagnostic, env: str) -> Diagnostic:
    return replace(diagnostic, message=f"{diagnostic.message} (in environment `{env}`)")


def load_spec(path: str | Path, env: str | None = None, *, require_data: bool = False) -> ResolvedSpec:
    """Load one spec for one environment (the base spec when `env` is None); raise SpecError on errors."""
    specs, diagnostics = validate_file(path, [env or BASE], require_data=require_data)
    if any(d.severity == "error" for d in diagnostics) or not specs:
        raise SpecError(diagnostics)
    return specs[0]
