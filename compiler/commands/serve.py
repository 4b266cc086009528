"""`mlform serve`: serve a model from the registry over HTTP with uvicorn."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlform.runtime.serving.app import ServingApp
    from mlform.specs.loader import ResolvedSpec

__all__ = ["CONFIG_ENV", "DEFAULT_MAX_BATCH_SIZE", "DEFAULT_PORT", "app_from_env", "serve", "served_ref"]

CONFIG_ENV = "MLFORM_SERVE_CONFIG"
DEFAULT_PORT = 8080
DEFAULT_MAX_BATCH_SIZE = 1000


def app_from_env() -> ServingApp:
    """The app of one worker process, configured by the parent through `MLFORM_SERVE_CONFIG`."""
    from mlform.runtime.serving.app import create_app

    from .run import open_registry

    config = json.loads(os.environ[CONFIG_ENV])
    spec = Path(config["spec"]) if config["spec"] is not None else None
    from mlform.runtime.serving.watch import watch_parts

    loaded = open_registry(spec, config["env"]).load(config["model"], config["version"], config["alias_env"])
    guard, request_log = watch_parts(config["watch"], loaded)
    app = create_app(loaded, max_batch_size=config["max_batch_size"], max_body_bytes=config["max_body_bytes"],
                     id_columns=config["id_columns"], guard=guard, request_log=request_log)
    _freeze_heap()
    return app


def served_ref(spec: ResolvedSpec) -> tuple[str, int | str]:
    """The model and version (or alias) `spec` serves: `registry.production` when pinned, else `promote_to`."""
    pinned = spec.pipeline.registry
    return pinned.model_name, pinned.production or pinned.promote_to


def _freeze_heap() -> None:
    """Move the loaded model and libraries out of the collector's way: fewer, shorter GC pauses while serving."""
    gc.collect()
    gc.freeze()


@click.command()
@click.argument("spec", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, metavar="ENV",
              help="Environment overlay to resolve (default: the base spec).")
@click.option("--model", "model_ref", default=None, metavar="NAME@REF",
              help="NAME@ALIAS or NAME@VERSION, the alias as ENV sees it (default: the version the spec pins with "
                   "`registry.production`, else `registry.model_name`@`registry.promote_to` of ENV).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port to listen on (default: the spec's `serving.port`, else {DEFAULT_PORT}).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1 << 20, show_default=True,
              help="Largest request body accepted (413 above).")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def serve(spec: Path | None, env: str | None, model_ref: str | None, host: str, port: int | None, workers: int,
          max_body_bytes: int, access_log: bool) -> None:
    """Serve a registered model over HTTP: POST /predict, GET /health, /ready, /metrics, /openapi.json.

    Models load only from the registry, their sha256 checked: the shared backend's when `$MLFORM_BACKEND` is
    set, else SPEC's `registry.path`, else `.mlform/registry` beside SPEC (or `$MLFORM_HOME/registry`). Without
    SPEC, `--model` is required and the registry is the current folder's. Aliases are per environment:
    `--env dev` serves what dev's aliases name, whatever other environments did. The version is pinned at
    start, so every worker serves the same one. With SPEC, rows may carry its `data.id_columns`: never given
    to the model, they come back as `ids` beside the predictions. SPEC's `serving.validate_inputs` checks requests
    against its `validation.columns` rules and `serving.log` writes sampled rows as JSON Lines (to a folder,
    or to the state backend with `sink: backend`).
    """
    import uvicorn

    from mlform.runtime.serving.app import create_app
    from mlform.runtime.serving.predict import parse_model_ref
    from mlform.runtime.serving.watch import watch_config, watch_parts
    from mlform.specs.read.overlays import BASE

    from .run import load_resolved, open_registry

    resolved = load_resolved(spec, env) if spec is not None else None
    if model_ref is not None:
        name, ref = parse_model_ref(model_ref)
    elif resolved is not None:
        name, ref = served_ref(resolved)
    else:
        raise click.ClickException("give SPEC or `--model NAME@ALIAS`")
    serving = resolved.pipeline.serving if resolved is not None else None
    max_batch_size = serving.max_batch_size if serving else DEFAULT_MAX_BATCH_SIZE
    id_columns = list(resolved.pipeline.data.id_columns) if resolved is not None else []
    port = port if port is not None else serving.port if serving else DEFAULT_PORT
    registry = open_registry(spec, env)
    loaded_env = resolved.env if resolved is not None else env or BASE
    loaded = registry.load(name, ref, loaded_env)
    spec_dir = (spec if spec.is_dir() else spec.parent).resolve() if spec is not None else Path.cwd()
    watch = watch_config(resolved, spec_dir)
    click.echo(f"serving `{name}` version {loaded.version.version} on http://{host}:{port} "
               f"with {workers} worker{'s' if workers > 1 else ''}", err=True)
    options: dict[str, Any] = {"host": host, "port": port, "access_log": access_log, "log_level": "info",
                               "lifespan": "on", "server_header": False}
    if workers == 1:
        guard, request_log = watch_parts(watch, loaded)
        app = create_app(loaded, max_batch_size=max_batch_size, max_body_bytes=max_body_bytes, id_columns=id_columns,
                         guard=guard, request_log=request_log)
        _freeze_heap()
        uvicorn.run(app, **options)
        return
    os.environ[CONFIG_ENV] = json.dumps({"spec": str(spec) if spec is not None else None, "env": env,
                                         "alias_env": loaded_env, "model": name,
                                         "version": loaded.version.version, "max_batch_size": max_batch_size,
                                         "max_body_bytes": max_body_bytes, "id_columns": id_columns,
                                         "watch": watch})
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=workers, **options)
