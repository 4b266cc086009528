"""`mlform audit`: read, export and verify the hash-chained log of every apply and every other alias move."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlform.runtime.storage.backends.base import Backend

__all__ = ["audit", "render_table"]

FORMATS = ("text", "json", "jsonl")
_HEADERS = ("SEQ", "TIME", "ACTOR", "SPEC", "ENV", "RESULT", "COMMAND", "PROMOTED", "COMMIT", "PLAN")


def _backends(path: Path) -> list[Backend]:
    """The backends of the specs at `path`, in order and without repeats (see `spec_backends`); warns of audit
    entries kept on this machine that wait to be appended to them."""
    from mlform.runtime.storage.auditkeep import kept_in

    from .common import spec_backends, spec_files

    files = spec_files((path,))
    for folder, count in dict(kept_in(file.parent) for file in files).items():
        if count:
            click.echo(f"warning: {count} audit entr{'y' if count == 1 else 'ies'} kept in {folder} wait to be "
                       "appended: the next audited change on their backend appends them first", err=True)
    return spec_backends(files)


def _version(value: Any) -> str:
    return "none" if value is None else f"v{value}"


def _moves(entry: dict[str, Any]) -> str:
    moves = [f"{m.get('model')}@{m.get('alias')} {_version(m.get('from'))} -> {_version(m.get('to'))}"
             for m in entry.get("promoted") or []]
    return ", ".join(moves) or "-"


def _row(entry: dict[str, Any]) -> tuple[str, ...]:
    commit = entry.get("git_commit")
    digest = str(entry.get("plan_digest") or "")
    return (str(entry.get("seq")), str(entry.get("time", "")).replace("+00:00", "Z"), str(entry.get("actor")),
            str(entry.get("spec")), str(entry.get("env")), str(entry.get("result")),
            str(entry.get("command", "apply")), _moves(entry),
            commit[:7] if isinstance(commit, str) else "-", digest.removeprefix("sha256:")[:12] or "-")


def render_table(entries: list[dict[str, Any]]) -> str:
    """Entries as an aligned table, with the first line of each error under its row."""
    rows = [_HEADERS, *(_row(entry) for entry in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(rows[0], widths, strict=True)).rstrip()]
    for entry, row in zip(entries, rows[1:], strict=True):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if entry.get("error"):
            lines.append(f"{'':{widths[0]}}  error: {str(entry['error']).splitlines()[0]}")
    return "\n".join(lines)


@click.command()
@click.argument("path", required=False, default=".", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", "env", default=None, metavar="ENV", help="Only entries of this environment.")
@click.option("--model", "-m", "model", default=None, metavar="NAME",
              help="Only entries that registered a version of model NAME or moved one of its aliases.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="`text` for people (a table), `json` for tools (one array), `jsonl` for export (one entry a "
                   "line, exactly as the log stores it).")
@click.option("--verify", is_flag=True, help="Check the whole hash chain and print its head; exit 1 when broken.")
def audit(path: Path, env: str | None, model: str | None, fmt: str, verify: bool) -> None:
    """Show the audit log of the specs at PATH (a spec file or project folder; default: here): every apply, and
    every `mlform run` or `mlform monitor` that moved an alias.

    The whole chain is verified first: an entry edited, removed, reordered or inserted, or an incomplete
    last entry, is an error naming its seq.
    """
    from mlform.compiler.governance.audit import canonical, head, log_where, read_entries, read_log

    backends = _backends(path)
    if verify:
        for backend in backends:
            entries = read_log(backend)
            count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
            prefix = f"{log_where(backend)}: " if len(backends) > 1 else ""
            click.echo(f"{prefix}audit log intact: {count}, head {head(entries)}")
        return
    logs = [(backend, read_entries(backend, env, model)) for backend in backends]
    if fmt == "jsonl":
        for _, entries in logs:
            for entry in entries:
                click.echo(canonical(entry))
    elif fmt == "json":
        click.echo(json.dumps([entry for _, entries in logs for entry in entries], indent=2, sort_keys=True))
    else:
        for backend, entries in logs:
            if len(logs) > 1:
                click.echo(f"{log_where(backend)}:")
            click.echo(render_table(entries) if entries else "No audit entries.")
