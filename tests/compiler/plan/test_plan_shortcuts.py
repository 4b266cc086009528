"""A plan that takes a shortcut equals the full path's: when one environment's receipt misses, the others whose
receipts hold are answered from them, and the command's output is the same as with every receipt set aside.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_plan_receipts import FULL, _apply, _copy, _repo, _rewrite, plan
from test_plan_receipts_aliases import _full

from mlform.compiler.plan.plans import PlanInputs
from mlform.compiler.plan.planset import plan_files


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris example as a git repo, applied in every environment; each test leaves it as it found it."""
    project = _repo(_copy(tmp_path_factory.mktemp("shortcuts")))
    _apply(project)
    return project


def _spec(change: Callable[[str], str]) -> Callable[[Path], Callable[[], None]]:
    return lambda project: _rewrite(project / "mlform.yaml", change)


def _data(project: Path) -> Callable[[], None]:
    return _rewrite(project / "data" / "iris.csv", lambda t: t.replace("5.1,3.5,1.4,0.2", "5.2,3.5,1.4,0.2", 1))


TRAINED = ("train", "evaluate", "register", "serve", "monitor")  # `train` and every step downstream of it
# edit -> (the environments answered from their receipts, each environment's steps to run)
EDITS = {
    "artifact only (prod's namespace)": (
        _spec(lambda t: t.replace("namespace: ml-prod\n", "namespace: ml-prod-2\n")), {"dev"},
        {"dev": set(), "prod": set()}),
    "a param that needs training (dev's overlay)": (
        _spec(lambda t: t.replace("n_estimators: 20", "n_estimators: 21")), {"prod"},
        {"dev": set(TRAINED), "prod": set()}),
    "an environment overlay (prod's replicas)": (
        _spec(lambda t: t.replace("      replicas: 2\n", "      replicas: 3\n")), {"dev"},
        {"dev": set(), "prod": {"serve"}}),  # `monitor` follows the registered version, not the server
    "the base spec (max_depth)": (
        _spec(lambda t: t.replace("    max_depth: 5\n", "    max_depth: 6\n")), set(),
        {"dev": set(TRAINED), "prod": set(TRAINED)}),
    "the training data": (  # the live data is another source: its ingest step stays cached
        _data, set(), {env: {"ingest.train", "validate.train", "split", *TRAINED} for env in ("dev", "prod")}),
}


def _held(project: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The environments `plan_files` answered from receipts while planning the spec file in full."""
    monkeypatch.chdir(project)
    files = plan_files([project / "mlform.yaml"], None, PlanInputs((project / "out").resolve(), None, None))
    assert [p.env for p in files[0].plans] == ["dev", "prod"]
    return set(files[0].held)


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_plan_answering_some_environments_from_receipts_equals_the_full_path(
        applied: Path, edit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    change, held, runs = EDITS[edit]
    undo = change(applied)
    try:
        shortcut = plan(applied, "--format", "json")
        full = _full(applied)
        answered = _held(applied, monkeypatch)
    finally:
        undo()
    assert (shortcut.exit, shortcut.heavy) == (2, FULL)
    assert answered == held
    assert shortcut.stdout == full
    steps = {env: {c["address"] for c in p["changes"] if c["kind"] == "step" and c["action"] == "run"}
             for env, p in shortcut.plans().items()}
    assert steps == runs
    assert plan(applied).fast  # undone: every environment back on the fast path
