"""Environment overlays: deep merge, deletion by null, list replacement, and positions into the overlay."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlform.specs.read.overlays import BASE, check_overlays, environment_names, merge, resolve
from mlform.specs.read.source import KeyPath, Mark, parse_document, resolve_plain, subpaths

SPEC = """\
metadata:
  name: demo
model:
  estimator: sklearn.linear_model.LogisticRegression
  params:
    C: 1.0
    max_iter: 100
data:
  features: [a, b, c]
environments:
  dev:
    model:
      params:
        C: 2.0
        max_iter: null
    data:
      features: [z]
  prod: ~
"""


def test_mappings_merge_deeply_and_everything_else_replaces() -> None:
    base = {"a": {"b": 1, "c": [1, 2, 3], "d": {"e": 1}}, "f": "x"}
    overlay = {"a": {"b": 2, "c": [9], "d": "flat"}, "g": True}
    assert merge(base, overlay) == {"a": {"b": 2, "c": [9], "d": "flat"}, "f": "x", "g": True}


def test_null_deletes_a_key_at_any_depth() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge(base, {"a": {"b": None}, "d": None, "absent": None}) == {"a": {"c": 2}}


def test_nulls_inside_a_mapping_that_replaces_a_scalar_delete_nothing() -> None:
    assert merge({"a": 5}, {"a": {"x": None, "y": 1}}) == {"a": {"y": 1}}


def test_merge_does_not_change_its_inputs() -> None:
    base = {"a": {"b": [1, 2]}}
    overlay = {"a": {"b": [3], "c": None}}
    before = copy.deepcopy((base, overlay))
    merge(base, overlay)
    assert (base, overlay) == before


def test_resolve_applies_the_overlay_of_one_environment() -> None:
    doc = parse_document(SPEC.encode(), "spec.yaml")
    dev = resolve(doc, "dev")

    assert dev.data["model"]["params"] == {"C": 2.0}
    assert dev.data["data"]["features"] == ["z"]
    assert doc.data["model"]["params"] == {"C": 1.0, "max_iter": 100}
    assert resolve(doc, "prod").data == doc.data
    assert resolve(doc, BASE) is doc


def test_positions_of_overlaid_values_point_into_the_overlay() -> None:
    dev = resolve(parse_document(SPEC.encode(), "spec.yaml"), "dev")

    assert dev.values[("model", "params", "C")] == Mark(14, 12, ("environments", "dev", "model", "params", "C"))
    assert dev.keys[("model", "params", "C")] == Mark(14, 9, ("environments", "dev", "model", "params", "C"))
    assert dev.values[("data", "features", 0)] == Mark(17, 18, ("environments", "dev", "data", "features", 0))
    assert dev.plain[("model", "params", "C")] == "2.0"


def test_positions_of_untouched_values_stay_in_the_base() -> None:
    dev = resolve(parse_document(SPEC.encode(), "spec.yaml"), "dev")
    assert dev.values[("model", "estimator")] == Mark(4, 14, ("model", "estimator"))
    assert dev.values[("model", "params")] == Mark(6, 5, ("model", "params"))


def test_positions_of_deleted_and_replaced_values_are_dropped() -> None:
    dev = resolve(parse_document(SPEC.encode(), "spec.yaml"), "dev")
    assert ("model", "params", "max_iter") not in dev.values
    assert ("model", "params", "max_iter") not in dev.keys
    assert ("data", "features", 2) not in dev.values


def test_environment_names_keep_file_order() -> None:
    assert environment_names(parse_document(SPEC.encode(), "spec.yaml")) == ["dev", "prod"]
    assert environment_names(parse_document(b"environments: [dev]\n", "spec.yaml")) == []


def test_overlay_checks_report_each_problem_once_with_its_key() -> None:
    text = "model: {}\nsecrets: {}\nenvironments:\n  dev:\n    serving: {}\n    modle: {}\n  ok:\n    model: {}\n"
    diagnostics = check_overlays(parse_document(text.encode(), "spec.yaml"))
    assert [str(d) for d in diagnostics] == [
        "spec.yaml:5:5: error: environments.dev.serving: section `serving` is not in the base spec; "
        "environment overlays only change sections the base defines",
        "spec.yaml:6:5: error: environments.dev.modle: unknown section `modle`; did you mean `model`?",
    ]


@pytest.mark.parametrize(("key", "message"), [
    ("params", "unknown section `params`; did you mean `environments.dev.model.params`?"),
    ("tuning", "unknown section `tuning`; expected one of `metadata`, `data`, `validation`, `model`, "
                   "`evaluation`, `registry`, `tracking`, `serving`, `monitoring`, `targets`, `runtime`, `state`, "
                   "`governance`"),
])
def test_an_unknown_overlay_section_says_what_was_meant(key: str, message: str) -> None:
    text = f"model: {{params: {{C: 1}}}}\nenvironments:\n  dev:\n    {key}: {{}}\n"
    diagnostics = check_overlays(parse_document(text.encode(), "spec.yaml"))
    assert [str(d) for d in diagnostics] == [f"spec.yaml:4:5: error: environments.dev.{key}: {message}"]


_KEYS = st.sampled_from(["a", "b", "c", "d"])
_SCALARS = st.one_of(st.integers(-3, 3), st.booleans(), st.text("xy", max_size=2))
_VALUES = st.recursive(
    st.one_of(_SCALARS, st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=12,
)
_MAPPINGS = st.dictionaries(_KEYS, _VALUES, max_size=4)


@given(base=_MAPPINGS, overlay=_MAPPINGS)
def test_applying_an_overlay_twice_changes_nothing(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    once = merge(base, overlay)
    assert merge(once, overlay) == once


@given(base=_MAPPINGS, overlay=_MAPPINGS)
def test_every_non_null_overlay_key_wins_and_null_keys_are_gone(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    merged = merge(base, overlay)
    for key, value in overlay.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value
    for key in base.keys() - overlay.keys():
        assert merged[key] == base[key]


def _key_paths(value: Any, path: KeyPath = ()) -> set[KeyPath]:
    """The paths in `value` that end in a mapping key."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = set()
    for key, item in items:
        if isinstance(value, dict):
            found.add((*path, key))
        found |= _key_paths(item, (*path, key))
    return found


def _at(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


@given(base=_MAPPINGS, overlay=_MAPPINGS)
def test_an_environment_has_marks_for_exactly_its_values_and_keys(base: dict[str, Any],
                                                                  overlay: dict[str, Any]) -> None:
    text = yaml.safe_dump({**base, "environments": {"dev": overlay}}, default_flow_style=False)
    doc = parse_document(text.encode(), "spec.yaml")
    dev = resolve(doc, "dev")

    for view in (doc, dev):
        assert set(view.values) == set(subpaths(view.data))
        assert set(view.keys) == _key_paths(view.data)
        assert all(resolve_plain(raw) == _at(view.data, path) for path, raw in view.plain.items())
    for table in (dev.values, dev.keys):
        for path, mark in table.items():
            assert mark.written in (path, ("environments", "dev", *path))
            assert mark == (doc.values if table is dev.values else doc.keys)[mark.written]
