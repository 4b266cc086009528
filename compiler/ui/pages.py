"""The HTML of the Pipelines, Models and Audit pages, and the shell every page shares.

Every value goes through `escape`; only markup built here and in `svg` is trusted. Pages carry no inline
script or style: the stylesheet and script are files the app serves (`/static/...`), so the
Content-Security-Policy can forbid everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from mlform.runtime.htmlpage import escape

from . import svg

__all__ = ["NAV", "audit_page", "cell", "layout", "models_page", "pipelines_page", "table", "when"]

NAV = (("/", "Pipelines"), ("/runs", "Runs"), ("/models", "Models"), ("/plans", "Plans"),
       ("/monitoring", "Monitoring"), ("/audit", "Audit"))


def when(seconds: float | None) -> str:
    """A UTC time from epoch seconds, or `-`."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") if seconds else "-"


def cell(value: Any) -> str:
    """A value as escaped cell text: numbers to 4 significant digits, None as `-`."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table of escaped `headers` over rows of cells that are already markup."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def badge(ok: bool | None, good: str = "passed", bad: str = "failed") -> str:
    """A green, red or grey badge."""
    if ok is None:
        return '<span class="tag">-</span>'
    return f'<span class="tag good">{good}</span>' if ok else f'<span class="tag bad">{bad}</span>'


def layout(title: str, active: str, body: str, api: str) -> str:
    """A whole page: navigation, `title`, `body` (trusted markup) and a link to its JSON twin `api`."""
    nav = "".join(f'<a href="{href}"{" class=active" if href == active else ""}>{name}</a>' for href, name in NAV)
    shown = escape(title)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{shown} · mlform</title>'
            '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">'
            '<link rel="stylesheet" href="/static/ui.css">'
            f'<link rel="alternate" type="application/json" href="{escape(api)}">'
            '<script src="/static/ui.js" defer></script></head>'
            f'<body><header><b>mlform</b><nav>{nav}</nav></header><main><h1>{shown}</h1>{body}'
            f'<p class="meta">JSON: <a href="{escape(api)}">{escape(api)}</a></p></main></body></html>\n')


def _environment(env: dict[str, Any]) -> str:
    state, last = env["state"], env["last_apply"]
    facts = [("backend", escape(env["backend"])),
             ("state", "not applied yet" if state is None else
              f"serial {state['serial']} · lineage <code>{escape(state['lineage'])}</code> · "
              f"{state['artifacts']} artifacts"),
             ("last apply", "-" if last is None else
              f"{escape(last['time'])} by {escape(last['actor'])}@{escape(last['host'])} · "
              f"commit <code>{escape(last['git_commit'] or 'none')}</code> · {escape(last['result'])}"),
             ("spec digest", f"<code>{escape(env['spec_digest'][:12])}</code>" +
              ("" if state is None or state["spec_digest"] == env["spec_digest"]
               else ' <span class="tag bad">changed since the last apply</span>'))]
    if env["state_problem"]:
        facts.append(("problem", f'<span class="note">{escape(env["state_problem"])}</span>'))
    rows = [(escape(s["id"]), escape(s["kind"]), escape((s["last"] or {}).get("status", "-")),
             cell((s["last"] or {}).get("seconds")), escape("; ".join((s["last"] or {}).get("reasons", []))))
            for s in env["steps"]]
    return (f'<section class="env"><h3>{escape(env["env"])}</h3>'
            + table(("", ""), facts, "facts") + f'<div class="graph">{svg.dag(env["steps"], env["edges"])}</div>'
            + table(("step", "kind", "last result", "seconds", "why"), rows) + "</section>")


def pipelines_page(data: dict[str, Any]) -> str:
    """Each spec, each environment with its state, step graph and step results."""
    parts = []
    for pipe in data["pipelines"]:
        errors = "".join(f'<p class="note">{escape(e)}</p>' for e in pipe["errors"])
        parts.append(f'<section class="pipeline" id="p-{escape(pipe["key"])}"><h2>{escape(pipe["name"])} '
                     f'<span class="meta">{escape(pipe["key"])}</span></h2><p>{escape(pipe["description"])}</p>'
                     f'{errors}{"".join(_environment(e) for e in pipe["environments"])}</section>')
    return layout("Pipelines", "/", "".join(parts) or "<p>No specs found.</p>", "/api/pipelines")


def _gates(version: dict[str, Any]) -> str:
    items = "".join(f"<li>{badge(g.get('passed'))} {escape(g.get('message', ''))}</li>" for g in version["gates"])
    return f"<ul class=plain>{items}</ul>" if items else "-"


def _champion(version: dict[str, Any]) -> str:
    champion = version["champion"]
    if not champion:
        return "-"
    return f"{badge(champion.get('passed'), 'won', 'lost')} {escape(champion.get('message', ''))}"


def _lineage(version: dict[str, Any]) -> str:
    lineage = version["lineage"]
    dirty = ' <span class="tag bad">dirty</span>' if lineage["git_dirty"] else ""
    data = "".join(f"<li>{escape(k)}: <code>{escape(str(v)[:19])}</code></li>" for k, v in lineage["data"].items())
    return (f"spec <code>{escape(str(lineage['spec_digest'])[:12])}</code><br>commit "
            f"<code>{escape(lineage['git_commit'] or 'none')}</code>"
            f"{dirty}<br>run {escape(lineage['run_id'] or '-')}"
            f"<ul class=plain>{data}</ul>")


def models_page(data: dict[str, Any]) -> str:
    """Each model: versions with sha256, lineage, aliases per environment, gates and champion; card links."""
    parts = []
    for model in data["models"]:
        aliases = "; ".join(f"{escape(env)}: " + ", ".join(f"{escape(a)}=v{n}" for a, n in sorted(table_.items()))
                            for env, table_ in sorted(model["aliases"].items()))
        rows = [(f"v{v['version']}", escape(v["created"]), f"<code>{escape(v['sha256'][:16])}</code>",
                 "<br>".join(f"{escape(env)}: {escape(', '.join(names))}" for env, names in v["aliases"].items())
                 or "-",
                 "<br>".join(f"{escape(k)}={cell(val)}" for k, val in v["metrics"].items()),
                 _gates(v), _champion(v), _lineage(v),
                 f'<a href="/card/{escape(model["spec"])}/{escape(model["name"])}/{v["version"]}">card</a>')
                for v in model["versions"]]
        parts.append(f'<section><h2>{escape(model["name"])} <span class="meta">{escape(model["spec"])}</span></h2>'
                     f'<p class="meta">aliases: {aliases or "none"}</p>'
                     + table(("version", "created", "sha256", "aliases", "metrics", "gates", "champion", "lineage",
                              ""), rows) + "</section>")
    return layout("Models", "/models", "".join(parts) or "<p>No models registered.</p>", "/api/models")


def audit_page(data: dict[str, Any]) -> str:
    """Each audit log, its chain verified entry by entry; a broken link in red."""
    parts = []
    for log in data["logs"]:
        verdict = ('<p class="verdict ok">hash chain verified</p>' if log["verified"]
                   else '<p class="verdict breach">hash chain BROKEN</p>')
        rows = []
        for row in log["entries"]:
            entry = row["entry"]
            moved = ", ".join(f"{m.get('model')}@{m.get('alias')}: {m.get('from')}→{m.get('to')}"
                              for m in entry.get("promoted") or [] if isinstance(m, dict))
            broken = f'<span class="broken">{badge(False, bad="broken")} {escape(row["problem"])}</span>'
            status = badge(True, "ok") if row["ok"] else broken
            rows.append([cell(entry.get("seq")), escape(entry.get("time", "")), escape(entry.get("command", "")),
                         escape(entry.get("spec", "")), escape(entry.get("env", "")), escape(entry.get("result", "")),
                         escape(f"{entry.get('actor', '')}@{entry.get('host', '')}"), escape(moved),
                         f"<code>{escape(str(entry.get('hash', ''))[7:19])}</code>", status])
        body = table(("seq", "time", "command", "spec", "env", "result", "who", "aliases moved", "hash", "chain"),
                     rows, "audit")
        parts.append(f"<section><h2>{escape(log['where'])}</h2>{verdict}{body}</section>")
    return layout("Audit", "/audit", "".join(parts) or "<p>No audit log.</p>", "/api/audit")
