"""Render plans as text (terminals), Markdown (pull-request comments) and JSON (machines)."""

from __future__ import annotations

from collections.abc import Sequence

from .plans import Action, Change, Plan

__all__ = ["FORMATS", "render_plans"]

FORMATS = ("text", "markdown", "json")
_SECTIONS = (("artifact", "Artifacts"), ("step", "Steps"), ("alias", "Aliases"))


def _short(value: object) -> str:
    text = "none" if value is None else str(value)
    if text.startswith("sha256:"):
        text = text[7:]
    return text[:12] if len(text) == 64 else text


def _text_change(change: Change) -> list[str]:
    label = "skip (cached)" if change.kind == "step" and change.action is Action.NOOP else ""
    line = f"  {change.action.value} {change.address}"
    reason = change.reason or label
    lines = [f"{line:<44} {reason}".rstrip()]
    if change.diff and not change.header_only:
        lines += [f"      {d}" for d in change.diff.splitlines()]
    lines += [f"      {e}" for e in change.evidence]
    return lines


def _text(plan: Plan) -> str:
    lines = [f"mlform plan: {plan.spec} ({plan.env})"]
    lines += [f"\nNote: {note}" for note in plan.notes]
    for kind, title in _SECTIONS:
        changes = plan.of(kind)
        if not changes:
            continue
        lines.append(f"\n{title}:")
        shown = [c for c in changes if c.action is not Action.NOOP or kind == "step"]
        for change in shown:
            lines += _text_change(change)
        unchanged = len(changes) - len(shown)
        if unchanged:
            lines.append(f"  ({unchanged} unchanged)")
    lines += [f"\nError: {problem}" for problem in plan.problems]
    lines.append(f"\n{plan.summary()}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(plan: Plan) -> str:
    lines = [f"### mlform plan: `{plan.spec}` ({plan.env})", "", f"**{plan.summary()}**", ""]
    lines += [line for problem in plan.problems for line in (f"> **Refused:** {_escape(problem)}", "")]
    lines += [line for note in plan.notes for line in (f"> **Note:** {_escape(note)}", "")]
    for kind, title in _SECTIONS:
        changes = [c for c in plan.of(kind) if c.action is not Action.NOOP or kind == "step"]
        if not changes:
            continue
        lines += [f"#### {title}", "", "| | address | reason |", "|---|---|---|"]
        for change in changes:
            reason = change.reason or ("skip (cached)" if change.kind == "step" else "")
            lines.append(f"| `{change.action.value}` | `{_escape(change.address)}` | {_escape(reason)} |")
        lines.append("")
        for change in changes:
            if change.evidence:
                lines += [f"<details open><summary>evidence for <code>{change.address}</code></summary>", "",
                          *(f"- {_escape(e)}" for e in change.evidence), "", "</details>", ""]
            if change.diff and not change.header_only:
                lines += [f"<details><summary>diff of <code>{change.address}</code></summary>", "",
                          "```diff", change.diff.rstrip("\n"), "```", "", "</details>", ""]
    return "\n".join(lines)


def render_plans(plans: Sequence[Plan], fmt: str) -> str:
    """Several plans in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        import json

        from .plans import PLAN_FORMAT

        return json.dumps({"format_version": PLAN_FORMAT, "plans": [p.to_dict() for p in plans]},
                          indent=2, sort_keys=True)
    render = _markdown if fmt == "markdown" else _text
    return "\n\n".join(render(p) for p in plans)
