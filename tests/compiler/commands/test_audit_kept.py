"""An entry the audit log cannot take when an apply ends is kept, refuses the next change until it can be appended,
and is then appended first, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_audit import make_project, mlform, set_trees

from mlform.compiler.governance.audit import append_entry, log_path, read_entries
from mlform.runtime.storage.backends.local import LocalBackend

# fitting tears the audit log's last line once, as a crash of another writer would, after the apply checked it
SABOTEUR = """
import os
from pathlib import Path

from sklearn.ensemble import RandomForestClassifier


class Saboteur(RandomForestClassifier):
    def fit(self, X, y, sample_weight=None):
        done = Path("sabotaged")
        if not done.exists():
            done.touch()
            with open(os.environ["SABOTAGED_LOG"], "a") as log:
                log.write('{"seq": 99, "torn')
        return super().fit(X, y, sample_weight=sample_weight)
"""


def _project(tmp_path: Path, shared: bool = False) -> tuple[Path, Path, dict[str, str]]:
    """A project whose first fit tears its audit log, the state folder holding that log, and the env to run in."""
    project = make_project(tmp_path)
    (project / "house_models.py").write_text(SABOTEUR)
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("estimator: sklearn.ensemble.RandomForestClassifier",
                                             "estimator: house_models.Saboteur"))
    state = tmp_path / "team-state" if shared else project / ".mlform"  # a team's backend, or the project's
    (state / "audit").mkdir(parents=True)
    env = {"PYTHONPATH": str(project), "SABOTAGED_LOG": str(log_path(state))}
    return project, state, {**env, "MLFORM_BACKEND": str(state)} if shared else env


def _kept(project: Path) -> list[Path]:
    return sorted((project / ".mlform" / "audit" / "pending").glob("*.json"))


def _repair(state: Path) -> None:
    """What the error asks of a person: remove the torn last line."""
    log = log_path(state)
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))


@pytest.mark.parametrize("shared", [False, True], ids=["project-state", "team-backend"])
def test_an_entry_the_log_cannot_take_is_kept_then_appended_before_the_next_change(tmp_path: Path,
                                                                                   shared: bool) -> None:
    project, state_dir, env = _project(tmp_path, shared)
    log = log_path(state_dir)
    first = mlform(project, "apply", ".", "--env", "dev", "--yes", env=env)
    assert first.returncode == 1
    (kept,) = _kept(project)
    assert first.stderr.strip().splitlines()[-1] == (
        f"error: audit log {log}: entry seq 1 (line 1) is incomplete: a write was interrupted before it ended; the "
        "entries before it are intact, and nothing is appended until that last line is removed; the entry is kept "
        f"in {kept} and is appended before the next audited change on this state backend")
    assert "Traceback" not in first.stderr
    fields = json.loads(kept.read_text())["fields"]
    assert (fields["command"], fields["result"], fields["env"]) == ("apply", "applied", "dev")
    assert fields["registered"] == [{"model": "iris-classifier", "version": 1}]
    state = state_dir / "state"
    states = {path: path.read_bytes() for path in state.rglob("*") if path.is_file()}
    assert states  # the apply's changes were made: only its entry is missing
    _repair(state_dir)
    shown = mlform(project, "audit", env=env)
    assert (shown.returncode, shown.stdout.strip()) == (0, "No audit entries.")
    assert shown.stderr.strip() == (f"warning: 1 audit entry kept in {project / '.mlform' / 'audit' / 'pending'} "
                                    "wait to be appended: the next audited change on their backend appends them "
                                    "first")
    log.write_text('{"seq": 99, "torn')  # torn again, for the refusal below
    assert mlform(project, "apply", ".", "--env", "dev", "--yes", env=env).stdout.endswith(
        "No changes. Nothing to apply.\n")  # no change: nothing to audit, nothing refused

    set_trees(project, "20", "25")
    refused = mlform(project, "apply", ".", "--env", "dev", "--yes", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].endswith(
        f"until that last line is removed; 1 audit entry kept in {kept.parent} wait to be appended first")
    assert {path: path.read_bytes() for path in state.rglob("*") if path.is_file()} == states
    assert _kept(project) == [kept]

    _repair(state_dir)
    again = mlform(project, "apply", ".", "--env", "dev", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert _kept(project) == []
    entries = read_entries(LocalBackend(state_dir))
    assert [e["seq"] for e in entries] == [1, 2]
    assert {k: v for k, v in entries[0].items() if k not in ("seq", "prev", "hash")} == fields
    verified = mlform(project, "audit", "--verify", env=env)
    assert verified.returncode == 0 and "audit log intact: 2" in verified.stdout
    assert verified.stderr == ""


def test_a_kept_entry_already_in_the_log_is_not_appended_again(tmp_path: Path) -> None:
    project, state_dir, env = _project(tmp_path)
    assert mlform(project, "apply", ".", "--env", "dev", "--yes", env=env).returncode == 1
    (kept,) = _kept(project)
    _repair(state_dir)
    set_trees(project, "20", "25")
    backend = LocalBackend(state_dir)
    append_entry(backend, json.loads(kept.read_text())["fields"])  # appended, then a crash before its removal
    again = mlform(project, "apply", ".", "--env", "dev", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert _kept(project) == []
    assert [(e["seq"], e["result"]) for e in read_entries(backend)] == [(1, "applied"), (2, "applied")]


def test_an_entry_kept_for_another_backend_stays_kept(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    pending = project / ".mlform" / "audit" / "pending"
    pending.mkdir(parents=True)
    other = pending / "00000000000000000001-1.json"
    other.write_text(json.dumps({"backend": "sha256:" + "ab" * 32, "fields": {"command": "apply", "env": "prod"}}))
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    assert [e["env"] for e in read_entries(LocalBackend(project / ".mlform"))] == ["dev"]
    assert sorted(pending.iterdir()) == [other]


def test_an_unreadable_kept_entry_refuses_the_change(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    pending = project / ".mlform" / "audit" / "pending"
    pending.mkdir(parents=True)
    torn = pending / "00000000000000000001-1.json"
    torn.write_text('{"backend": "sha')
    result = mlform(project, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: kept audit entry {torn} cannot be read: Unterminated string starting at: line 1 column 13 (char 12); "
        "it holds an audited change, so check it by hand and remove it once its change is in the log")
    assert not (project / ".mlform" / "state").exists()
