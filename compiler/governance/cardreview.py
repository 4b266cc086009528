"""The model card's plots of the evaluation review: baseline, per-slice metrics, fairness, decay, importance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlform.runtime.monitoring.report_html import Bar, render_bars

__all__ = ["review_plots"]


def _baseline(block: Mapping[str, Any]) -> list[Bar]:
    bars = []
    for row in block["comparisons"]:
        bars.append(Bar(f"{row['metric']} (model)", row["model"], None, None, row["passed"]))
        bars.append(Bar(f"{row['metric']} (baseline)", row["baseline"]))
    return bars


def _slices(name: str, rows: list[Mapping[str, Any]]) -> tuple[str, list[Bar]]:
    """The chart of one slice: its gated metrics against their gates, else its first metric; titled by which."""
    bars, shown = [], None
    for row in rows:
        if row["status"] == "too_small":
            bars.append(Bar(f"{row['slice']} (too small)", None))
        for gate in row["gates"]:
            bars.append(Bar(f"{row['slice']} {gate['metric']}", gate["value"], gate["min"], gate["max"],
                            gate["passed"]))
        if not row["gates"] and row["metrics"]:
            shown, value = next(iter(row["metrics"].items()))
            bars.append(Bar(f"{row['slice']} {shown}", value))
    if any(row["gates"] for row in rows):
        return f"slice `{name}`: metrics against their gates", bars
    if shown is not None:
        return f"slice `{name}`: {shown} (no gate)", bars
    return f"slice `{name}`: too few rows to score", bars


def _staleness(block: Mapping[str, Any]) -> list[Bar]:
    bars = []
    for window in block["windows"]:
        for metric, value in window.get("metrics", {}).items():
            bars.append(Bar(f"window {window['window']} {metric}", value))
    return bars


def _features(block: Mapping[str, Any]) -> list[Bar]:
    return [Bar(row["feature"], row["importance"], None, None, row["passed"]) for row in block["features"]]


def review_plots(review: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(title, inline SVG) per review block a person would rather look at than read."""
    if not review:
        return []
    plots: list[tuple[str, list[Bar]]] = []
    if review.get("baseline"):
        plots.append(("model against its baseline", _baseline(review["baseline"])))
    plots += [_slices(name, rows) for name, rows in (review.get("slices") or {}).items()]
    if review.get("fairness"):
        fair = review["fairness"]
        gap = "n/a" if fair["gap"] is None else f"{fair['gap']:.4g}"
        plots.append((f"{fair['metric']} per group of {fair['group']} (gap {gap}, max_gap {fair['max_gap']:g})",
                      [Bar(g["group"], g["value"], None, None, fair["passed"]) for g in fair["groups"]]))
    if review.get("staleness"):
        plots.append(("metrics on each later window (trained on window 1)", _staleness(review["staleness"])))
    if review.get("features"):
        plots.append((f"permutation importance ({review['features']['metric']})", _features(review["features"])))
    return [(title, render_bars(title, bars)) for title, bars in plots if bars]
