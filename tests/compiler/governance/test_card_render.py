"""Rendering model cards from their data: the facts table, messages in Markdown and the review's chart titles."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.compiler.governance.cardreview import review_plots
from mlform.compiler.governance.cardviews import render_card


def _card(**parts: Any) -> dict[str, Any]:
    """The data of a card with nothing recorded, `parts` replacing its sections."""
    card: dict[str, Any] = {
        "model": {"name": "churn", "version": 3, "sha256": None, "created": None, "aliases": []},
        "spec": {"found": False, "path": "mlform.yaml", "changed": None},
        "metadata": {"description": None, "owners": [], "intended_use": None, "labels": {}},
        "evaluation": {"passed": None, "recomputed": False, "metrics": [], "champion": None, "review": None},
        "data": {"target": None, "features": [], "sources": []},
        "validation": {"available": False},
        "training": {"source": None},
        "drift": {"latest": None, "note": "nothing monitored yet", "total": 0, "breaches": 0},
        "lineage": {"spec_digest": None, "git_commit": None, "git_dirty": None, "run_id": None, "env": None,
                    "data": {}, "python": None, "sklearn": None, "applied": [], "audit_note": None},
        "serving": [], "notes": []}
    for section, value in parts.items():
        card[section] = {**card[section], **value} if isinstance(value, dict) else value
    return card


def _facts(card: dict[str, Any], fmt: str) -> list[str]:
    """The rows of the facts table about aliases and serving."""
    text = render_card(card, fmt)
    if fmt == "markdown":
        return [line for line in text.splitlines() if line.startswith(("| Aliases", "| Served in"))]
    return [line for line in text.splitlines() if line.startswith(("<tr><th>Aliases", "<tr><th>Served in"))]


STAGING = [{"env": "dev", "aliases": ["staging"], "pinned": False}]


@pytest.mark.parametrize(("aliases", "serving", "markdown", "html"), [
    # read without an environment: the default environment names no alias, dev does
    ([], STAGING, ["| Served in | dev (staging) |"], ["<tr><th>Served in</th><td>dev (staging)</td></tr>"]),
    # read in dev: its aliases are those "Served in" names
    (["staging"], STAGING, ["| Served in | dev (staging) |"], ["<tr><th>Served in</th><td>dev (staging)</td></tr>"]),
    # no spec to name environments: the aliases are all there is
    (["staging"], [], ["| Aliases | staging |", "| Served in | no environment |"],
     ["<tr><th>Aliases</th><td>staging</td></tr>", "<tr><th>Served in</th><td>no environment</td></tr>"]),
    ([], [], ["| Served in | no environment |"], ["<tr><th>Served in</th><td>no environment</td></tr>"]),
])
def test_aliases_show_only_when_served_in_does_not_name_them(aliases: list[str], serving: list[dict[str, Any]],
                                                             markdown: list[str], html: list[str]) -> None:
    card = _card(model={"aliases": aliases}, serving=serving)
    assert _facts(card, "markdown") == markdown
    assert _facts(card, "html") == html


def _check(message: str) -> dict[str, Any]:
    return {"review": {"checks": [{"message": message, "key": "evaluation.slices.s", "passed": False,
                                   "warning": False}]}}


@pytest.mark.parametrize(("message", "cell"), [
    ("model beats baseline `DummyClassifier` on `accuracy`: 0.93",
     "model beats baseline `DummyClassifier` on `accuracy`: 0.93"),
    # a value in a code span is shown as is (GitHub escapes HTML inside it); a pipe still needs the cell's escape
    ("slice `<img src=x onerror=alert(1)>|*x*` fails", "slice `<img src=x onerror=alert(1)>\\|*x*` fails"),
    # outside code spans nothing is syntax: HTML, emphasis, links and pipes are escaped
    ("<b>x</b> *y* [l](https://evil.example) a|b `c`", "&lt;b&gt;x&lt;/b&gt; \\*y\\* \\[l\\](https://evil.example) "
                                                       "a\\|b `c`"),
    # backticks pair left to right; one left over opens nothing; spaces at both ends of a span are kept; a line
    # break cannot end the row
    ("odd ` tick `a`\n| injected | row |", "odd `  tick  `a\\` \\| injected \\| row \\|"),
    ("`a`b`", "`a`b\\`"),
    ("`` and ` x `", "\\``  and  ` x \\`"),
])
def test_markdown_messages_render_their_code_spans_and_escape_the_rest(message: str, cell: str) -> None:
    card = render_card(_card(evaluation=_check(message)), "markdown")
    assert f"| {cell} | evaluation.slices.s | ❌ fail |" in card.splitlines()


@pytest.mark.parametrize(("message", "cell"), [
    ("model beats baseline `DummyClassifier` on `accuracy`: 0.93",
     "model beats baseline <code>DummyClassifier</code> on <code>accuracy</code>: 0.93"),
    # inside a code span and out of it, every HTML character is escaped: no user text reaches the page as markup
    ("slice `<img src=x onerror=alert(1)>` & \"q\" 'a' <b>x</b>",
     "slice <code>&lt;img src=x onerror=alert(1)&gt;</code> &amp; &quot;q&quot; &#x27;a&#x27; &lt;b&gt;x&lt;/b&gt;"),
    # backticks pair left to right, as in the Markdown card; one left over stays a backtick
    ("odd ` tick `a`", "odd <code> tick </code>a`"),
    ("`` and `x`", "`<code> and </code>x`"),
])
def test_html_messages_render_their_code_spans_as_code_and_escape_everything(message: str, cell: str) -> None:
    card = render_card(_card(evaluation=_check(message)), "html")
    assert (f'<tr><td>{cell}</td><td><code>evaluation.slices.s</code></td><td><span class="tag bad">fail</span>'
            "</td></tr>") in card.splitlines()


def test_every_message_of_the_html_card_shows_its_code_spans_as_code() -> None:
    message, shown = "see `a<b>` & more", "see <code>a&lt;b&gt;</code> &amp; more"
    failure = {"rule": "max", "column": "x", "failed": 2, "message": message}
    latest = {"breached": True, "time": None, "env": "dev", "drifted": [], "features": [], "drifted_share": 0.0,
              "max_drifted_share": 0.5, "reasons": [message]}
    card = _card(evaluation={"champion": {"metric": "accuracy", "alias": "staging", "passed": True, "message": message},
                             **_check(message)},
                 validation={"available": True, "ok": False, "rules": 3, "rows": 10, "failures": [failure]},
                 drift={"latest": latest}, lineage={"audit_note": message}, notes=[message])
    html = render_card(card, "html")
    places = ["champion", "review check", "validation failure", "drift reason", "audit note", "note"]
    assert html.count(shown) == len(places)
    assert "`" not in html
    none_yet = render_card(_card(drift={"note": message}), "html")
    assert f"No drift status: {shown}." in none_yet


def _row(label: str, status: str = "passed", gated: bool = False) -> dict[str, Any]:
    if status == "too_small":
        return {"slice": label, "rows": 3, "status": status, "metrics": {}, "gates": []}
    gates = [{"metric": "recall", "value": 0.7, "min": 0.6, "max": None, "passed": True}] if gated else []
    return {"slice": label, "rows": 40, "status": status, "metrics": {"accuracy": 0.9, "recall": 0.7}, "gates": gates}


@pytest.mark.parametrize(("rows", "title"), [
    ([_row("a", gated=True), _row("b", "too_small")], "slice `region`: metrics against their gates"),
    ([_row("a"), _row("b", "too_small")], "slice `region`: accuracy (no gate)"),
    ([_row("a", "too_small")], "slice `region`: too few rows to score"),
])
def test_a_slice_chart_is_titled_by_what_it_shows(rows: list[dict[str, Any]], title: str) -> None:
    assert [shown for shown, _ in review_plots({"slices": {"region": rows}})] == [title]
    card = render_card(_card(evaluation={"review": {"checks": [], "slices": {"region": rows}}}), "html")
    assert f'aria-label="{title}"' in card
