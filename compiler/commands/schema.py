"""`mlform schema`: the JSON Schema of `mlform/v1` specs, for editors and yaml-language-server."""

from __future__ import annotations

import json

import click

SCHEMA_ID = "https://mlform.dev/schema/mlform-v1.json"


def spec_schema() -> dict[str, object]:
    """The JSON Schema document of the spec format."""
    from mlform.specs import Pipeline

    schema = Pipeline.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlform pipeline spec (mlform/v1)", **{k: v for k, v in schema.items() if k != "title"}}


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec format to standard output."""
    click.echo(json.dumps(spec_schema(), indent=2, sort_keys=True))
