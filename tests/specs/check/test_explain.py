"""Turning pydantic errors into located messages: union merging, hints, key positions, redaction."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mlform.specs.check.explain import describe, did_you_mean, explain, keys_of
from mlform.specs.model.data import Data
from mlform.specs.model.lifecycle import Evaluation, Serving, Tracking
from mlform.specs.model.pipeline import Metadata, Pipeline
from mlform.specs.read.source import parse_document


def _explain(root: type[BaseModel], text: str) -> list[str]:
    doc = parse_document(text.encode(), "spec.yaml")
    with pytest.raises(ValidationError) as caught:
        root.model_validate(doc.data)
    return [str(d).removeprefix("spec.yaml:") for d in sorted(explain(doc, root, caught.value))]


@pytest.mark.parametrize(
    ("word", "candidates", "suffix"),
    [
        ("servng", ["serving", "metadata"], "; did you mean `serving`?"),
        ("labelz", ["labels", "name"], "; did you mean `labels`?"),
        ("xyz", ["model_name", "path"], ""),
        ("a", [], ""),
    ],
)
def test_did_you_mean(word: str, candidates: list[str], suffix: str) -> None:
    assert did_you_mean(word, candidates) == suffix


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "boolean `true`"),
        (3, "integer `3`"),
        (1.5, "number `1.5`"),
        ("x", "string `x`"),
        ("y" * 61, f"string `{'y' * 57}...`"),
        ([1], "a list"),
        ({"a": 1}, "a mapping"),
    ],
)
def test_describe(value: Any, text: str) -> None:
    assert describe(value) == text


def test_keys_of_walks_models_dicts_lists_and_tagged_unions() -> None:
    assert keys_of(Pipeline, ["metadata"]) == ["name", "description", "intended_use", "labels", "owners"]
    assert keys_of(Pipeline, ["data", "sources", "train", "csv"]) == ["path", "dtypes", "type", "delimiter", "encoding"]
    assert keys_of(Pipeline, ["model", "preprocessing", 0]) == ["transformer", "columns", "params", "examples"]
    assert "apiVersion" in (keys_of(Pipeline, []) or [])
    assert keys_of(Pipeline, ["metadata", "name"]) is None
    assert keys_of(Pipeline, ["nope"]) is None


def test_integer_or_float_alternatives_merge_into_one_number_message() -> None:
    assert _explain(Evaluation, "metrics: [accuracy]\ngates:\n  accuracy: {min: high}\n") == [
        "3:19: error: gates.accuracy.min: expected a number, got string `high`"
    ]


def test_union_alternatives_are_listed_once() -> None:
    assert _explain(Tracking, "uri: 5\n") == [
        '1:6: error: uri: expected a string or a mapping, got integer `5`; quote it to keep it as text: "5"'
    ]


def test_unknown_keys_point_at_the_key_and_list_choices_when_nothing_is_close() -> None:
    assert _explain(Metadata, "name: demo\nlabelz: {}\nzzz: 1\n") == [
        "2:1: error: labelz: unknown key `labelz`; did you mean `labels`?",
        "3:1: error: zzz: unknown key `zzz`; expected one of `description`, `intended_use`, `labels`, `name`, "
        "`owners`",
    ]


def test_bad_mapping_keys_point_at_the_key() -> None:
    assert _explain(Metadata, "name: demo\nlabels:\n  ok: fine\n  'bad key': x\n") == [
        "4:3: error: labels.bad key: `bad key` is not a label key: an optional DNS prefix and `/`, then letters, "
        "digits, `-`, `_` and `.`, starting and ending with a letter or digit",
    ]


def test_a_key_outside_a_fixed_set_is_an_unknown_key() -> None:
    assert _explain(Serving, "resources:\n  limits: {cpu: 1, gpu: 1}\n") == [
        "2:20: error: resources.limits.gpu: unknown key `gpu`; did you mean `cpu`?"
    ]


def test_missing_keys_point_at_the_key_of_the_mapping_that_lacks_them() -> None:
    assert _explain(Data, "sources:\n  train: {type: csv}\nfeatures: [a]\n") == [
        "1:1: error: missing required key `target`",
        "2:3: error: sources.train: missing required key `path`",
    ]


def test_a_source_without_type_lists_the_types() -> None:
    assert _explain(Data, "sources:\n  train: {path: x.csv}\ntarget: y\nfeatures: [a]\n") == [
        "2:10: error: sources.train: missing required key `type` (one of `csv`, `parquet`, `sqlite`, `sql`, `python`)"
    ]


def test_did_you_mean_is_offered_for_text_only() -> None:
    assert _explain(Serving, "mode: [online]\n") == ["1:7: error: mode: expected one of `online`, `batch`; got a list"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: '8080'\n", "1:7: error: port: expected an integer, got string `8080`; remove the quotes"),
        ("port: 08080\n", "1:7: error: port: expected an integer, got string `08080`; `08080` has a leading zero, "
                          "which YAML 1.1 reads as octal and YAML 1.2 as decimal: write `8080`"),
        ("port: 0700\n", "1:7: error: port: expected an integer, got string `0700`; `0700` has a leading zero, "
                         "which YAML 1.1 reads as octal and YAML 1.2 as decimal: write `700`, or `0o700` for octal"),
        ("port: 'true'\n", "1:7: error: port: expected an integer, got string `true`"),
        ("replicas: yes\n", "1:11: error: replicas: expected an integer, got string `yes`"),
    ],
)
def test_hints_for_numbers_written_as_text(text: str, message: str) -> None:
    assert _explain(Serving, text) == [message]


def test_values_inside_secret_references_are_never_echoed() -> None:
    assert _explain(Serving, "env:\n  TOKEN: s3cr3t-value\n  OTHER: {secret: 'has space'}\n") == [
        "2:10: error: env.TOKEN: expected a mapping, got a string; refer to a secret declared under `secrets` "
        "as `{secret: NAME}`, never by value",
        "3:19: error: env.OTHER.secret: the value is not an identifier: letters, digits, `_` and `-`, "
        "not starting with a digit",
    ]
