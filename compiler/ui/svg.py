"""Pictures drawn on the server as inline SVG: the step graph, a line over time, grouped bars. No scripts, no CDN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlform.runtime.htmlpage import escape

__all__ = ["bars", "dag", "line"]

_STATUS_FILL = {"ran": "#dff3e7", "cached": "#e7eef9", "failed": "#fbe3e0", "skipped": "#f1f1f1"}
_PALETTE = ("#2f6db5", "#d9822b", "#1f8a4c", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b", "#2c3e50",
            "#e84393")


def _layers(steps: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each step's column: one more than the deepest step it needs."""
    depth: dict[str, int] = {}
    needs = {s["id"]: list(s.get("needs") or []) for s in steps}

    def column(step: str, seen: frozenset[str] = frozenset()) -> int:
        if step not in depth:
            inner = [column(n, seen | {step}) for n in needs.get(step, []) if n in needs and n not in seen]
            depth[step] = 1 + max(inner, default=-1)
        return depth[step]

    for step in needs:
        column(step)
    return depth


def dag(steps: Sequence[Mapping[str, Any]], edges: Sequence[Sequence[str]]) -> str:
    """The step graph left to right, each box coloured by the step's last result."""
    if not steps:
        return ""
    layers = _layers(steps)
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for step in steps:
        col = layers[step["id"]]
        place[step["id"]] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    box_w, box_h, gap_x, gap_y = 150, 34, 50, 14
    width = (max(layers.values()) + 1) * (box_w + gap_x) + 10
    height = max(rows.values()) * (box_h + gap_y) + 10
    parts = [f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="step graph">']
    for source, target in edges:
        if source in place and target in place:
            (c1, r1), (c2, r2) = place[source], place[target]
            x1, y1 = 5 + c1 * (box_w + gap_x) + box_w, 5 + r1 * (box_h + gap_y) + box_h // 2
            x2, y2 = 5 + c2 * (box_w + gap_x), 5 + r2 * (box_h + gap_y) + box_h // 2
            parts.append(f'<path d="M{x1},{y1} C{x1 + 25},{y1} {x2 - 25},{y2} {x2},{y2}" fill="none" '
                         'stroke="#8a94a3" stroke-width="1.5"/>')
    for step in steps:
        col, row = place[step["id"]]
        x, y = 5 + col * (box_w + gap_x), 5 + row * (box_h + gap_y)
        last = step.get("last") or {}
        status = str(last.get("status") or "")
        fill = _STATUS_FILL.get(status, "#ffffff")
        label = escape(step["id"] if len(step["id"]) <= 20 else step["id"][:19] + "…")
        title = escape(f"{step['id']} ({step.get('kind', '')}): {status or 'not run yet'}")
        parts.append(f'<g><title>{title}</title><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
                     f'fill="{fill}" stroke="#5b6573"/><text x="{x + 8}" y="{y + 21}" font-size="12">{label}</text>'
                     "</g>")
    parts.append("</svg>")
    return "".join(parts)


def line(points: Sequence[tuple[str, float | None]], *, limit: float | None = None, title: str = "") -> str:
    """Values over time (labels along x) on a 0..1 scale, with a dashed `limit` line and breaches in red."""
    width, height, pad = 640, 220, 40
    values = [v for _, v in points if v is not None]
    if not values:
        return '<p class="meta">no values to chart</p>'
    top = max(1.0, *values, limit or 0.0)
    n = len(points)

    def x(i: int) -> float:
        return pad + (i * (width - 2 * pad) / (n - 1) if n > 1 else (width - 2 * pad) / 2)

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#5b6573"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#5b6573"/>',
             f'<text x="4" y="{y(top) + 4:.1f}" font-size="11">{top:.2g}</text>',
             f'<text x="4" y="{height - pad + 4}" font-size="11">0</text>']
    if limit is not None:
        parts.append(f'<line x1="{pad}" y1="{y(limit):.1f}" x2="{width - pad}" y2="{y(limit):.1f}" stroke="#c0392b" '
                     'stroke-dasharray="5,4"/>')
    drawn = [(x(i), y(v), v, label) for i, (label, v) in enumerate(points) if v is not None]
    path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py, _, _) in enumerate(drawn))
    parts.append(f'<path d="{path}" fill="none" stroke="#2f6db5" stroke-width="2"/>')
    for px, py, v, label in drawn:
        colour = "#c0392b" if limit is not None and v > limit else "#2f6db5"
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"><title>{escape(label)}: '
                     f"{v:.3g}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def bars(series: Sequence[str], groups: Mapping[str, Sequence[float | None]], title: str = "") -> str:
    """One group of bars per key of `groups` (a metric), one bar per series (a run), scaled per group."""
    if not groups or not series:
        return ""
    bar_w, gap, height, pad = 16, 18, 200, 30
    group_w = max(len(series) * bar_w + gap, 130)
    width = max(pad + len(groups) * group_w, pad + len(series) * 190) + 10
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" '
             f'viewBox="0 0 {width} {height + 60}" role="img" aria-label="{escape(title)}">']
    for g, (name, values) in enumerate(groups.items()):
        present = [abs(v) for v in values if v is not None]
        top = max(present, default=0.0) or 1.0
        x0 = pad + g * group_w
        for i, value in enumerate(values):
            if value is None:
                continue
            h = abs(value) / top * (height - pad)
            parts.append(f'<rect x="{x0 + i * bar_w}" y="{height - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                         f'fill="{_PALETTE[i % len(_PALETTE)]}"><title>{escape(series[i])} {escape(name)}: '
                         f"{value:.4g}</title></rect>")
        parts.append(f'<text x="{x0}" y="{height + 16}" font-size="11">{escape(name.rpartition(".")[2][:18])}</text>')
    for i, label in enumerate(series):
        parts.append(f'<rect x="{pad + i * 190}" y="{height + 32}" width="10" height="10" '
                     f'fill="{_PALETTE[i % len(_PALETTE)]}"/><text x="{pad + i * 190 + 14}" y="{height + 41}" '
                     f'font-size="11">{escape(label[-24:])}</text>')
    parts.append("</svg>")
    return "".join(parts)
