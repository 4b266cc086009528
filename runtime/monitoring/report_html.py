"""A self-contained HTML monitoring report: verdict, performance, drift table and one inline SVG plot per feature.

The page's look is `mlform.runtime.htmlpage`'s; it and the plots are shared with the model card
(`mlform card --format html`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeGuard

from mlform.runtime.htmlpage import code_text, escape, page, table, tag
from mlform.specs.model.drift_methods import DRIFT_METHODS

__all__ = ["Bar", "render_bars", "render_html", "render_plot"]

REFERENCE_COLOR = "#3b6fd4"
CURRENT_COLOR = "#e8772e"
PASS_COLOR, FAIL_COLOR, NEUTRAL_COLOR = "#1f8a4c", "#c0392b", "#8a94a3"
_WIDTH, _HEIGHT = 420, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 22, 26



def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    return f"{value:.4g}"


def _legend(x: float) -> str:
    return (f'<rect x="{x:.1f}" y="6" width="10" height="10" fill="{REFERENCE_COLOR}" fill-opacity="0.55"/>'
            f'<text x="{x + 14:.1f}" y="15">reference</text>'
            f'<rect x="{x + 80:.1f}" y="6" width="10" height="10" fill="{CURRENT_COLOR}" fill-opacity="0.55"/>'
            f'<text x="{x + 94:.1f}" y="15">current</text>')


def _histogram(dist: dict[str, Any]) -> tuple[int, str]:
    edges, ref, cur = dist["edges"], dist["reference"], dist["current"]
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    top = max(max(ref, default=0), max(cur, default=0)) or 1.0
    width = plot_w / len(ref)
    bars = []
    for shares, color in ((ref, REFERENCE_COLOR), (cur, CURRENT_COLOR)):
        for i, share in enumerate(shares):
            h = plot_h * share / top
            bars.append(f'<rect x="{_LEFT + i * width:.1f}" y="{_TOP + plot_h - h:.1f}" width="{max(width - 1, 1):.1f}"'
                        f' height="{h:.1f}" fill="{color}" fill-opacity="0.55"/>')
    base = _TOP + plot_h
    ticks = (f'<text x="{_LEFT}" y="{base + 16}">{_num(edges[0])}</text>'
             f'<text x="{_LEFT + plot_w / 2:.1f}" y="{base + 16}" text-anchor="middle">'
             f'{_num((edges[0] + edges[-1]) / 2)}</text>'
             f'<text x="{_LEFT + plot_w}" y="{base + 16}" text-anchor="end">{_num(edges[-1])}</text>'
             f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top:.0%}</text>'
             f'<text x="{_LEFT - 4}" y="{base}" text-anchor="end">0%</text>')
    axis = f'<line x1="{_LEFT}" y1="{base}" x2="{_LEFT + plot_w}" y2="{base}" stroke="#8a94a3"/>'
    return _HEIGHT, "".join(bars) + axis + ticks


def _categories(dist: dict[str, Any]) -> tuple[int, str]:
    labels, ref, cur = dist["labels"], dist["reference"], dist["current"]
    label_w, row_h = 120, 18
    height = _TOP + row_h * len(labels) + 8
    plot_w = _WIDTH - label_w - _RIGHT - 36
    top = max(max(ref, default=0), max(cur, default=0)) or 1.0
    parts = []
    for i, label in enumerate(labels):
        y = _TOP + i * row_h
        shown = label if len(label) <= 18 else label[:17] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(shown)}</text>')
        for j, (share, color) in enumerate(((ref[i], REFERENCE_COLOR), (cur[i], CURRENT_COLOR))):
            w = plot_w * share / top
            parts.append(f'<rect x="{label_w}" y="{y + 2 + j * 7}" width="{w:.1f}" height="6" fill="{color}"'
                         f' fill-opacity="0.8"/>')
        parts.append(f'<text x="{label_w + plot_w * max(ref[i], cur[i]) / top + 4:.1f}" y="{y + 12}">'
                     f'{max(ref[i], cur[i]):.0%}</text>')
    return height, "".join(parts)


def render_plot(feature: dict[str, Any]) -> str:
    """An inline SVG of one feature's reference and current distributions."""
    dist = feature["distribution"]
    if not dist["reference"] and not dist["current"]:
        height, body = 40, f'<text x="{_LEFT}" y="30">{escape(feature.get("note") or "no values")}</text>'
    elif dist.get("edges"):
        height, body = _histogram(dist)
    else:
        height, body = _categories(dist)
    name = escape(str(feature["feature"]))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
            f'height="{height}" role="img" aria-label="distribution of {name}" font-size="11" '
            f'font-family="system-ui,sans-serif" fill="#1d232b"><title>{name}: reference vs current</title>'
            f"{_legend(_WIDTH - 190)}{body}</svg>")


class Bar(NamedTuple):
    """One bar of `render_bars`: a value against optional bounds; `ok` colors it (None: nothing to pass)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    ok: bool | None = None


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def render_bars(title: str, bars: Sequence[Bar]) -> str:
    """An inline SVG of horizontal bars from zero, each bound (a gate's `min`/`max`, a threshold) a black tick."""
    label_w, value_w, row_h = 130, 56, 22
    plot_w = _WIDTH - label_w - value_w - _RIGHT
    numbers = [n for bar in bars for n in (bar.value, bar.low, bar.high) if _finite(n)]
    low, high = min([0.0, *numbers]), max([0.0, *numbers])
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return label_w + plot_w * (value - low) / span

    parts = []
    for i, bar in enumerate(bars):
        y = _TOP + i * row_h
        shown = bar.label if len(bar.label) <= 20 else bar.label[:19] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>')
        if _finite(bar.value):
            left, right = sorted((x(0.0), x(bar.value)))
            color = NEUTRAL_COLOR if bar.ok is None else PASS_COLOR if bar.ok else FAIL_COLOR
            parts.append(f'<rect x="{left:.1f}" y="{y + 4}" width="{max(right - left, 1):.1f}" height="{row_h - 8}"'
                         f' fill="{color}" fill-opacity="0.8"/>')
        parts.append(f'<text x="{_WIDTH - _RIGHT}" y="{y + 15}" text-anchor="end">{_num(bar.value)}</text>')
        for bound in (bar.low, bar.high):
            if _finite(bound):
                parts.append(f'<line x1="{x(bound):.1f}" y1="{y + 1}" x2="{x(bound):.1f}" y2="{y + row_h - 1}"'
                             f' stroke="#1d232b" stroke-width="2"/>')
    height = _TOP + row_h * len(bars) + 6
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" font-size="11" '
            f'font-family="system-ui,sans-serif" fill="#1d232b"><title>{escape(title)}</title>'
            f'<text x="{label_w}" y="14" fill="#5b6573">bar: value · tick: bound</text>{"".join(parts)}</svg>')


def _verdict(payload: dict[str, Any]) -> str:
    verdict = payload["verdict"]
    if not verdict["breached"]:
        return ('<section class="verdict ok"><strong>No breach</strong> — drift and performance are within bounds.'
                "</section>")
    items = "".join(f"<li>{code_text(r)}</li>" for r in verdict["reasons"])
    action = escape(verdict["on_breach"])
    return (f'<section class="verdict breach"><strong>Breach</strong> — on breach: <code>{action}</code>'
            f"<ul>{items}</ul></section>")


def _cards(payload: dict[str, Any]) -> str:
    drift, data = payload["drift"], payload["data"]
    cards = [("reference rows", f"{data['reference_rows']:,}", escape(data["reference"])),
             ("current rows", f"{data['current_rows']:,}", escape(data["current"])),
             ("drifted features", f"{len(drift['drifted'])} of {len(drift['features'])}",
              f"share {drift['drifted_share']:.0%}, max {drift['max_drifted_share']:.0%}")]
    return '<div class="cards">' + "".join(
        f'<div class="card">{label}<b>{value}</b><span class="meta">{detail}</span></div>'
        for label, value, detail in cards) + "</div>"


def _performance(payload: dict[str, Any]) -> str:
    perf = payload["performance"]
    if not perf["metrics"]:
        return f'<p class="meta">{code_text(perf["note"] or "no performance gates declared")}</p>'
    rows = (
        f'<tr><td>{escape(name)}</td><td class="num">{_num(m["value"])}</td><td class="num">{_num(m["min"])}</td>'
        f'<td class="num">{_num(m["max"])}</td><td>{tag(not m["passed"], "fails", "passes")}</td></tr>'
        for name, m in perf["metrics"].items())
    return table(("metric", "value", "min", "max", "gate"), rows)


def _drift_table(payload: dict[str, Any]) -> str:
    methods = tuple(DRIFT_METHODS)
    rows = []
    for f in payload["drift"]["features"]:
        stats = "".join(f'<td class="num{" used" if m == f["method"] else ""}">{_num(f["stats"].get(m))}</td>'
                        for m in methods)
        rows.append(f'<tr><td>{escape(str(f["feature"]))}</td><td>{escape(f["kind"])}</td><td>{escape(f["method"])}</td>'
                    f'<td class="num">{_num(f["score"])}</td><td class="num">{_num(f["threshold"])}</td>'
                    f'<td>{tag(f["drifted"], "drifted", "stable")}</td>{stats}'
                    f'<td class="num">{f["reference_count"]:,} / {f["current_count"]:,}</td></tr>')
    return table(("feature", "type", "method", "score", "threshold", "verdict", *methods, "values (ref / cur)"), rows)


def _plots(payload: dict[str, Any]) -> str:
    cards = []
    for f in payload["drift"]["features"]:
        note = f'<p class="note">{escape(f["note"])}</p>' if f.get("note") else ""
        cards.append(f'<div class="plot"><h3>{escape(str(f["feature"]))} '
                     f'{tag(f["drifted"], "drifted", "stable")}</h3>{note}{render_plot(f)}</div>')
    return f'<div class="plots">{"".join(cards)}</div>'


def _checks(payload: dict[str, Any]) -> str:
    checks = payload.get("checks") or []
    if not checks:
        return ""
    rows = (f'<tr><td><code>{escape(c["key"])}</code></td><td>{tag(c["breached"], "breach", "passes")}</td>'
            f'<td>{code_text(c["detail"])}</td></tr>' for c in checks)
    notify = payload.get("notify")
    posted = "" if notify is None else (
        '<p class="meta">breach summary posted to the webhook</p>' if notify["posted"]
        else f'<p class="note">breach summary not posted: {code_text(notify["error"] or "")}</p>')
    return f"<h2>Production checks</h2>{table(('check', 'verdict', 'detail'), rows)}{posted}"


def render_html(payload: dict[str, Any]) -> str:
    """The report page for a monitor JSON payload: no scripts, no external assets."""
    title = f"Monitoring report: {payload['pipeline']} ({payload['env']})"
    return page(title, f'<p class="meta">generated {escape(payload["generated_at"])} · spec digest '
                       f'{escape(payload["spec_digest"][:12])} · drift method '
                       f'<code>{escape(payload["drift"]["method"])}</code>'
                       f' (threshold {_num(payload["drift"]["threshold"])})</p>'
                       f"{_verdict(payload)}{_cards(payload)}<h2>Performance on the current data</h2>"
                       f"{_performance(payload)}{_checks(payload)}<h2>Drift by feature</h2>{_drift_table(payload)}"
                       f"<h2>Distributions</h2>{_plots(payload)}")
