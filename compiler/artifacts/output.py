"""Compile specs into files in memory, then write them atomically or check them against the disk.

Output layout, relative to the output root (`--out`, by default the project root, the nearest folder
up from the working directory holding `.git`):

    deploy/<name>/<env>/<target>/...        Docker, Airflow and Kubernetes files of one pipeline and env
    .github/workflows/mlform-<name>-<env>-{pr,apply,monitor}.yml

Every file starts with a provenance header naming the mlform version, the spec (relative to the project
root), the environment and the spec digest; the header is how `--check` tells a stale file (the spec
changed) from a hand-edited one, and how a later compile finds the files it no longer generates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path

from mlform.compiler.collector import collection_paused
from mlform.compiler.graph.stepgraph import StepGraph, build_graph
from mlform.compiler.targets import Context, Layout, Target, load_targets
from mlform.compiler.workspace import HEADER_MARK, parse_header, project_root, read_header
from mlform.specs import BASE, ResolvedSpec, SpecError, load_spec, validate_file
from mlform.specs.check.explain import did_you_mean
from mlform.specs.check.names import duplicate_names
from mlform.specs.errors import RenderError
from mlform.specs.fsutil import write_changed
from mlform.specs.graph.fingerprint import StatCache

from .render import Templates

__all__ = ["HEADER_MARK", "Build", "Finding", "Seen", "check", "compile_specs", "project_root",
           "render_graphs", "resolve_specs", "write"]


@dataclass
class Seen:
    """What the disk held of a build's files when read: those equal to their rendering, the bytes of the others."""

    current: set[str] = field(default_factory=set)
    differing: dict[str, bytes] = field(default_factory=dict)  # a file in neither is missing


@dataclass(frozen=True)
class Owner:
    """Which spec and environment a generated file belongs to, as its header says."""

    spec: str
    env: str
    digest: str = field(compare=False, default="")
    version: str = field(compare=False, default="")


@dataclass
class Build:
    """The rendered files (path relative to `out` -> text) and the folders whose old files they replace."""

    out: Path
    files: dict[str, str] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)
    scanned: dict[str, set[Owner]] = field(default_factory=dict)
    contexts: dict[str, tuple[str, Context]] = field(default_factory=dict)  # folder -> (target, what it rendered)
    seen: Seen = field(default_factory=Seen)  # the disk as the foreign-file check read it

    def orphans(self) -> list[str]:
        """Files in the scanned folders that a compile of the same spec and env wrote but no longer writes."""
        found = []
        for folder, owners in sorted(self.scanned.items()):
            try:
                entries = sorted(os.scandir(os.path.join(self.out, folder)), key=lambda entry: entry.name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:  # a file the build writes is no orphan: no stat, no open
                relative = f"{folder}/{entry.name}"
                if relative not in self.files and entry.is_file() and read_owner(entry.path) in owners:
                    found.append(relative)
        return found


@dataclass(frozen=True)
class Finding:
    """One file `--check` objects to: `missing`, `stale`, `hand-edited` or `orphaned`."""

    kind: str
    path: str


def header(ctx: Context) -> str:
    """The provenance header: `#` comments, valid in Dockerfiles, YAML, Python and ignore files."""
    return "\n".join([
        f"# {HEADER_MARK}",
        f"# mlform {ctx.version}",
        f"# spec: {json.dumps(ctx.layout.spec_path)}",
        f"# env: {ctx.spec.env}",
        f"# spec digest: sha256:{ctx.spec.digest}",
    ]) + "\n"


def read_owner(path: str | Path) -> Owner | None:
    """The owner a generated file's header names, or None for a file mlform did not write."""
    return _owner(read_header(path))


def _owner(header: dict[str, str] | None) -> Owner | None:
    return None if header is None else Owner(header["spec"], header["env"], header.get("spec digest", ""),
                                             header["version"])


def resolve_specs(path: Path, env: str | None) -> list[ResolvedSpec]:
    """The specs in the file at `path` for `env`, else for each environment it declares (the base spec without any)."""

    if env is not None:
        return [load_spec(path, env)]
    specs, diagnostics = validate_file(path)
    if any(d.severity == "error" for d in diagnostics):
        raise SpecError(diagnostics)
    named = [s for s in specs if s.env != BASE]
    return named or specs


def _select(names: Sequence[str] | None) -> dict[str, Target]:
    available = load_targets()
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        hint = did_you_mean(unknown[0], list(available))
        msg = f"unknown target `{unknown[0]}`{hint} (known: {', '.join(available)})"
        raise RenderError(msg)
    return {n: available[n] for n in available if n in names}


def _posix(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def compile_specs(paths: Iterable[Path], env: str | None, out: Path | None, targets: Sequence[str] | None = None,
                  templates: Path | None = None, cwd: Path | None = None) -> Build:
    """Render every selected target of every spec (each environment unless `env`) into one Build."""
    return render_graphs(_graphs(paths, env), out, targets, templates, cwd)


def _graphs(paths: Iterable[Path], env: str | None) -> Iterator[StepGraph]:
    """The graph of every spec, once all of them resolved and none names its pipeline like another."""
    specs = [spec for path in paths for spec in resolve_specs(path, env)]
    clashes = duplicate_names(spec.document for spec in specs)
    if clashes:
        raise SpecError(clashes)
    cache = StatCache()  # in memory: each data file digested once, not once per environment
    for spec in specs:
        yield build_graph(spec, cache)


@collection_paused()
def render_graphs(graphs: Iterable[StepGraph], out: Path | None, targets: Sequence[str] | None = None,
                  templates: Path | None = None, cwd: Path | None = None) -> Build:
    """Render every selected target of each graph's spec into one Build."""
    root = project_root(cwd or Path.cwd())
    out_dir = (out or root).resolve()
    chosen = _select(targets)
    renderer = Templates(templates)
    version = package_version("mlform")
    build = Build(out_dir)
    out_path, templates_path = _posix(out_dir, root), _posix(templates.resolve(), root) if templates else None
    for graph in graphs:
        spec = graph.spec
        spec_path = _posix(spec.path, root)
        layout = Layout(spec_path, _posix(spec.root, root), out_path, templates_path)
        ctx = Context(spec, graph, layout, renderer, version)
        owner = Owner(spec_path, spec.env, f"sha256:{spec.digest}", version)
        provenance = header(ctx)
        for name, target in chosen.items():
            folder = target.directory(ctx)
            build.scanned.setdefault(folder, set()).add(owner)
            build.contexts[folder] = (name, ctx)
            for file, text in target.render(ctx).items():
                _add(build, f"{folder}/{file}", provenance + text, owner)
    _refuse_foreign(build, root)
    return build


def look(build: Build) -> Seen:
    """Read each file of `build` on disk once: which equal their rendering, and the bytes of the others."""
    seen = Seen()
    folders: dict[str, bool] = {}  # a folder not there yet holds no file: no open per file of a fresh compile
    for relative, text in build.files.items():
        folder = relative.rpartition("/")[0]
        if folder not in folders:
            folders[folder] = os.path.isdir(os.path.join(build.out, folder))
        if not folders[folder]:
            continue
        try:
            with open(os.path.join(build.out, relative), "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        if data == text.encode():
            seen.current.add(relative)
        else:
            seen.differing[relative] = data
    return seen


def _refuse_foreign(build: Build, root: Path) -> None:
    """Raise RenderError when a file the build would write was generated from another spec that still exists."""
    build.seen = look(build)
    foreign = []
    for relative, data in sorted(build.seen.differing.items()):
        owner, found = build.owners[relative], _owner(parse_header(data))
        if found is not None and found.spec != owner.spec and (root / found.spec).is_file():
            foreign.append((relative, found.spec, owner.spec))
    if foreign:
        relative, theirs, ours = foreign[0]
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        msg = (f"refusing to overwrite `{relative}`{more}: generated from `{theirs}`, not `{ours}`; both specs name "
               f"their pipeline alike, so give one another `metadata.name` (or, if `{theirs}` no longer generates "
               "these files, delete them)")
        raise RenderError(msg)


def _add(build: Build, relative: str, text: str, owner: Owner) -> None:
    other = build.owners.get(relative)
    if other is not None:
        msg = (f"`{relative}` would be written for both `{other.spec}` ({other.env}) and `{owner.spec}` "
               f"({owner.env}): pipelines need distinct `metadata.name`s")
        raise RenderError(msg)
    build.files[relative] = text
    build.owners[relative] = owner


def write(build: Build) -> tuple[list[str], list[str]]:
    """Write changed files atomically and delete orphaned ones; return (written, deleted).

    A file `build.seen` found equal to its rendering (read as the build ended) is not read again.
    """
    orphans = build.orphans()
    out = os.fspath(build.out)
    current = build.seen.current
    # reproducible from the spec: atomic, but no fsync per file
    written = [relative for relative, text in sorted(build.files.items())
               if relative not in current and write_changed(os.path.join(out, relative), text.encode())]
    for relative in orphans:
        (build.out / relative).unlink()
    return written, orphans


def check(build: Build, seen: Seen | None = None) -> list[Finding]:
    """Every file that is missing, stale (its spec changed), hand-edited or orphaned; writes nothing.

    `seen` is what the disk held (default: read it now).
    """
    seen = look(build) if seen is None else seen
    findings = []
    for relative in sorted(build.files):
        if relative in seen.current:
            continue
        data = seen.differing.get(relative)
        if data is None:
            findings.append(Finding("missing", relative))
            continue
        owner, found = build.owners[relative], _owner(parse_header(data))
        same_source = found == owner and (found.digest, found.version) == (owner.digest, owner.version)
        edited = found is None or same_source
        findings.append(Finding("hand-edited" if edited else "stale", relative))
    findings.extend(Finding("orphaned", relative) for relative in build.orphans())
    return findings
