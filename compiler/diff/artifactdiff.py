"""Semantic differences between two versions of one generated file, by what the file is.

Each target declares the kind of the files it emits (see `mlform.specs.model.target_settings`), and the kind
picks the reader here. Kubernetes manifests compare as objects keyed by `kind/namespace/name`; GitHub workflows as the
`workflow` settings (name, triggers, permissions...) and one object per job, steps matched by `id` or
`name`; Airflow files as DAGs (see `dagmodel`); Dockerfiles per stage, the arguments of each instruction
keyword in order (`FROM`, `RUN`...); anything else line by line. The provenance header is set aside, and
references to the spec digest in the body (image tags, Job names, annotations, labels) are replaced by
`<spec-digest>`: a file that differs only there is `header-only`. When the objects are equal but the
text is not, the change is reported at path `text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mlform.compiler.artifacts.output import HEADER_MARK
from mlform.specs.model.target_settings import FILE, artifact_kind

from .dagmodel import dag_objects
from .structdiff import ADDED, CHANGED, HEADER_ONLY, REMOVED, Change, compare, compare_objects

__all__ = ["DIGEST", "READERS", "ArtifactDiff", "compare_artifact", "header_only", "kind_of"]

DIGEST = "<spec-digest>"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: 10x faster
_HEADER_LINES = 5
_SHORTEST = 7  # hex digits of the shortest digest prefix recognised


@dataclass(frozen=True)
class ArtifactDiff:
    """How one generated file differs: `added`, `removed`, `changed` or `header-only`, with its changes."""

    path: str
    kind: str
    status: str
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"path": self.path, "kind": self.kind, "status": self.status,
                "changes": [c.to_dict() for c in self.changes]}


def kind_of(path: str) -> str:
    """The artifact kind of the generated file at `path`, as the target emitting it declares (`file` otherwise)."""
    return artifact_kind(path)


def _split(text: str) -> tuple[dict[str, str], str]:
    """(header fields, body with the spec digest replaced by DIGEST) of a generated file."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\n") != f"# {HEADER_MARK}":
        return {}, text
    header = {}
    for line in lines[1:_HEADER_LINES]:
        field = line[2:].rstrip("\n")
        key, sep, value = field.partition(": ")
        key, value = (key, value) if sep else field.split(" ", 1)
        header[key.replace(" ", "-")] = value
    body = "".join(lines[_HEADER_LINES:])
    digest = header.get("spec-digest", "").removeprefix("sha256:")
    if len(digest) >= _SHORTEST:
        # the digest and its prefixes (image tags, Job names) in hex runs of their own
        pattern = re.compile(rf"(?<![0-9a-f]){digest[:_SHORTEST]}[0-9a-f]*")
        body = pattern.sub(lambda m: DIGEST if digest.startswith(m.group()) else m.group(), body)
    return header, body


def _k8s_key(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata")
    named = meta if isinstance(meta, dict) else {}
    parts = (doc.get("kind"), named.get("namespace"), named.get("name"))
    return "/".join(str(p) for p in parts if p) or "document"


def _instructions(body: str) -> Iterator[str]:
    """Dockerfile instructions with continuation lines joined and runs of blanks collapsed."""
    pending = ""
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield " ".join((pending + line).split())
        pending = ""
    if pending:
        yield " ".join(pending.split())


def _stages(body: str) -> dict[str, Any]:
    """Instruction arguments by keyword, in order, per stage: `stage <AS name or n>` (`global` before FROM)."""
    stages: dict[str, dict[str, list[str]]] = {"global": {}}
    current, count = stages["global"], 0
    for instruction in _instructions(body):
        keyword, _, arguments = instruction.partition(" ")
        if keyword.upper() == "FROM":
            count += 1
            words = arguments.split()
            label = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(count)
            current = stages.setdefault(f"stage {label}", {})
        current.setdefault(keyword.upper(), []).append(arguments)
    return {name: instructions for name, instructions in stages.items() if instructions}


def _workflow(body: str) -> dict[str, Any]:
    doc = yaml.load(body, Loader=_LOADER)
    if not isinstance(doc, dict):
        raise ValueError("a workflow is a mapping")
    if True in doc:  # YAML 1.1 reads an unquoted `on` as true
        doc["on"] = doc.pop(True)
    jobs = doc.pop("jobs", None) or {}
    if not isinstance(jobs, dict):
        raise ValueError("`jobs` is a mapping")
    return {"workflow": doc, **{f"job {name}": job for name, job in jobs.items()}}


def _manifests(body: str) -> dict[str, Any]:
    docs = [doc for doc in yaml.load_all(body, Loader=_LOADER) if doc is not None]
    return {_k8s_key(doc) if isinstance(doc, dict) else f"document {i + 1}": doc for i, doc in enumerate(docs)}


# artifact kind (as targets declare them) -> how a body reads as named objects
READERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "airflow": dag_objects,
    "dockerfile": _stages,
    "kubernetes": _manifests,
    "workflow": _workflow,
    FILE: lambda body: {"": body.splitlines()},
}


def _objects(kind: str, body: str) -> dict[str, Any]:
    return READERS.get(kind, READERS[FILE])(body)


def _parsed(kind: str, bodies: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The kind and objects of each body; kind `file` when one of them does not parse as its kind."""
    try:
        return kind, [_objects(kind, body) for body in bodies]
    except (yaml.YAMLError, SyntaxError, ValueError):
        return FILE, [_objects(FILE, body) for body in bodies]


def compare_artifact(path: str, before: str | None, after: str | None) -> ArtifactDiff | None:
    """The differences between two versions of the file at `path` (None: absent); None when identical."""
    if before == after:
        return None
    if before is None or after is None:
        status, text = (ADDED, after) if before is None else (REMOVED, before)
        kind, (objects,) = _parsed(kind_of(path), [_split(text or "")[1]])
        sides = ({}, objects) if before is None else (objects, {})
        return ArtifactDiff(path, kind, status, tuple(c for c in compare_objects(*sides) if c.object))
    only = header_only(path, before, after)
    if only is not None:
        return only
    old_body, new_body = _split(before)[1], _split(after)[1]
    kind, (old, new) = _parsed(kind_of(path), [old_body, new_body])
    changes = compare_objects(old, new) or [Change(CHANGED, "", "text", old_body, new_body)]
    return ArtifactDiff(path, kind, CHANGED, tuple(changes))


def header_only(path: str, before: str, after: str) -> ArtifactDiff | None:
    """The differences of two versions of the file at `path` when they differ in the provenance header alone;
    None otherwise (no body is parsed)."""
    (old_header, old_body), (new_header, new_body) = _split(before), _split(after)
    if before == after or old_body != new_body:
        return None
    return ArtifactDiff(path, kind_of(path), HEADER_ONLY, tuple(compare("header", old_header, new_header)))
