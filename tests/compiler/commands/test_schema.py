"""`mlform schema`: a draft 2020-12 JSON Schema that is committed, current, and agrees with the validator."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mlform.compiler.cli import cli
from mlform.compiler.commands.schema import SCHEMA_ID, schema_text
from mlform.specs import validate_file
from mlform.specs.read.overlays import FIXED, SECTIONS, merge
from mlform.specs.read.source import read_document

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
COMMITTED = EXAMPLES / "mlform.schema.json"
SPECS = sorted(EXAMPLES.glob("*/mlform.yaml"))
MODELINE = "# yaml-language-server: $schema=../mlform.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """A validator for the schema `mlform schema` prints."""
    return Draft202012Validator(json.loads(schema_text()))


def _errors(validator: Draft202012Validator, data: Any) -> list[tuple[str, str]]:
    """(dotted path, message) of the most relevant error under each failing key, as an editor shows it."""
    found = [best_match([error]) for error in validator.iter_errors(data)]
    return sorted((".".join(str(p) for p in e.absolute_path), e.message) for e in found if e is not None)


def test_committed_schema_is_the_current_output() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert COMMITTED.read_text() == result.stdout, "regenerate: mlform schema -o examples/mlform.schema.json"


def test_schema_is_draft_2020_12_with_an_id() -> None:
    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["additionalProperties"] is False
    assert {"apiVersion", "kind", "metadata", "data", "model", "evaluation", "registry"} <= set(schema["required"])


def test_every_section_has_a_description() -> None:
    schema = json.loads(schema_text())
    undocumented = [name for name, definition in schema["$defs"].items() if not definition.get("description")]
    assert undocumented == []
    assert schema["properties"]["environments"]["description"]


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) of every property declared anywhere in `node`, inline object schemas included."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield f"{where}.properties.{key}", value
        for key, value in node.items():
            yield from _properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{where}.{index}")


def test_every_property_has_a_description_for_editors_to_show() -> None:
    schema = json.loads(schema_text())
    found = list(_properties(schema))
    assert len(found) > sum(len(d.get("properties", {})) for d in schema["$defs"].values())
    assert [where for where, prop in found if not prop.get("description")] == []


def _spec_in(tmp_path: Path, data: dict[str, Any]) -> Path:
    """`data` written as a spec beside the iris example's data."""
    spec = tmp_path / "mlform.yaml"
    spec.write_text(json.dumps(data))  # JSON is YAML
    (tmp_path / "data").symlink_to(EXAMPLES / "iris" / "data")
    return spec


def test_output_option_writes_the_same_text(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "mlform.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {target}\n"
    assert target.read_text() == schema_text()


def test_output_to_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = blocker / "sub" / "mlform.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--output", str(target)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot write `{target}`: Not a directory\n"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_examples_point_editors_at_the_committed_schema(spec: Path) -> None:
    first_line = spec.read_text().splitlines()[0]
    assert first_line == MODELINE
    assert (spec.parent / first_line.partition("$schema=")[2]).resolve() == COMMITTED


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_schema_accepts_each_example_in_every_environment(spec: Path, validator: Draft202012Validator) -> None:
    data = read_document(spec).data
    envs = data.get("environments") or {}
    assert envs, "examples declare environments"
    assert _errors(validator, data) == []
    for env, overlay in envs.items():
        assert (env, _errors(validator, merge(data, overlay or {}))) == (env, [])


# (where to add a key, the key, the value, the schema's message)
UNKNOWN_KEYS = [
    ((), "stages", [], "Additional properties are not allowed ('stages' was unexpected)"),
    (("metadata",), "team", "risk", "Additional properties are not allowed ('team' was unexpected)"),
    (("model",), "estimater", "x.Y", "Additional properties are not allowed ('estimater' was unexpected)"),
    (("serving", "resources", "requests"), "gpu", "1", "'gpu' is not one of ['cpu', 'memory']"),
    (("monitoring", "drift"), "treshold", 0.1, "Additional properties are not allowed ('treshold' was unexpected)"),
]


@pytest.mark.parametrize(("where", "key", "value", "message"), UNKNOWN_KEYS, ids=[case[1] for case in UNKNOWN_KEYS])
def test_schema_and_validator_both_reject_an_unknown_key(
    where: tuple[str, ...], key: str, value: Any, message: str, validator: Draft202012Validator, tmp_path: Path
) -> None:
    data = copy.deepcopy(read_document(EXAMPLES / "iris" / "mlform.yaml").data)
    node = data
    for part in where:
        node = node[part]
    node[key] = value
    assert _errors(validator, data) == [(".".join(where), message)]
    _, diagnostics = validate_file(_spec_in(tmp_path, data), ["default"])
    assert [d.path for d in diagnostics if d.severity == "error"] == [".".join((*where, key))]


def test_environments_refer_to_an_overlay_of_the_sections_overlays_may_change() -> None:
    schema = json.loads(schema_text())
    (value,) = schema["properties"]["environments"]["patternProperties"].values()
    assert value == {"anyOf": [{"$ref": "#/$defs/Overlay"}, {"type": "null"}]}
    overlay = schema["$defs"]["Overlay"]
    assert set(overlay["properties"]) == set(SECTIONS)
    assert not set(overlay["properties"]) & set(FIXED)
    assert overlay["additionalProperties"] is False
    assert "name" not in schema["$defs"]["MetadataOverlay"]["properties"]
    partials = {name: d for name, d in schema["$defs"].items() if name.endswith("Overlay")}
    assert [name for name, d in partials.items() if d.get("required") or d["additionalProperties"] is not False] == []


# (environment, where in its overlay, the key, the value, where the schema reports, the schema's message)
OVERLAY_UNKNOWN_KEYS = [
    ("dev", ("model",), "estimater", "x.Y",
     "environments.dev.model", "Additional properties are not allowed ('estimater' was unexpected)"),
    ("dev", (), "stages", [], "environments.dev", "Additional properties are not allowed ('stages' was unexpected)"),
    ("dev", (), "secrets", {}, "environments.dev", "Additional properties are not allowed ('secrets' was unexpected)"),
    ("prod", (), "apiVersion", "mlform/v1",
     "environments.prod", "Additional properties are not allowed ('apiVersion' was unexpected)"),
    ("dev", ("metadata",), "name", "iris-dev",
     "environments.dev.metadata", "Additional properties are not allowed ('name' was unexpected)"),
    ("prod", ("serving", "resources", "requests"), "gpu", "1",
     "environments.prod.serving.resources.requests", "'gpu' is not one of ['cpu', 'memory']"),
    ("prod", ("data", "sources", "live"), "tabel", "recent",
     "environments.prod.data.sources.live", "Additional properties are not allowed ('tabel' was unexpected)"),
]


@pytest.mark.parametrize(("env", "where", "key", "value", "at", "message"), OVERLAY_UNKNOWN_KEYS,
                         ids=[case[2] for case in OVERLAY_UNKNOWN_KEYS])
def test_schema_and_validator_both_reject_an_unknown_key_in_an_overlay(
    env: str, where: tuple[str, ...], key: str, value: Any, at: str, message: str,
    validator: Draft202012Validator, tmp_path: Path,
) -> None:
    data = copy.deepcopy(read_document(EXAMPLES / "iris" / "mlform.yaml").data)
    node = data["environments"][env]
    for part in where:
        node = node.setdefault(part, {})
    node[key] = value
    assert _errors(validator, data) == [(at, message)]
    _, diagnostics = validate_file(_spec_in(tmp_path, data))
    assert [d.path for d in diagnostics if d.severity == "error"] == [".".join(("environments", env, *where, key))]


# overlays that are partial, delete with null, or change a source's kind: valid once merged
PARTIAL_OVERLAYS = {
    "null deletes a section": {"monitoring": None},
    "null deletes a nested key": {"serving": {"autoscaling": None, "replicas": 3}},
    "null deletes a mapping entry": {"validation": {"columns": {"species": None}}, "model": {"params": None}},
    "a source changes one key": {"data": {"sources": {"train": {"path": "data/iris.csv"}}}},
    "a source changes kind": {"data": {"sources": {"live": {"type": "parquet", "path": "data/live.parquet",
                                                            "delimiter": None}}}},
    "an empty overlay": None,
}


@pytest.mark.parametrize("overlay", PARTIAL_OVERLAYS.values(), ids=list(PARTIAL_OVERLAYS))
def test_schema_and_validator_both_accept_a_partial_overlay(
    overlay: dict[str, Any] | None, validator: Draft202012Validator, tmp_path: Path
) -> None:
    data = copy.deepcopy(read_document(EXAMPLES / "iris" / "mlform.yaml").data)
    data["environments"]["dev"] = overlay
    assert _errors(validator, data) == []
    _, diagnostics = validate_file(_spec_in(tmp_path, data))
    assert [str(d) for d in diagnostics if d.severity == "error"] == []


def test_schema_accepts_a_numeric_quantity_like_the_validator(validator: Draft202012Validator) -> None:
    data = copy.deepcopy(read_document(EXAMPLES / "iris" / "mlform.yaml").data)
    data["serving"]["resources"]["limits"]["cpu"] = 1
    assert _errors(validator, data) == []
