"""`mlform ui`'s app in-process: every page and JSON twin, escaping, read-only, traversal, CSP, secrets."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from conftest import PAYLOAD, Client

PAGES = ("/", "/runs", "/models", "/plans", "/monitoring", "/audit")
APIS = ("/api/pipelines", "/api/runs", "/api/models", "/api/plans", "/api/monitoring", "/api/audit", "/api")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_strict_policy_and_links_its_json_twin(client: Client, page: str) -> None:
    answer = client.get(page)
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert '<link rel="alternate" type="application/json" href="/api/' in answer.text
    assert "<script>" not in answer.text and " style=" not in answer.text  # no inline code for the CSP to forbid


@pytest.mark.parametrize("api", APIS)
def test_every_json_twin_answers_json(client: Client, api: str) -> None:
    answer = client.get(api)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert isinstance(json.loads(answer.body), dict)


def test_the_pages_show_what_apply_and_monitor_recorded(client: Client) -> None:
    pipelines = json.loads(client.get("/api/pipelines").body)["pipelines"]
    (iris,) = pipelines
    dev = next(env for env in iris["environments"] if env["env"] == "dev")
    assert dev["state"]["serial"] >= 1 and dev["last_apply"]["result"] == "applied"
    assert {s["id"] for s in dev["steps"]} >= {"train", "evaluate", "register"}
    assert all(s["last"] and s["last"]["status"] in ("ran", "cached") for s in dev["steps"] if s["id"] == "train")
    assert "<svg" in client.get("/").text
    (model,) = json.loads(client.get("/api/models").body)["models"]
    assert len(model["versions"][0]["sha256"]) == 64 and model["aliases"]["dev"]["staging"] == 1
    assert client.get(f"/card/iris/{model['name']}/1").status == 200
    monitoring = json.loads(client.get("/api/monitoring").body)["pipelines"][0]["environments"]
    report = monitoring[0]["reports"][-1]
    assert report["drifted_share"] is not None
    assert client.get(f"/report/iris/dev/{report['fingerprint']}").status == 200
    plans = json.loads(client.get("/api/plans").body)
    assert [p["env"] for p in plans["last"]] == ["dev"]
    assert plans["saved"][0]["file"] == "dev.plan" and plans["saved"][0]["plans"][0]["env"] == "dev"
    assert "mlform plan: <code>" in client.get("/plans").text


@pytest.mark.parametrize("page", [*PAGES, "/compare?run=20200101T000000-payload&run=2"])
def test_script_payloads_reach_pages_only_escaped(client: Client, page: str) -> None:
    text = client.get(page).text
    assert PAYLOAD not in text
    assert "<script>window" not in text and "<img src=x" not in text


def test_payloads_are_shown_as_text(client: Client) -> None:
    assert html.escape(PAYLOAD) in client.get("/").text  # the description
    runs = client.get("/runs?q=payload").text
    assert html.escape(f"model.params.{PAYLOAD}") in runs  # a param name
    assert html.escape(f"evaluate.{PAYLOAD}") in runs  # a metric name


def test_a_comparison_highlights_differences_and_charts_metrics(client: Client) -> None:
    ids = [run["id"] for run in json.loads(client.get("/api/runs?per=200").body)["runs"]]
    assert len(ids) >= 2
    query = f"run={ids[0]}&run={ids[-1]}"
    data = json.loads(client.get(f"/api/compare?{query}").body)
    assert [r["id"] for r in data["runs"]] == [ids[0], ids[-1]]
    assert "evaluate.accuracy" in data["differs"]["metrics"]
    page = client.get(f"/compare?{query}").text
    assert '<tr class="differs"><th>evaluate.accuracy</th>' in page and "<svg" in page


def test_runs_are_paged_sorted_and_filtered(client: Client) -> None:
    every = json.loads(client.get("/api/runs?per=200").body)
    one = json.loads(client.get("/api/runs?per=1&page=2&sort=started").body)
    assert one["pages"] == every["total"] and len(one["runs"]) == 1
    oldest_first = sorted(every["runs"], key=lambda r: r["started"])
    assert one["runs"][0]["id"] == oldest_first[1]["id"]
    assert [r["id"] for r in json.loads(client.get("/api/runs?q=payload").body)["runs"]] == [
        "20200101T000000-payload"]


def test_a_new_run_shows_at_once(applied: Path, client: Client) -> None:
    from mlform.runtime.tracking.sqlite import SqliteTracker

    before = json.loads(client.get("/api/runs").body)["total"]
    tracker = SqliteTracker(applied / "iris" / ".mlform" / "tracking.db")
    try:
        tracker.start_run("20300101T000000-newest", "iris", "dev", "mlform.yaml", "0" * 64, {})
    finally:
        tracker.close()
    after = json.loads(client.get("/api/runs").body)
    assert after["total"] == before + 1 and after["runs"][0]["id"] == "20300101T000000-newest"


def test_secret_values_are_never_shown(client: Client) -> None:
    for target in ("/runs?q=payload", "/api/runs?q=payload", "/compare?run=20200101T000000-payload&run=x",
                   "/api/compare?run=20200101T000000-payload"):
        assert "hunter2" not in client.get(target).text
    params = json.loads(client.get("/api/compare?run=20200101T000000-payload").body)["runs"][0]["params"]
    assert params["db.password"] == "***"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head_are_answered(client: Client, method: str) -> None:
    answer = client.request(method, "/api/runs")
    assert answer.status == 405 and answer.headers["allow"] == "GET, HEAD"
    head = client.request("HEAD", "/runs")
    assert head.status == 200 and head.body == b""


@pytest.mark.parametrize("target", [
    "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e/ui.css", "/report/iris/dev/..%2f..%2f..%2fmlform.yaml",
    "/static/../../pyproject.toml", "/card/..%2F..%2Firis/x/1", "/static/..%5cui.css",
])
def test_path_traversal_is_refused(client: Client, target: str) -> None:
    answer = client.get(target)
    assert answer.status == 400
    assert "iris" not in answer.text.split("</h1>")[1].split("refused")[0]


@pytest.mark.parametrize("target", ["/static/app.py", "/report/iris/dev/abc", "/report/nope/dev/" + "a" * 64,
                                    "/card/iris/iris-classifier/99", "/nothing"])
def test_unknown_names_are_not_found(client: Client, target: str) -> None:
    assert client.get(target).status == 404


def test_a_broken_audit_chain_shows_in_red(applied: Path, client: Client) -> None:
    log = applied / "iris" / ".mlform" / "audit" / "log.jsonl"
    intact = log.read_bytes()
    assert json.loads(client.get("/api/audit").body)["logs"][0]["verified"] is True
    first, rest = intact.split(b"\n", 1)
    entry = json.loads(first)
    entry["actor"] = "mallory"  # edited after it was written: its hash no longer matches
    log.write_bytes(json.dumps(entry).encode() + b"\n" + rest)
    try:
        audit = json.loads(client.get("/api/audit").body)["logs"][0]
        assert audit["verified"] is False
        assert [row["ok"] for row in audit["entries"]][0] is False
        page = client.get("/audit").text
        assert "hash chain BROKEN" in page and 'class="broken"' in page and "hash mismatch" in page
    finally:
        log.write_bytes(intact)


def test_the_command_binds_loopback_by_default_and_loads_nothing_for_help() -> None:
    import subprocess
    import sys

    from mlform.compiler.commands.ui import DEFAULT_PORT, ui

    host = next(p for p in ui.params if p.name == "host")
    assert host.default == "127.0.0.1" and DEFAULT_PORT == 5010
    code = ("import sys; from mlform.compiler.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
            "print(any(m.startswith('mlform.compiler.ui') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("False")


def test_the_app_starts_without_pandas_or_numpy(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from mlform.compiler.ui.app import create_app\n"
            "create_app(Path(sys.argv[1]))\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy', 'sklearn'}))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
