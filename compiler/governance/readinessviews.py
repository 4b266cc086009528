"""Render readiness as text (terminals), Markdown (pull-request comments) and JSON (`format_version`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from mlform.specs.check.readiness import READINESS_FORMAT, Readiness

__all__ = ["FORMATS", "changes", "render_readiness"]

FORMATS = ("text", "json", "markdown")
_MARK = {"enforced": "✓", "partial": "~", "off": "✗"}


def changes(now: Readiness, before: Readiness | None, new: bool = False) -> list[str]:
    """What moved since `before`: `M5 off -> enforced`, one line per test whose status changed; with `new` (the
    spec or environment is not at the base) every test that is not `off`."""
    if before is None and not new:
        return []
    was = {f.id: f.status for f in before.findings} if before is not None else {}
    return [f"{f.id} {was.get(f.id, 'off')} -> {f.status}" for f in now.findings if was.get(f.id, "off") != f.status]


def _headline(item: Readiness, before: Readiness | None, new: bool) -> str:
    total = len(item.findings)
    if before is None:
        return f"{item.score}/{total} enforced" + (" (new since the base)" if new else "")
    delta = item.score - before.score
    return f"{item.score}/{total} enforced ({delta:+d} since the base: {before.score}/{total})"


def _text(item: Readiness, before: Readiness | None, new: bool) -> str:
    lines = [f"mlform readiness: {item.spec} ({item.env}): {_headline(item, before, new)}", ""]
    for f in item.findings:
        lines.append(f"  {f.id:<4} {f.status:<9} {f.title}")
        lines.append(f"       {f.detail}")
    moved = changes(item, before, new)
    if moved:
        lines += ["", "Changed:", *(f"  {line}" for line in moved)]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(item: Readiness, before: Readiness | None, new: bool) -> str:
    lines = [f"### ML Test Score: `{_cell(item.spec)}` ({item.env}): **{_headline(item, before, new)}**", ""]
    moved = changes(item, before, new)
    if moved:
        lines += ["Changed: " + ", ".join(f"`{line}`" for line in moved), ""]
    lines += ["<details><summary>the 28 tests</summary>", "", "| | id | test | detail |", "|---|---|---|---|"]
    lines += [f"| {_MARK[f.status]} | {f.id} | {_cell(f.title)} | {_cell(f.detail)} |" for f in item.findings]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render_readiness(items: Sequence[Readiness], fmt: str, before: Mapping[tuple[str, str], Readiness] | None = None
                     ) -> str:
    """Several specs' readiness in format `fmt`; `before` (by spec and environment) adds what changed."""
    base = before or {}
    if fmt == "json":
        docs = []
        for item in items:
            doc = item.to_dict()
            previous = base.get((item.spec, item.env))
            if before is not None:  # a spec or environment the base lacks: no base score, every test not off
                doc["base_score"] = previous.score if previous is not None else None
                doc["changed"] = changes(item, previous, new=previous is None)
            docs.append(doc)
        payload = docs[0] if len(docs) == 1 else {"format_version": READINESS_FORMAT, "specs": docs}
        return json.dumps(payload, indent=2, sort_keys=True)
    render = _markdown if fmt == "markdown" else _text
    return "\n\n".join(render(item, base.get((item.spec, item.env)), before is not None
                              and (item.spec, item.env) not in base) for item in items)
