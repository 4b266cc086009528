"""ARCHITECTURE.md's command recipe, followed for a toy command: a click command in its own module and one
`COMMANDS` entry; `mlform --help` lists it without importing it, and `mlform <name>` runs it."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlform.compiler.cli import COMMANDS

TOY = '''
"""A toy command: counts the rows of a CSV file."""

import click


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def count(path):
    """Count the data rows of PATH."""
    import csv

    with open(path, newline="") as handle:
        click.echo(f"{sum(1 for _ in csv.reader(handle)) - 1} rows")
'''


def test_a_registered_toy_command_is_listed_lazily_and_runs(
        run_mlform: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlform_toy_count.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mlform_toy_count", raising=False)
    monkeypatch.setitem(COMMANDS, "count", ("mlform_toy_count:count", "Count the data rows of a CSV file."))
    code, out, _ = run_mlform("--help")
    assert code == 0 and re.search(r"^  count +Count the data rows of a CSV file\.$", out, re.MULTILINE)
    assert "mlform_toy_count" not in sys.modules
    data = tmp_path / "wine.csv"
    data.write_text("alcohol,hue\n13.2,1.05\n12.4,0.9\n14.1,1.1\n")
    assert run_mlform("count", data)[:2] == (0, "3 rows\n")
    code, _, err = run_mlform("count", tmp_path / "missing.csv")
    assert code == 1 and "missing.csv" in err
