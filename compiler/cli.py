"""The `mlform` command line. Commands load lazily so `mlform --help` stays fast."""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["Session", "cli", "main"]

# name -> (module:attribute, one-line help). Help text lives here so `--help` imports nothing heavy.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("mlform.compiler.commands.validate:validate", "Validate specs and report every error at once."),
    "graph": ("mlform.compiler.commands.graph:graph", "Show the step graph of a spec."),
    "schema": ("mlform.compiler.commands.schema:schema", "Print the JSON Schema of the spec format."),
    "compile": ("mlform.compiler.commands.compile:compile_", "Emit Dockerfiles, workflows, DAGs and manifests."),
    "diff": ("mlform.compiler.commands.diff:diff", "Compare the artifacts two git refs compile to, by meaning."),
    "plan": ("mlform.compiler.commands.plan:plan", "Show what apply would change, and why."),
    "apply": ("mlform.compiler.commands.plan:apply", "Apply a saved plan, or plan and apply after confirmation."),
    "promote": ("mlform.compiler.commands.promote:promote", "Pin the model version an environment serves."),
    "state": ("mlform.compiler.commands.state:state", "List, show and migrate recorded state."),
    "force-unlock": ("mlform.compiler.commands.state:force_unlock", "Remove a stale state lock by its ID."),
    "audit": ("mlform.compiler.commands.audit:audit", "Show, export and verify the tamper-evident log of applies."),
    "build": ("mlform.compiler.commands.build:build", "Build the training and serving images with a Docker engine."),
    "init": ("mlform.compiler.commands.init:init", "Scaffold a new spec with data that validates."),
    "import": ("mlform.compiler.commands.import_recipe:import_group", "Import an MLflow Recipe as an mlform spec."),
    "run": ("mlform.compiler.commands.run:run", "Run the pipeline's steps locally, skipping cached ones."),
    "runs": ("mlform.compiler.commands.run:runs", "List and show tracked runs."),
    "models": ("mlform.compiler.commands.run:models", "List models, aliases per environment, training pins."),
    "card": ("mlform.compiler.commands.card:card", "Render the model card of a registered version."),
    "readiness": ("mlform.compiler.commands.readiness:readiness", "Score specs against the ML Test Score's 28 tests."),
    "reproduce": ("mlform.compiler.commands.reproduce:reproduce", "Retrain a version from its lineage; compare."),
    "predict": ("mlform.compiler.commands.run:predict", "Score a file in batch with a registered model."),
    "serve": ("mlform.compiler.commands.serve:serve", "Serve a registered model over HTTP."),
    "monitor": ("mlform.compiler.commands.monitor:monitor", "Compare current data with the reference for drift."),
    "ui": ("mlform.compiler.commands.ui:ui", "Serve a read-only web UI: pipelines, runs, models, plans, drift, audit."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, _, attr = entry[0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@dataclass
class Session:
    """Settings of one `mlform` invocation that `main` needs after a command has failed."""

    debug: bool = False
    # the console script's own invocation, alone in its process (not one run in-process by tests or a caller):
    # what its command builds to last the process may be frozen out of the garbage collector's sight
    console: bool = False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mlform", prog_name="mlform")
@click.option("--debug", is_flag=True, envvar="MLFORM_DEBUG", show_envvar=True,
              help="On an error, also print the Python traceback.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """mlform: declarative ML pipelines. One YAML spec per model, compiled and applied like infrastructure."""
    if isinstance(ctx.obj, Session):
        ctx.obj.debug = debug


def _print_traceback(exc: Exception) -> None:
    """Print `exc` with its traceback (for --debug); `traceback` loads only then, off the start-up path."""
    import traceback

    traceback.print_exception(exc)


def _internal(exc: Exception) -> str:
    """One line for an exception mlform did not expect: its type and first line, never a traceback."""
    lines = str(exc).strip().splitlines()
    text = f": {lines[0]}" if lines else ""
    return f"error: internal error in mlform: {type(exc).__name__}{text} (run with --debug for the traceback)"


def _skip_final_collection() -> None:
    """Leave the objects alive at exit to the process's end, not to a last garbage collection."""
    # The interpreter's final collection walks every object (modules, spec models, validators) to free memory the
    # process's exit frees anyway: ~4% of `mlform validate`. Only for the console script's own process, once
    # however often `main` runs.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every error into a message and exit code 1 (a traceback with --debug)."""
    from mlform.specs.errors import MlformError, SpecError

    session = Session(console=argv is None)
    if session.console:  # a caller's process keeps its own exit
        _skip_final_collection()
    try:
        return cli.main(args=argv, prog_name="mlform", standalone_mode=False, obj=session)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors exit 1 like every other bad input: exit 2 means "changes" for `plan --detailed-exitcode`.
        exc.show()
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except SpecError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    except MlformError as exc:
        if session.debug:
            _print_traceback(exc)
        location = getattr(exc, "location", None)
        click.echo(f"{location}: error: {exc}" if location else f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug or an unforeseen library error: one line, the traceback with --debug
        if session.debug:
            _print_traceback(exc)
        click.echo(_internal(exc), err=True)
        sys.exit(1)
