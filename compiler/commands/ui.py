"""`mlform ui`: serve the read-only web UI over the specs under a folder with uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["DEFAULT_PORT", "ui"]

DEFAULT_PORT = 5010


@click.command()
@click.argument("root", required=False, default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback shows your state to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on.")
def ui(root: Path, host: str, port: int) -> None:
    """Serve a read-only web UI over the specs under ROOT (default: here): pipelines, runs, models, plans,
    drift reports and the audit log, each page with its JSON twin under /api/ (GET /api lists them).

    State is read where each spec keeps it, remote backends included (`$MLFORM_BACKEND` when set). Nothing is
    written: the UI answers GET and HEAD only.
    """
    import uvicorn

    from mlform.compiler.ui.app import create_app

    app = create_app(root, warm=True)
    click.echo(f"mlform ui: {len(app.sources.entries)} spec(s) under {root} on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on", server_header=False)
