"""`mlform schema`: the JSON Schema of `mlform/v1` specs, for editors and yaml-language-server.

`environments.<env>` gets a schema of its own, derived from the spec's: an overlay is deep-merged onto
the spec, so it has the same sections with every key optional, `null` to delete a key, mappings that
merge (their entries are partial too) and lists and scalars that replace whole. The merged spec is
what the validator checks; this schema only lets editors complete and check overlays as they are typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ["OVERLAY", "SCHEMA_ID", "schema", "schema_text", "spec_schema"]

SCHEMA_ID = "https://mlform.dev/schema/mlform-v1.json"
OVERLAY = "Overlay"
_NULL = {"type": "null"}
_OVERLAY_NOTE = " In an overlay every key is optional and `null` deletes it."
# constraints on a whole mapping, not on the part of it that an overlay changes
_WHOLE_MAPPING = ("minProperties", "maxProperties")


def spec_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) document of the spec format."""
    from mlform.specs import Pipeline

    schema = Pipeline.model_json_schema(by_alias=True)
    _add_overlays(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlform pipeline spec (mlform/v1)", **{k: v for k, v in schema.items() if k != "title"}}


def _ref_name(node: dict[str, Any]) -> str:
    return str(node["$ref"]).rsplit("/", 1)[-1]


class _Partials:
    """Builds overlay (partial) variants of the definitions in `defs`, adding them to `defs`."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.originals = dict(defs)

    def model(self, name: str) -> str:
        """The name of the overlay variant of model definition `name`, built on first use."""
        partial = f"{name}{OVERLAY}"
        if partial not in self.defs:
            original = self.originals[name]
            self.defs[partial] = {}  # reserve the name first: definitions may refer to each other
            self.defs[partial] = self.obj(original["description"], original["properties"])
            self.defs[partial]["title"] = f"{original.get('title', name)} ({OVERLAY.lower()})"
        return partial

    def obj(self, description: str, properties: dict[str, Any]) -> dict[str, Any]:
        """An object schema with `properties`, each optional, partial and nullable."""
        return {"type": "object", "additionalProperties": False, "description": description + _OVERLAY_NOTE,
                "properties": {key: self.key(value) for key, value in properties.items()}}

    def key(self, node: dict[str, Any]) -> dict[str, Any]:
        """The schema of a key's value in an overlay: partial, `null` to delete, no default."""
        node = {k: v for k, v in self.value(node).items() if k != "default"}
        members = node.get("anyOf")
        if members is not None:
            return node if _NULL in members else {**node, "anyOf": [*members, _NULL]}
        if isinstance(node.get("type"), str) and "const" not in node:  # a plain type: editors word its errors best
            nullable = {**node, "type": [node["type"], "null"]}
            if "enum" in node:
                nullable["enum"] = [*node["enum"], None]
            return nullable
        outer: dict[str, Any] = {k: node.pop(k) for k in ("description", "title") if k in node}
        return {**outer, "anyOf": [node, _NULL]}

    def value(self, node: dict[str, Any]) -> dict[str, Any]:
        """The schema of a value in an overlay: models and mappings become partial, lists and scalars stay."""
        if "$ref" in node:
            target = self.originals[_ref_name(node)]
            if target.get("type") != "object" or "properties" not in target:
                return node
            return {**node, "$ref": f"#/$defs/{self.model(_ref_name(node))}"}
        if "discriminator" in node:
            return self.tagged_union(node)
        if "anyOf" in node:
            return {**node, "anyOf": [self.value(member) for member in node["anyOf"]]}
        if node.get("type") == "object":  # a mapping: its entries merge, and `null` deletes one
            node = {k: v for k, v in node.items() if k not in _WHOLE_MAPPING}
            if isinstance(node.get("additionalProperties"), dict):
                node["additionalProperties"] = self.key(node["additionalProperties"])
            if "patternProperties" in node:
                node["patternProperties"] = {p: self.key(v) for p, v in node["patternProperties"].items()}
        return node

    def tagged_union(self, node: dict[str, Any]) -> dict[str, Any]:
        """One partial object with the keys of every member: an overlay may change the tag and drop old keys."""
        tag = node["discriminator"]["propertyName"]
        options = list(node["discriminator"]["mapping"])
        properties: dict[str, Any] = {}
        for member in node["oneOf"]:
            for key, value in self.originals[_ref_name(member)]["properties"].items():
                properties.setdefault(key, value)
        listed = ", ".join(f"`{option}`" for option in options)
        properties[tag] = {"enum": options, "type": "string", "description": f"The kind: one of {listed}."}
        return self.obj(f"Any key of any kind ({listed}).", properties)


def _add_overlays(schema: dict[str, Any]) -> None:
    """Add the `Overlay` definition and make `environments.<env>` refer to it."""
    from mlform.specs.read.overlays import PINNED, SECTIONS

    partials = _Partials(schema["$defs"])
    sections = {key: schema["properties"][key] for key in SECTIONS}
    overlay = partials.obj("Changes for one environment, deep-merged onto the spec: mappings merge, "
                           "lists and scalars replace.", sections)
    pinned_section = _ref_name(sections[PINNED[0]])
    del schema["$defs"][partials.model(pinned_section)]["properties"][PINNED[1]]
    overlay["title"] = OVERLAY
    schema["$defs"][OVERLAY] = overlay
    environments = schema["properties"]["environments"]["patternProperties"]
    for pattern in environments:
        environments[pattern] = {"anyOf": [{"$ref": f"#/$defs/{OVERLAY}"}, _NULL]}


def schema_text() -> str:
    """The schema as stable JSON text: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n"


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the schema to this file (atomically) instead of standard output.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the spec format, or write it to --output."""
    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    from mlform.specs.fsutil import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        raise click.ClickException(f"cannot write `{output}`: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}")
