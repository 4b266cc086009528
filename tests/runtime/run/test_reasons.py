"""The pure "why does this step run" logic."""

from __future__ import annotations

from typing import Any

import pytest

from mlform.runtime.run.reasons import Snapshot, config_changes, step_reasons


def snap(fp: str, config: dict[str, Any] | None = None, data: dict[str, str] | None = None,
         upstream: dict[str, str] | None = None) -> Snapshot:
    return Snapshot(fp, config or {}, data or {}, upstream or {})


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"model": {"params": {"n": 1}}}, {"model": {"params": {"n": 2}}},
     ["`model.params.n` changed: 1 -> 2"]),
    ({"model": {"params": {}}}, {"model": {"params": {"depth": 3}}},
     ["`model.params.depth` changed: (unset) -> 3"]),
    ({"model": {"params": {"depth": 3}}}, {"model": {"params": {}}},
     ["`model.params.depth` changed: 3 -> (unset)"]),
    ({"features": ["a", "b"]}, {"features": ["a", "c"]}, ['`data.features.1` changed: "b" -> "c"']),
    ({"features": ["a"]}, {"features": ["a", "c"]}, ['`data.features` changed: ["a"] -> ["a", "c"]']),
    ({"split": {"seed": 1}}, {"split": {"seed": 2}}, ["`data.split.seed` changed: 1 -> 2"]),
    ({"name": "train", "source": {"path": "a.csv"}}, {"name": "train", "source": {"path": "b.csv"}},
     ['`data.sources.train.path` changed: "a.csv" -> "b.csv"']),
])
def test_config_change_names_the_spec_key_path(before: dict[str, Any], after: dict[str, Any],
                                                expected: list[str]) -> None:
    reasons = step_reasons({"s": snap("new", after)}, {"s": snap("old", before).to_json()}, completed=())
    assert reasons == {"s": expected}


@pytest.mark.parametrize(("previous", "current", "completed", "expected"), [
    (None, snap("a"), (), ["no previous run"]),
    (snap("a"), snap("a"), ("s",), []),
    (snap("old"), snap("new"), ("s",), []),
    (snap("a"), snap("a"), (), ["output missing: the last run did not complete or its output was removed"]),
    (snap("a", data={"d.csv": "sha256:1"}), snap("b", data={"d.csv": "sha256:2"}), (), ["data `d.csv` changed"]),
    (snap("a", data={}), snap("b", data={"d.csv": "sha256:2"}), (), ["data `d.csv` is new"]),
    (snap("a", data={"d.csv": "sha256:1"}), snap("b", data={"d.csv": "missing"}), (), ["data `d.csv` is missing"]),
    (snap("a", data={"a.csv": "sha256:1", "b.csv": "sha256:2"}), snap("b", data={"a.csv": "sha256:1"}), (),
     ["data `b.csv` is no longer read"]),  # a file gone from a folder or glob source
    (Snapshot("a", {}, {}, {}, {"steps/a.py": "1", "steps/util.py": "2"}),
     Snapshot("b", {}, {}, {}, {"steps/a.py": "1"}), (), ["`steps/util.py` is no longer used"]),
    (snap("a", upstream={"train": "1", "split": "2"}), snap("b", upstream={"train": "9", "split": "2"}), (),
     ["upstream `train` changed"]),
    (snap("a"), snap("b"), (), ["fingerprint changed (a new mlform fingerprint format)"]),
])
def test_step_reasons(previous: Snapshot | None, current: Snapshot, completed: tuple[str, ...],
                      expected: list[str]) -> None:
    record = {"s": previous.to_json()} if previous else {}
    assert step_reasons({"s": current}, record, completed) == {"s": expected}


def test_a_corrupt_record_counts_as_no_previous_run() -> None:
    assert step_reasons({"s": snap("a")}, {"s": {"fingerprint": "a"}}, ()) == {"s": ["no previous run"]}


def test_config_changes_lists_every_leaf() -> None:
    before = {"a": {"b": 1, "c": [1, 2]}, "d": True}
    after = {"a": {"b": 2, "c": [1, 3]}, "d": True}
    assert [(".".join(p), old, new) for p, old, new in config_changes(before, after)] == [
        ("a.b", 1, 2), ("a.c.1", 2, 3)]
