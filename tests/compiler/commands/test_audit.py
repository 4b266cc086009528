"""The audit log of applies: what each entry says, and that editing, removing, reordering or tearing one is caught."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli import heavy_imports

from mlform.compiler.governance.audit import (
    GENESIS,
    AuditError,
    append_entry,
    canonical,
    entry_hash,
    log_path,
    read_entries,
)
from mlform.runtime.storage.backends.local import LocalBackend

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MLFORM = [str(Path(sys.executable).with_name("mlform"))]
STAGING = "iris-classifier@staging"


def mlform(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in `cwd`."""
    merged = {**os.environ, **(env or {})}
    merged.pop("MLFORM_HOME", None)
    return subprocess.run([*MLFORM, *args], cwd=cwd, capture_output=True, text=True, env=merged, timeout=300)


def make_project(parent: Path) -> Path:
    """A private copy of examples/iris as a git repository with one commit."""
    root = parent / "iris"
    shutil.copytree(EXAMPLES / "iris", root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.invalid",
           "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    return root


def log_of(project: Path) -> Path:
    return log_path(project / ".mlform")


def set_trees(project: Path, old: str, new: str) -> None:
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace(f"n_estimators: {old}", f"n_estimators: {new}"))


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The iris example applied twice in dev (from a saved plan by `ci-bot`, then 20 -> 30 trees by `alice`)."""
    project = make_project(tmp_path_factory.mktemp("applied"))
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "first.plan").returncode == 0
    first = mlform(project, "apply", "first.plan", env={"MLFORM_ACTOR": "ci-bot"})
    assert first.returncode == 0, first.stderr
    set_trees(project, "20", "30")
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "second.plan").returncode == 0
    second = mlform(project, "apply", "second.plan", env={"MLFORM_ACTOR": "", "GITHUB_ACTOR": "alice"})
    assert second.returncode == 0, second.stderr
    planned = {name: json.loads((project / f"{name}.plan").read_text())["plans"][0] for name in ("first", "second")}
    digests = {name: "sha256:" + hashlib.sha256((json.dumps(p, indent=2, sort_keys=True) + "\n").encode()).hexdigest()
               for name, p in planned.items()}
    return project, digests


def test_each_apply_records_who_when_what_and_which_versions_moved(applied: tuple[Path, dict[str, str]]) -> None:
    project, digests = applied
    first, second = read_entries(LocalBackend(project / ".mlform"))
    head = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    state = json.loads((project / ".mlform" / "state" / "iris.dev.json").read_text())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", first["time"])
    assert {k: v for k, v in first.items() if k not in ("time", "serial", "hash")} == {
        "seq": 1, "actor": "ci-bot", "host": socket.gethostname(), "git_commit": head, "spec": "mlform.yaml",
        "env": "dev", "spec_digest": first["spec_digest"], "command": "apply", "plan_digest": digests["first"],
        "result": "applied",
        "error": None, "registered": [{"model": "iris-classifier", "version": 1}],
        "promoted": [{"model": "iris-classifier", "alias": "staging", "from": None, "to": 1}], "prev": GENESIS,
    }
    assert first["hash"] == entry_hash(first)
    assert (second["seq"], second["actor"], second["prev"]) == (2, "alice", first["hash"])
    assert second["plan_digest"] == digests["second"]
    assert second["spec_digest"] != first["spec_digest"]
    assert second["serial"] == state["serial"] > first["serial"]
    assert second["registered"] == [{"model": "iris-classifier", "version": 2}]
    assert second["promoted"] == [{"model": "iris-classifier", "alias": "staging", "from": 1, "to": 2}]


def test_audit_shows_a_table_and_verifies_the_chain(applied: tuple[Path, dict[str, str]]) -> None:
    project, digests = applied
    shown = mlform(project, "audit")
    assert shown.returncode == 0, shown.stderr
    header, one, two = shown.stdout.splitlines()
    assert header.split() == ["SEQ", "TIME", "ACTOR", "SPEC", "ENV", "RESULT", "COMMAND", "PROMOTED", "COMMIT", "PLAN"]
    assert one.split()[2:] == ["ci-bot", "mlform.yaml", "dev", "applied", "apply", STAGING, "none", "->", "v1",
                               read_entries(LocalBackend(project / ".mlform"))[0]["git_commit"][:7],
                               digests["first"].removeprefix("sha256:")[:12]]
    assert f"{STAGING} v1 -> v2" in two
    head = read_entries(LocalBackend(project / ".mlform"))[-1]["hash"]
    verified = mlform(project, "audit", "mlform.yaml", "--verify")
    assert (verified.returncode, verified.stdout) == (0, f"audit log intact: 2 entries, head {head}\n")


def test_jsonl_export_round_trips_and_filters(applied: tuple[Path, dict[str, str]]) -> None:
    project, _ = applied
    exported = mlform(project, "audit", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == log_of(project).read_text()
    logged = read_entries(LocalBackend(project / ".mlform"))
    assert [json.loads(line) for line in exported.stdout.splitlines()] == logged
    as_json = json.loads(mlform(project, "audit", "--format", "json").stdout)
    assert as_json == read_entries(LocalBackend(project / ".mlform"))
    assert mlform(project, "audit", "--env", "prod", "--format", "jsonl").stdout == ""
    assert mlform(project, "audit", "--env", "prod").stdout == "No audit entries.\n"
    assert len(json.loads(mlform(project, "audit", "--model", "iris-classifier", "--format", "json").stdout)) == 2
    assert json.loads(mlform(project, "audit", "--model", "other", "--format", "json").stdout) == []


def test_a_refused_plan_and_a_failed_apply_are_recorded(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "saved.plan").returncode == 0
    set_trees(project, "20", "25")
    refused = mlform(project, "apply", "saved.plan")
    assert refused.returncode == 1
    data = project / "data" / "iris.csv"
    data.write_text(data.read_text().replace("5.1,3.5,1.4,0.2", "12.5,3.5,1.4,0.2", 1))
    failed = mlform(project, "apply", ".", "--env", "dev", "--yes")
    assert failed.returncode == 1
    applied, stale, broken = read_entries(LocalBackend(project / ".mlform"))
    assert applied["result"] == "applied"
    saved = json.loads((project / "saved.plan").read_text())["plans"][0]
    assert {k: stale[k] for k in ("result", "error", "serial", "registered", "promoted", "plan_digest")} == {
        "result": "refused", "error": refused.stderr.strip().removeprefix("error: "), "serial": applied["serial"],
        "registered": [], "promoted": [],
        "plan_digest": "sha256:" + hashlib.sha256((json.dumps(saved, indent=2, sort_keys=True) + "\n").encode()
                                                  ).hexdigest()}
    assert stale["error"].startswith("the spec `mlform.yaml` (dev) changed since the plan was made")
    assert broken["result"] == "failed"
    assert broken["error"].startswith("step `validate.train` failed: 1 validation rule failed")
    assert f"error: {broken['error'].splitlines()[0]}" in failed.stderr
    assert (broken["registered"], broken["promoted"]) == ([], [])
    table = mlform(project, "audit").stdout.splitlines()
    assert [line.split()[5] for line in table if line[:1].isdigit()] == ["applied", "refused", "failed"]


def fake_entry(number: int) -> dict[str, object]:
    """The fields of an entry as an apply writes them."""
    return {"time": f"2025-01-0{number}T10:00:00+00:00", "actor": f"user{number}", "host": "ci",
            "git_commit": None, "spec": "mlform.yaml", "env": "dev", "spec_digest": "ab" * 32,
            "plan_digest": "sha256:" + "cd" * 32, "result": "applied", "error": None, "serial": number * 10,
            "registered": [{"model": "m", "version": number}],
            "promoted": [{"model": "m", "alias": "staging", "from": number - 1 or None, "to": number}]}


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    """A folder with a spec file and an audit log of three entries in `.mlform`."""
    (tmp_path / "mlform.yaml").write_text("apiVersion: mlform/v1\n")
    for number in (1, 2, 3):
        append_entry(LocalBackend(tmp_path / ".mlform"), fake_entry(number))
    return tmp_path


def _edit(lines: list[str]) -> list[str]:
    entry = json.loads(lines[0])
    entry["actor"] = "mallory"
    return [canonical(entry), *lines[1:]]


def _edit_and_rehash(lines: list[str]) -> list[str]:
    entry = json.loads(lines[0])
    entry["promoted"][0]["to"] = 7
    entry["hash"] = entry_hash(entry)
    return [canonical(entry), *lines[1:]]


REMOVED = "an entry was removed, reordered or inserted"
TAMPERING: list[tuple[str, Callable[[list[str]], list[str]], str]] = [
    ("edit", _edit, "entry seq 1 (line 1): hash mismatch: the entry was edited after it was written"),
    ("edit-and-rehash", _edit_and_rehash,
     f"entry seq 2 (line 2): prev mismatch: it does not follow seq 1; {REMOVED}"),
    ("delete-middle", lambda ls: [ls[0], ls[2]],
     f"entry seq 3 (line 2): prev mismatch: it does not follow seq 1; {REMOVED}"),
    ("delete-first", lambda ls: ls[1:],
     f"entry seq 2 (line 1): prev mismatch: it does not follow the start of the log; {REMOVED}"),
    ("reorder", lambda ls: [ls[0], ls[2], ls[1]],
     f"entry seq 3 (line 2): prev mismatch: it does not follow seq 1; {REMOVED}"),
    ("insert", lambda ls: [ls[0], ls[0], *ls[1:]],
     f"entry seq 1 (line 2): prev mismatch: it does not follow seq 1; {REMOVED}"),
    ("not-json", lambda ls: [ls[0], "{not json", *ls[1:]], "entry seq 2 (line 2): not a JSON object"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_tampering_names_the_first_bad_entry(logged: Path, change: Callable[[list[str]], list[str]],
                                             message: str) -> None:
    log = log_of(logged)
    intact = mlform(logged, "audit", "--verify")
    last = read_entries(LocalBackend(logged / ".mlform"))[-1]
    assert intact.stdout == f"audit log intact: 3 entries, head {last['hash']}\n"
    log.write_text("\n".join(change(log.read_text().splitlines())) + "\n")
    expected = f"audit log {log}: {message}"
    with pytest.raises(AuditError) as caught:
        read_entries(LocalBackend(logged / ".mlform"))
    assert str(caught.value) == expected
    for args in (("audit", "--verify"), ("audit",), ("audit", "--format", "jsonl")):
        result = mlform(logged, *args)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {expected}\n")


TORN = ("entry seq 3 (line 3) is incomplete: a write was interrupted before it ended; the entries before it are "
        "intact, and nothing is appended until that last line is removed")


@pytest.mark.parametrize("tail", [lambda line: line[: len(line) // 2], lambda line: line[: len(line) // 2] + "\n",
                                  lambda line: line], ids=["cut", "cut-with-newline", "no-newline"])
def test_a_torn_last_line_is_reported_and_blocks_appends(logged: Path, tail: Callable[[str], str]) -> None:
    log = log_of(logged)
    lines = log.read_text().splitlines()
    log.write_text("".join(line + "\n" for line in lines[:2]) + tail(lines[2]))
    torn = log.read_bytes()
    expected = f"audit log {log}: {TORN}"
    result = mlform(logged, "audit", "--verify")
    assert (result.returncode, result.stderr) == (1, f"error: {expected}\n")
    with pytest.raises(AuditError, match=re.escape(expected)):
        append_entry(LocalBackend(logged / ".mlform"), fake_entry(4))
    assert log.read_bytes() == torn


def test_an_unreadable_log_is_named(logged: Path) -> None:
    log = log_of(logged)
    log.unlink()
    log.mkdir()  # in the file's place: reading it fails with an OSError other than "no such file"
    for args in (("audit", "--verify"), ("audit",)):
        result = mlform(logged, *args)
        assert (result.returncode, result.stdout, result.stderr) == (
            1, "", f"error: cannot read audit log {log}: Is a directory\n")
    assert log.is_dir() and not any(log.iterdir())


def test_a_broken_log_refuses_the_apply_before_it_starts(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    append_entry(LocalBackend(project / ".mlform"), fake_entry(1))
    log = log_of(project)
    log.write_text(log.read_text().replace('"actor":"user1"', '"actor":"user9"'))
    result = mlform(project, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: audit log {log}: entry seq 1 (line 1): hash mismatch: the entry was edited after it was written")
    assert not (project / ".mlform" / "state").exists()


APPENDER = """
import sys, time
from pathlib import Path
from mlform.compiler.governance.audit import append_entry
from mlform.runtime.storage.backends.local import LocalBackend
folder, actor, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for number in range(40):
    append_entry(LocalBackend(folder), {"actor": actor, "number": number})
"""


def test_concurrent_appends_from_two_processes_keep_the_chain(tmp_path: Path) -> None:
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path / "state"), actor, str(go)])
               for actor in ("a", "b")]
    go.touch()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    entries = read_entries(LocalBackend(tmp_path / "state"))
    assert [e["seq"] for e in entries] == list(range(1, 81))
    for actor in ("a", "b"):
        assert [e["number"] for e in entries if e["actor"] == actor] == list(range(40))


def test_audit_verify_imports_nothing_heavy(logged: Path) -> None:
    output, heavy = heavy_imports(logged, ["audit", "--verify"])
    assert output.startswith("audit log intact: ")
    assert heavy == ""
