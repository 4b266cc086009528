"""`mlform card`: model cards from real applies of the iris example, in JSON, Markdown and self-contained HTML."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools.sklearn_reference import forest_scores

from mlform.compiler.governance.cardviews import render_note

IRIS = Path(__file__).resolve().parents[3] / "examples" / "iris"
MLFORM = str(Path(sys.executable).with_name("mlform"))
SVG = "{http://www.w3.org/2000/svg}"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SECTIONS = ["## Evaluation", "## Data", "## Validation", "## Training", "## Drift since deployment", "## Lineage"]
HOSTILE_OWNER = "<script>alert(1)</script>"
HOSTILE_OWNER_2 = "a|b `c` [x](https://evil.example) *y*"
HOSTILE_DESCRIPTION = "line one\n| injected | row |\n<img src=x onerror=alert(1)>"


Result = tuple[int, str, str]  # exit code, stdout, stderr


def _copy_iris(target: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    shutil.copytree(IRIS, target, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    if edit is not None:
        spec = target / "mlform.yaml"
        doc = yaml.safe_load(spec.read_text())
        edit(doc)
        spec.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def _real(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFORM_HOME"}
    done = subprocess.run([*args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _pin_prod(doc: dict[str, Any]) -> None:
    doc["environments"]["prod"]["registry"] = {"production": 1}


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three applies in a git repo: dev registers v1 then v2 (staging), prod registers v3 and pins v1 to production."""
    root = _copy_iris(tmp_path_factory.mktemp("card") / "iris")
    _real(root, "git", "init", "-q", ".")
    _real(root, "git", "add", "-A")
    _real(root, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "iris")
    _real(root, MLFORM, "apply", ".", "--env", "dev", "--yes")
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 25"))
    _real(root, MLFORM, "apply", ".", "--env", "dev", "--yes")
    doc = yaml.safe_load(spec.read_text())
    _pin_prod(doc)
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    _real(root, MLFORM, "apply", ".", "--env", "prod", "--yes")
    return root


@pytest.fixture
def mlform(run_mlform: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `mlform ARGS...` in-process from `cwd`."""
    monkeypatch.delenv("MLFORM_HOME", raising=False)
    return lambda cwd, *args: run_mlform(*args, cwd=cwd)


def _json(result: Result) -> dict[str, Any]:
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_spec_card_is_the_pinned_version_with_everything_mlform_knows(applied: Path, mlform: Any) -> None:
    card = _json(mlform(applied, "card", ".", "--env", "prod", "--format", "json"))
    assert card["format_version"] == 1
    assert (card["model"]["name"], card["model"]["version"]) == ("iris-classifier", 1)
    assert card["model"]["aliases"] == ["production"]
    assert card["metadata"]["owners"] == ["ml-platform@example.com"]
    assert card["metadata"]["intended_use"] == "Teaching example; not for botanical decisions."
    evaluation = card["evaluation"]
    assert (evaluation["passed"], evaluation["recomputed"]) == (True, False)
    assert [(m["metric"], m["min"], m["max"], m["passed"]) for m in evaluation["metrics"]] == [
        ("accuracy", 0.9, None, True), ("f1_macro", 0.9, None, True)]
    assert evaluation["champion"]["message"] == "no champion at alias `production`: the challenger wins by default"
    state = json.loads((applied / ".mlform/state/iris.dev.json").read_text())
    sources = {s["name"]: s for s in card["data"]["sources"]}
    assert sources["train"] == {
        "name": "train", "type": "csv", "location": "data/iris.csv", "training": True, "rows": 150, "columns": 5,
        "fingerprint": state["steps"]["ingest.train"]["fingerprint"],
        "digest": "sha256:" + hashlib.sha256((applied / "data/iris.csv").read_bytes()).hexdigest()}
    assert (sources["live"]["rows"], sources["live"]["training"]) == (60, False)
    validation = card["validation"]
    assert (validation["available"], validation["ok"], validation["rows"], validation["rules"]) == (True, True, 150, 20)
    training = card["training"]
    assert training["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert training["params"] == {"n_estimators": "20", "max_depth": "5", "random_state": "42"}  # v1 trained in dev
    assert card["serving"] == [{"env": "prod", "aliases": ["production"], "pinned": True}]
    head = _real(applied, "git", "rev-parse", "HEAD").stdout.strip()
    lineage = card["lineage"]
    assert (lineage["git_commit"], lineage["env"]) == (head, "dev")
    assert [(e["env"], e["registered"], e["promoted"]) for e in lineage["applied"]] == [
        ("dev", True, ["staging"]), ("prod", False, ["production"])]
    assert all(e["actor"] and e["time"] for e in lineage["applied"])
    drift = card["drift"]
    assert (drift["total"], drift["breaches"], drift["note"]) == (2, 0, None)
    assert drift["latest"]["env"] == "prod"
    assert [f["feature"] for f in drift["latest"]["features"]] == FEATURES
    assert card["spec"]["changed"] is None  # trained in dev, described for prod: digests are not comparable


def test_model_ref_card_finds_its_spec_through_the_lineage(applied: Path, mlform: Any) -> None:
    result = mlform(applied, "card", "iris-classifier@2")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "# Model card: iris-classifier version 2"
    assert [line for line in lines if line.startswith("## ")] == SECTIONS
    assert "| Owners | ml-platform@example.com |" in lines
    assert "| Served in | dev (staging) |" in lines
    accuracy, _ = forest_scores(applied / "mlform.yaml", n_estimators=25)  # version 2: dev, then 25 trees
    assert f"| accuracy | {accuracy} | 0.9 | – | ✅ pass |" in lines
    assert "| n\\_estimators | 25 |" in lines
    assert "| 2 | " in result.out and "| dev | " in result.out  # the second dev apply registered it
    staging = _json(mlform(applied, "card", "iris-classifier@staging", "--env", "prod", "--format", "json"))
    assert staging["model"]["version"] == 3
    assert staging["lineage"]["applied"][0]["env"] == "prod"


def test_a_spec_card_of_an_environment_without_its_own_version_says_it_is_the_latest(applied: Path,
                                                                                      mlform: Any) -> None:
    card = _json(mlform(applied, "card", ".", "--format", "json"))
    assert card["model"]["version"] == 3
    assert card["notes"] == ["environment `default` pins no version (`registry.production`) and none is at `staging` "
                             "there: this is the latest version, trained in `prod`"]
    assert _json(mlform(applied, "card", ".", "--env", "prod", "--format", "json"))["notes"] == []


def test_a_version_without_a_recorded_verdict_gets_its_gates_recomputed(applied: Path, mlform: Any,
                                                                        tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(applied / ".mlform" / "registry", registry)
    meta_path = registry / "iris-classifier" / "versions" / "2" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["evaluation"]
    meta_path.write_text(json.dumps(meta))
    card = _json(mlform(tmp_path, "card", "iris-classifier@2", "--registry", registry, "--format", "json"))
    evaluation = card["evaluation"]
    assert (evaluation["passed"], evaluation["recomputed"], evaluation["champion"]) == (True, True, None)
    accuracy, f1_macro = forest_scores(applied / "mlform.yaml", n_estimators=25)
    assert [g["message"] for g in evaluation["gates"]] == [
        f"gate `evaluation.gates.accuracy` passed: {accuracy}", f"gate `evaluation.gates.f1_macro` passed: {f1_macro}"]
    assert card["serving"] == []  # the environments serve from another registry
    markdown = mlform(tmp_path, "card", "iris-classifier@2", "--registry", registry).out
    assert "recomputed from the recorded metrics and the current spec's gates" in markdown


class _Page(HTMLParser):
    """Every start tag, attribute name and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _assert_self_contained(html: str) -> None:
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=", html, re.IGNORECASE)
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_html_card_is_self_contained_with_metric_and_drift_plots(applied: Path, mlform: Any) -> None:
    target = applied / "cards" / "card.html"
    result = mlform(applied, "card", ".", "--env", "prod", "--format", "html", "--output", target)
    assert (result.code, result.out, result.err) == (0, "", f"Wrote the model card to {target}.\n")
    assert os.listdir(target.parent) == ["card.html"]
    html = target.read_text()
    _assert_self_contained(html)
    page = _page(html)
    assert page.tags[:2] == ["html", "head"] and "style" in page.tags
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(svgs) == 2 + len(FEATURES)  # metrics vs gates, drift scores, one distribution per feature
    titles = [ET.fromstring(svg).find(f"{SVG}title").text for svg in svgs]  # type: ignore[union-attr]
    assert titles[:2] == ["metrics against their gates", "drift score per feature against its threshold"]
    metric_bars = ET.fromstring(svgs[0])
    assert len(metric_bars.findall(f"{SVG}rect")) == 2 and len(metric_bars.findall(f"{SVG}line")) == 2
    assert "Evaluation passed" in page.text


def test_output_replaces_a_file_only_with_a_whole_card(applied: Path, mlform: Any, tmp_path: Path) -> None:
    target = tmp_path / "card.md"
    target.write_text("old card\n")
    target.chmod(0o640)
    broken = tmp_path / "templates" / "card"
    broken.mkdir(parents=True)
    (broken / "card.md.j2").write_text("{{ card.nothing_here }}\n")
    failed = mlform(applied, "card", ".", "--output", target, "--templates", tmp_path / "templates")
    assert (failed.code, failed.err) == (1, ("error: target `card`: template `card/card.md.j2` failed: "
                                             "'dict object' has no attribute 'nothing_here'\n"))
    assert target.read_text() == "old card\n"
    assert mlform(applied, "card", ".", "--output", target).code == 0
    assert target.read_text().startswith("# Model card: iris-classifier version 3\n")
    assert (target.stat().st_mode & 0o777, sorted(os.listdir(tmp_path))) == (0o640, ["card.md", "templates"])


def test_promotion_prints_a_card_only_for_a_pending_promotion(applied: Path, mlform: Any, tmp_path: Path) -> None:
    root = tmp_path / "iris"
    shutil.copytree(applied, root)
    assert mlform(root, "card", ".", "--env", "prod", "--promotion") == (0, "", "")
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("production: 1", "production: 2"))
    pending = mlform(root, "card", ".", "--env", "prod", "--promotion")
    assert pending.out.startswith("# Model card: iris-classifier version 2\n")
    assert mlform(root, "card", ".", "--env", "dev", "--promotion") == (0, "", "")  # dev pins nothing
    empty = tmp_path / "unreachable"
    note = mlform(root, "card", ".", "--env", "prod", "--promotion", "--registry", empty, "--output", "card.md")
    assert (note.code, note.out) == (0, "")
    assert (root / "card.md").read_text() == (
        "**No model card:** `iris-classifier` version 2, pinned by `registry.production` for `prod`, is "
        "not in the registry reachable here: model `iris-classifier` is not registered (registered: none)\n")
    refused = mlform(root, "card", "iris-classifier@1", "--promotion")
    assert refused.code == 1
    assert "`--promotion` needs a SPEC; `iris-classifier@1` is not a spec file or folder" in refused.err


@pytest.mark.parametrize(("target", "message"), [
    ("iris-classifier@9", "model `iris-classifier` has no version 9 (versions: 1..3)"),
    ("iris-classifier@canary",
     "model `iris-classifier` has no alias `canary` in environment `prod` (aliases: `production`, `staging`)"),
    ("fraud-detector@1", "model `fraud-detector` is not registered (registered: `iris-classifier`)"),
    ("no-such-thing", ("`no-such-thing` is neither a spec (no such file or folder) nor MODEL@VERSION or "
                       "MODEL@ALIAS, e.g. `iris-classifier@3`")),
])
def test_unknown_targets_fail_with_what_is_known(applied: Path, mlform: Any, target: str, message: str) -> None:
    assert mlform(applied, "card", target, "--env", "prod") == (1, "", f"error: {message}\n")


def test_a_spec_with_nothing_registered_says_so(mlform: Any, tmp_path: Path) -> None:
    root = _copy_iris(tmp_path / "iris")
    assert mlform(root, "card", ".") == (1, "", "error: model `iris-classifier` is not registered "
                                                      "(registered: none)\n")


def _table_shapes(markdown: str) -> list[set[int]]:
    """For each Markdown table, the numbers of unescaped pipes its lines have."""
    tables: list[set[int]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append(set())
            tables[-1].add(len(re.findall(r"(?<!\\)\|", line)))
        previous = line
    return tables


def test_hostile_owner_and_description_are_escaped_everywhere(mlform: Any, tmp_path: Path) -> None:
    def hostile(doc: dict[str, Any]) -> None:
        doc["metadata"].update(owners=[HOSTILE_OWNER, HOSTILE_OWNER_2], description=HOSTILE_DESCRIPTION,
                               intended_use="**bold** _under_ ~~gone~~ </td></tr>")

    root = _copy_iris(tmp_path / "iris", hostile)
    assert mlform(root, "run", ".").code == 0
    card = _json(mlform(root, "card", ".", "--format", "json"))
    assert card["metadata"]["owners"] == [HOSTILE_OWNER, HOSTILE_OWNER_2]
    markdown = mlform(root, "card", ".").out
    assert all(len(shape) == 1 for shape in _table_shapes(markdown))  # no value adds or splits a cell
    assert "<script" not in markdown and "<img" not in markdown and "</td>" not in markdown
    assert ("| Owners | &lt;script&gt;alert(1)&lt;/script&gt;, a\\|b \\`c\\` \\[x\\](https://evil.example) \\*y\\* |"
            in markdown.splitlines())
    assert ("**Description:** line one \\| injected \\| row \\| &lt;img src=x onerror=alert(1)&gt;"
            in markdown.splitlines())
    assert "| Intended use | \\*\\*bold\\*\\* \\_under\\_ \\~\\~gone\\~\\~ &lt;/td&gt;&lt;/tr&gt; |" in markdown
    page = _page(mlform(root, "card", ".", "--format", "html").out)
    assert not {"script", "img", "link", "iframe", "a"} & set(page.tags)
    assert not {"src", "href", "onerror"} & page.attributes
    assert f"{HOSTILE_OWNER}, {HOSTILE_OWNER_2}" in page.text
    assert "**bold** _under_ ~~gone~~ </td></tr>" in page.text


def _shell(html: str) -> tuple[str, str, str]:
    """What a page holds around its content: the head up to the title, the style, and the closing tags."""
    style = re.search(r"<style>.*?</style>", html, flags=re.DOTALL)
    assert style is not None
    return html.partition("<title>")[0], style.group(), html[html.rindex("</main>"):]


def test_the_card_and_the_drift_report_share_one_page_shell(applied: Path, mlform: Any, tmp_path: Path) -> None:
    card = mlform(applied, "card", ".", "--env", "prod", "--format", "html").out
    mlform(applied, "monitor", ".", "--env", "prod", "--out", tmp_path)
    report = (tmp_path / "monitor.html").read_text()
    note = render_note("version `9` of <iris> & co is not registered", "html")
    assert _shell(card) == _shell(report) == _shell(note)
    for html, title in ((card, "Model card: iris-classifier version 1"), (report, "Monitoring report: iris (prod)"),
                        (note, "No model card")):
        assert f"<title>{title}</title>" in html and f"<h1>{title}</h1>" in html
    assert "version `9` of &lt;iris&gt; &amp; co is not registered" in note


def test_the_card_shows_the_params_tuning_chose_over_the_spec_s(mlform: Any, tmp_path: Path) -> None:
    def tune(doc: dict[str, Any]) -> None:  # one candidate: the search can only choose max_depth 2 over the spec's 5
        doc["model"]["tuning"] = {"method": "grid", "cv": 2, "params": {"max_depth": [2]}}

    root = _copy_iris(tmp_path / "iris", tune)
    assert mlform(root, "run", ".", "--env", "dev").code == 0
    training = _json(mlform(root, "card", ".", "--env", "dev", "--format", "json"))["training"]
    assert training["params"]["max_depth"] == "2"
