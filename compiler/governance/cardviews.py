"""Render a model card: JSON, Markdown or self-contained HTML through the templates `card/card.{md,html}.j2`,
the HTML inside the page shell it shares with the drift report (`mlform.runtime.htmlpage`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

from mlform.compiler.artifacts.render import Templates, mdspans
from mlform.runtime.htmlpage import escape, page
from mlform.runtime.monitoring.report_html import Bar, render_bars, render_plot

from .card import FORMAT_VERSION
from .cardreview import review_plots

__all__ = ["render_card", "render_note"]


def _plots(card: dict[str, Any]) -> dict[str, Any]:
    """Inline SVG: every metric against its gate, and the latest monitor result's drift scores and distributions."""
    metrics = card["evaluation"]["metrics"]
    bars = [Bar(m["metric"], m["value"], m["min"], m["max"], m["passed"]) for m in metrics]
    latest = card["drift"]["latest"]
    features = latest["features"] if latest else []
    scores = [Bar(str(f["feature"]), f["score"], None, f["threshold"], None if f["score"] is None else not f["drifted"])
              for f in features]
    return {"metrics": Markup(render_bars("metrics against their gates", bars)) if bars else None,
            "drift": Markup(render_bars("drift score per feature against its threshold", scores)) if scores else None,
            "features": [(str(f["feature"]), Markup(render_plot(f))) for f in features],
            "review": [(title, Markup(svg)) for title, svg in review_plots(card["evaluation"].get("review"))]}


def render_card(card: dict[str, Any], fmt: str, templates: Path | None = None) -> str:
    """The card as `json`, `markdown` or `html`; `templates` replaces built-in templates by name."""
    if fmt == "json":
        return json.dumps(card, indent=2, sort_keys=True, allow_nan=False) + "\n"
    engine = Templates(templates)
    if fmt == "markdown":
        return engine.render("card", "card.md", card=card)
    title = f"Model card: {card['model']['name']} version {card['model']['version']}"
    return page(title, engine.render("card", "card.html", card=card, plots=_plots(card)).strip())


def render_note(note: str, fmt: str) -> str:
    """A card that could not be made, said in one line of the format asked for."""
    if fmt == "json":
        return json.dumps({"format_version": FORMAT_VERSION, "note": note}) + "\n"
    if fmt == "markdown":
        return f"**No model card:** {mdspans(note)}\n"
    return page("No model card", f'<p class="meta">{escape(note)}</p>')
