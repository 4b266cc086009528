"""`mlform schema`: the JSON Schema of `mlform/v1` specs, for editors and yaml-language-server."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["SCHEMA_ID", "schema", "schema_text", "spec_schema"]

SCHEMA_ID = "https://mlform.dev/schema/mlform-v1.json"


def spec_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) document of the spec format."""
    from mlform.specs import Pipeline

    schema = Pipeline.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlform pipeline spec (mlform/v1)", **{k: v for k, v in schema.items() if k != "title"}}


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
