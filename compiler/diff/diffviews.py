"""Render a Diff as text (terminals), Markdown (pull-request comments) and JSON (machines)."""

from __future__ import annotations

import difflib
import html
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .structdiff import ADDED, CHANGED, HEADER_ONLY, REMOVED, REORDERED, UNCHANGED, Change

if TYPE_CHECKING:  # rendering needs no compiler: `mlform diff --help` stays light
    from .artifactdiff import ArtifactDiff
    from .compare import Diff, PipelineDiff

__all__ = ["FORMATS", "render_diff"]

FORMATS = ("text", "markdown", "json")
_SYMBOL = {ADDED: "+", REMOVED: "-", CHANGED: "~", REORDERED: "~", HEADER_ONLY: "~"}
_Line = tuple[str, int, str]  # (symbol or " ", indent, text)


def _show(value: object) -> str:
    """A value on one line: plain strings as they are, anything else as JSON."""
    if isinstance(value, str) and value and value.strip() == value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _text_diff(before: object, after: object) -> Iterator[tuple[str, str]]:
    """The changed lines of two multi-line values, unified-diff style without context."""
    old, new = (v.splitlines() if isinstance(v, str) else [] for v in (before, after))
    for line in list(difflib.unified_diff(old, new, lineterm="", n=0))[2:]:
        if not line.startswith("@@"):
            yield line[0], line[1:]


def _change(change: Change, depth: int) -> list[_Line]:
    symbol = _SYMBOL[change.action]
    if not change.path and change.object:  # a whole object added or removed
        return [(symbol, depth, change.object)]
    if any(isinstance(v, str) and "\n" in v for v in (change.before, change.after)):
        return [(symbol, depth, f"{change.path}:"), *((s, depth + 4, t) for s, t in _text_diff(change.before,
                                                                                             change.after))]
    if change.action == REORDERED:
        values = f"order {', '.join(change.before)} -> {', '.join(change.after)}"
    elif change.action == CHANGED:
        values = f"{_show(change.before)} -> {_show(change.after)}"
    else:
        values = _show(change.after if change.action == ADDED else change.before)
    return [(symbol, depth, f"{change.path}: {values}" if change.path else values)]


def _artifact(artifact: ArtifactDiff) -> list[_Line]:
    """The changes of one artifact, field changes grouped under their object."""
    lines: list[_Line] = []
    group = None
    for change in artifact.changes:
        if change.object and change.path:
            if change.object != group:
                lines.append((" ", 0, f"{change.object}:"))
            group = change.object
            lines += _change(change, 2)
        else:
            group = None
            lines += _change(change, 0)
    return lines


def _title(diff: Diff, arrow: str = "->") -> str:
    return f"mlform diff: {diff.base.label} {arrow} {diff.head.label}"


def _listed(pipeline: PipelineDiff) -> tuple[list[ArtifactDiff], list[ArtifactDiff]]:
    """(artifacts shown in full, artifacts that differ only in their header)."""
    header = [a for a in pipeline.artifacts if a.status == HEADER_ONLY]
    return [a for a in pipeline.artifacts if a.status != HEADER_ONLY], header


def _text(diff: Diff) -> str:
    lines = [_title(diff), diff.summary()]
    for pipeline in diff.pipelines:
        if pipeline.status == UNCHANGED:
            continue
        lines += ["", f"{_SYMBOL[pipeline.status]} {pipeline.name} ({pipeline.env})  {pipeline.spec}"]
        shown, header = _listed(pipeline)
        for artifact in shown:
            lines.append(f"  {_SYMBOL[artifact.status]} {artifact.path}")
            if pipeline.status == CHANGED:  # a whole pipeline added or removed: its files say enough
                lines += [f"      {' ' * indent}{symbol.strip() and symbol + ' '}{text}" for symbol, indent, text
                          in _artifact(artifact)]
        if header:
            lines.append(f"  ({len(header)} more artifacts differ only in the provenance header)")
    return "\n".join(lines)


def _fence(body: str) -> str:
    """A code fence longer than any run of backticks in `body`."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    return "`" * max(3, longest + 1)


def _statuses(pipeline: PipelineDiff) -> str:
    counts = {s: sum(a.status == s for a in pipeline.artifacts) for s in (ADDED, CHANGED, REMOVED, HEADER_ONLY)}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _markdown_pipeline(pipeline: PipelineDiff) -> list[str]:
    lines = [f"#### `{_SYMBOL[pipeline.status]}` {pipeline.name} ({pipeline.env})", ""]
    if pipeline.status != CHANGED:  # a whole pipeline added or removed: its files say enough
        return [*lines, *_paths(f"{len(pipeline.artifacts)} artifacts {pipeline.status}", pipeline.artifacts)]
    shown, header = _listed(pipeline)
    for artifact in shown:
        body = "\n".join(f"{symbol} {' ' * indent}{text}".rstrip() for symbol, indent, text in _artifact(artifact))
        fence = _fence(body)
        count = len(artifact.changes)
        summary = (f"<code>{_SYMBOL[artifact.status]} {html.escape(artifact.path)}</code> "
                   f"({count} change{'s' if count != 1 else ''})")
        lines += [f"<details><summary>{summary}</summary>", ""]
        lines += [f"{fence}diff", body, fence, ""] if body else []
        lines += ["</details>", ""]
    if header:
        lines += _paths(f"{len(header)} artifacts differ only in the provenance header", header)
    return lines


def _paths(title: str, artifacts: list[ArtifactDiff] | tuple[ArtifactDiff, ...]) -> list[str]:
    """A collapsed list of artifact paths under `title`."""
    return [f"<details><summary>{title}</summary>", "", *(f"- `{a.path}`" for a in artifacts), "", "</details>", ""]


def _markdown(diff: Diff) -> str:
    lines = [f"### {_title(diff, '→')}", "", f"**{diff.summary()}**", ""]
    changed = [p for p in diff.pipelines if p.status != UNCHANGED]
    if changed:
        lines += ["| | pipeline | spec | artifacts |", "|---|---|---|---|"]
        lines += [f"| `{_SYMBOL[p.status]}` | {p.name} ({p.env}) | `{p.spec}` | {_statuses(p)} |" for p in changed]
        lines.append("")
    for pipeline in changed:
        lines += _markdown_pipeline(pipeline)
    return "\n".join(lines).rstrip("\n")


def render_diff(diff: Diff, fmt: str) -> str:
    """`diff` in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(diff.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return _markdown(diff) if fmt == "markdown" else _text(diff)
