"""The training libraries' installed versions and the project's lock file are part of the `train` fingerprint: a
plan names what moved (`scikit-learn 1.9.1 -> 1.10.0`, `uv.lock` changed) and the no-op fast path steps aside.

Another scikit-learn is faked, not installed: a `*.dist-info` folder first on the path of the planning process
gives `importlib.metadata` another version, while the real library stays what runs.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest
from test_plan_receipts import FULL, _apply, _copy, _repo, plan

FAKE = "1.10.0" if metadata.version("scikit-learn") != "1.10.0" else "1.11.0"


def _fake_distribution(folder: Path, name: str, version: str) -> Path:
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return folder


def _train_reason(project: Path, **env: str) -> tuple[int, list[str], str]:
    before = dict(os.environ)
    os.environ.update(env)
    try:
        planned = plan(project, "--env", "dev", "--format", "json")
    finally:
        os.environ.clear()
        os.environ.update(before)
    train = next(c for c in planned.plans()["dev"]["changes"] if c["address"] == "train")
    return planned.exit, planned.heavy, train["reason"] if train["action"] == "run" else ""


def test_a_library_version_or_lock_file_change_retrains_and_the_plan_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the estimator indexes this test builds, alone
    project = _repo(_copy(tmp_path))
    _apply(project, "--env", "dev")
    assert plan(project, "--env", "dev").fast
    fake = _fake_distribution(tmp_path / "fake", "scikit-learn", FAKE)
    # no estimator index is cached for the new version yet: the plan builds it, which imports scikit-learn
    exit_code, heavy, reason = _train_reason(project, PYTHONPATH=str(fake))
    assert (exit_code, reason) == (2, f"scikit-learn {metadata.version('scikit-learn')} -> {FAKE}")
    assert set(FULL) < set(heavy) and "sklearn" in heavy
    assert _train_reason(project, PYTHONPATH=str(fake))[:2] == (2, FULL)  # and reads it from then on
    lock = project / "uv.lock"
    lock.write_text("version = 1\n")
    assert _train_reason(project) == (2, FULL, "`uv.lock` is new")
    _apply(project, "--env", "dev")
    assert plan(project, "--env", "dev").fast
    lock.write_text("version = 2\n")
    assert _train_reason(project) == (2, FULL, "`uv.lock` changed")
