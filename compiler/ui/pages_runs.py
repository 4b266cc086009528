"""The HTML of the Runs, Compare, Plans and Monitoring pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from mlform.runtime.htmlpage import escape

from . import svg
from .pages import badge, cell, layout, table, when

__all__ = ["compare_page", "monitoring_page", "plans_page", "runs_page"]

_COLUMNS = (("id", "run"), ("spec", "spec"), ("env", "env"), ("status", "status"), ("started", "started (UTC)"),
            ("duration", "seconds"))


def _link(data: dict[str, Any], **changes: Any) -> str:
    query = {**{k: v for k, v in data["filters"].items() if v}, "sort": data["sort"], "per": data["per"], **changes}
    return "/runs?" + urlencode({k: v for k, v in query.items() if v not in ("", None)})


def _header(data: dict[str, Any], key: str, label: str) -> str:
    sort = data["sort"]
    arrow = " ▲" if sort == key else " ▼" if sort == f"-{key}" else ""
    flipped = f"-{key}" if sort == key else key
    return f'<th><a class="sort" data-sort="{key}" href="{escape(_link(data, sort=flipped, page=1))}">' \
           f"{escape(label)}{arrow}</a></th>"


def _row(run: dict[str, Any]) -> str:
    cells = [f'<input type="checkbox" name="run" value="{escape(run["id"])}" aria-label="compare">',
             f"<code>{escape(run['id'])}</code>", escape(run["spec"]), escape(run["env"]),
             badge(run["status"] != "failed", escape(run["status"]), escape(run["status"])),
             when(run["started"]), cell(run["duration"]),
             "<br>".join(f"{escape(k)}={escape(v)}" for k, v in (run.get("params") or {}).items()),
             "<br>".join(f"{escape(k)}={cell(v)}" for k, v in (run.get("metrics") or {}).items()),
             badge(run.get("gates_passed")),
             "<br>".join(f"{escape(k)}: <code>{escape(str(v)[:12])}</code>"
                         for k, v in (run.get("data") or {}).items())]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def runs_page(data: dict[str, Any]) -> str:
    """One page of the runs table, with sorting links, filters, paging and the compare form."""
    filters = data["filters"]
    form = ('<form class="filters" method="get" action="/runs">'
            f'<input name="q" placeholder="filter: id, spec, env, status" value="{escape(filters["q"])}">'
            f'<input name="spec" placeholder="spec" value="{escape(filters["spec"])}">'
            f'<input name="env" placeholder="env" value="{escape(filters["env"])}">'
            f'<input name="status" placeholder="status" value="{escape(filters["status"])}">'
            f'<input type="hidden" name="sort" value="{escape(data["sort"])}"><button>Filter</button></form>')
    heads = "<th></th>" + "".join(_header(data, k, label) for k, label in _COLUMNS) + \
        "<th>params</th><th>metrics</th><th>gates</th><th>data</th>"
    pager = [f'<span class="meta">{data["total"]} runs · page {data["page"]} of {data["pages"]}</span>']
    if data["page"] > 1:
        pager.insert(0, f'<a rel="prev" href="{escape(_link(data, page=data["page"] - 1))}">← newer</a>')
    if data["page"] < data["pages"]:
        pager.append(f'<a rel="next" href="{escape(_link(data, page=data["page"] + 1))}">older →</a>')
    body = (form + '<form id="compare" method="get" action="/compare">'
            '<p><button id="compare-button" type="submit">Compare selected</button> '
            '<span class="meta">select two or more runs</span></p>'
            f'<table class="runs"><thead><tr>{heads}</tr></thead><tbody>{"".join(_row(r) for r in data["runs"])}'
            f'</tbody></table></form><p class="pager">{" ".join(pager)}</p>')
    api = "/api/runs?" + urlencode({**{k: v for k, v in filters.items() if v}, "sort": data["sort"],
                                    "page": data["page"], "per": data["per"]})
    return layout("Runs", "/runs", body, api)


def _side_by_side(runs: list[dict[str, Any]], kind: str, differs: list[str]) -> str:
    keys = sorted({k for run in runs for k in run[kind]})
    heads = "<th>" + escape(kind) + "</th>" + "".join(f"<th><code>{escape(r['id'])}</code></th>" for r in runs)
    rows = []
    for key in keys:
        css = ' class="differs"' if key in differs else ""
        rows.append(f"<tr{css}><th>{escape(key)}</th>" + "".join(f"<td>{cell(r[kind].get(key))}</td>" for r in runs)
                    + "</tr>")
    return (f'<table class="compare {escape(kind)}"><thead><tr>{heads}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def compare_page(data: dict[str, Any], api: str) -> str:
    """Runs side by side; rows whose values differ highlighted; the metrics as a bar chart."""
    runs = data["runs"]
    missing = "".join(f'<p class="note">run {escape(m)} is not tracked</p>' for m in data["missing"])
    if len(runs) < 2:
        body = missing + "<p>Select two or more runs on the <a href=/runs>Runs</a> page to compare them.</p>"
        return layout("Compare runs", "/runs", body, api)
    shown = (("spec", lambda r: escape(r["spec_name"])), ("env", lambda r: escape(r["env"])),
             ("status", lambda r: escape(r["status"])), ("started (UTC)", lambda r: when(r["started"])),
             ("seconds", lambda r: cell(r["duration"])))
    facts = "".join(f"<tr><th>{label}</th>" + "".join(f"<td>{value(r)}</td>" for r in runs) + "</tr>"
                    for label, value in shown)
    metrics = sorted({k for run in runs for k in run["metrics"]})
    chart = svg.bars([r["id"] for r in runs], {m: [r["metrics"].get(m) for r in runs] for m in metrics}, "metrics")
    body = (missing + f'<table class="compare facts"><tbody>{facts}</tbody></table>'
            f'<h2>Metrics</h2><div class="chart-box">{chart}</div>'
            + _side_by_side(runs, "metrics", data["differs"]["metrics"])
            + "<h2>Params</h2>" + _side_by_side(runs, "params", data["differs"]["params"])
            + "<h2>Data</h2>" + _side_by_side(runs, "data", []))
    return layout("Compare runs", "/runs", body, api)


def _plan(plan: dict[str, Any]) -> str:
    """One plan the way its Markdown pull-request comment reads."""
    parts = [f"<h3>mlform plan: <code>{escape(plan['spec'])}</code> ({escape(plan['env'])})</h3>",
             f"<p><b>{escape(plan.get('summary', ''))}</b></p>"]
    parts += [f'<blockquote class="refused"><b>Refused:</b> {escape(p)}</blockquote>' for p in plan["problems"]]
    parts += [f"<blockquote><b>Note:</b> {escape(n)}</blockquote>" for n in plan["notes"]]
    for kind, title in (("artifact", "Artifacts"), ("step", "Steps"), ("alias", "Aliases")):
        changes = [c for c in plan["changes"] if c["kind"] == kind and (c["action"] != "noop" or kind == "step")]
        if not changes:
            continue
        symbols = {"create": "+", "update": "~", "delete": "-", "run": ">", "noop": "="}
        rows = [(f"<code>{symbols.get(c['action'], '?')}</code>", f"<code>{escape(c['address'])}</code>",
                 escape(c["reason"] or ("skip (cached)" if kind == "step" else ""))) for c in changes]
        parts.append(f"<h4>{title}</h4>" + table(("", "address", "reason"), rows))
        for c in changes:
            if c.get("evidence"):
                items = "".join(f"<li>{escape(e)}</li>" for e in c["evidence"])
                parts.append(f"<details open><summary>evidence for <code>{escape(c['address'])}</code></summary>"
                             f"<ul>{items}</ul></details>")
            if c.get("diff") and not c.get("header_only"):
                parts.append(f"<details><summary>diff of <code>{escape(c['address'])}</code></summary>"
                             f"<pre>{escape(c['diff'])}</pre></details>")
    return '<article class="plan">' + "".join(parts) + "</article>"


def plans_page(data: dict[str, Any]) -> str:
    """The last plan of each environment, then each saved plan file."""
    last = "".join(_plan(p) for p in data["last"]) or "<p>No plan recorded yet: run <code>mlform apply</code>.</p>"
    saved = []
    for file in data["saved"]:
        problem = f'<p class="note">{escape(file["problem"])}</p>' if file["problem"] else ""
        saved.append(f"<section><h3>{escape(file['file'])}</h3>{problem}{''.join(_plan(p) for p in file['plans'])}"
                     "</section>")
    body = ("<h2>Last plan per environment</h2>" + last + "<h2>Saved plans</h2>"
            + ("".join(saved) or "<p>No saved plans (<code>mlform plan --out FILE.plan</code>).</p>"))
    return layout("Plans", "/plans", body, "/api/plans")


def monitoring_page(data: dict[str, Any]) -> str:
    """Per spec and environment: drifted share over time, each report with its breach and a link to it."""
    parts = []
    for pipe in data["pipelines"]:
        envs = []
        for env in pipe["environments"]:
            reports = env["reports"]
            limit = next((r["max_drifted_share"] for r in reversed(reports) if r.get("max_drifted_share") is not None),
                         None)
            chart = svg.line([(str(r.get("generated_at") or r["run"]), r.get("drifted_share")) for r in reports],
                             limit=limit, title="drifted share over time")
            base = f"/report/{escape(pipe['key'])}/{escape(env['env'])}"
            rows = [(escape(r.get("generated_at") or "-"), f"<code>{escape(r['run'])}</code>",
                     cell(r.get("drifted_share")), badge(None if r["missing"] else not r["breached"], "ok", "breach"),
                     escape("; ".join(r.get("reasons") or [])),
                     f'<a href="{base}/{escape(r["fingerprint"])}">report</a> · '
                     f'<a href="{base}/{escape(r["fingerprint"])}.json">json</a>' if not r["missing"] else "missing")
                    for r in reversed(reports)]
            envs.append(f"<h3>{escape(env['env'])}</h3><div class=chart-box>{chart}</div>"
                        + table(("generated", "run", "drifted share", "verdict", "why", ""), rows))
        parts.append(f"<section><h2>{escape(pipe['name'])}</h2>{''.join(envs) or '<p>No drift reports yet.</p>'}"
                     "</section>")
    return layout("Monitoring", "/monitoring", "".join(parts) or "<p>No specs.</p>", "/api/monitoring")
