"""One flag style across commands: `--format` wherever there are formats, `-o` for where output goes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from tools.cli_tree import commands


def _options(command: click.Command) -> dict[str, click.Option]:
    return {opt: p for p in command.params if isinstance(p, click.Option) for opt in p.opts}


_AUDITED = [(" ".join(path), command) for path, command in commands()]


@pytest.mark.parametrize(("name", "command"), _AUDITED, ids=[name for name, _ in _AUDITED])
def test_formats_are_chosen_with_format_and_json_is_only_a_hidden_alias(name: str, command: click.Command) -> None:
    options = _options(command)
    if "--json" in options:
        assert options["--json"].hidden, f"`{name} --json` is shown; document `--format json` instead"
        assert "--format" in options, f"`{name}` has --json but no --format"
    fmt = options.get("--format")
    if fmt is not None:
        assert isinstance(fmt.type, click.Choice) and fmt.name == "fmt"
    output = options.get("--out") or options.get("--output")
    if output is not None:
        assert "-o" in output.opts, f"`{name}` names its output with {output.opts} but no `-o`"


def _run_id(mlform, spec: Path) -> str:
    listing = json.loads(mlform("runs", "list", spec, "--format", "json").out)
    assert [(r["spec_name"], r["status"]) for r in listing] == [("iris", "ran")]
    return str(listing[0]["id"])


def test_runs_list_and_show_take_spec_first_and_format(iris_project: Path, run_mlform) -> None:
    assert run_mlform("run", iris_project, "--step", "ingest.train").code == 0
    run_id = _run_id(run_mlform, iris_project)

    spec_first = run_mlform("runs", "show", iris_project, run_id[:16], "--format", "json")
    id_first = run_mlform("runs", "show", run_id[:16], iris_project, "--json")  # the older order and flag

    assert spec_first.code == id_first.code == 0
    assert json.loads(spec_first.out) == json.loads(id_first.out)
    assert json.loads(spec_first.out)["id"] == run_id
    assert run_mlform("runs", "show", iris_project, run_id).out.startswith(f"run {run_id}  iris (default)  ")


def test_runs_show_with_a_spec_but_no_id_says_what_is_missing(iris_project: Path, run_mlform) -> None:
    result = run_mlform("runs", "show", iris_project)
    assert result.code == 1
    assert result.err.endswith(f"Error: missing the run ID after `{iris_project}`: mlform runs show [SPEC] ID\n")


def test_runs_list_json_of_a_folder_without_runs_is_empty(tmp_path: Path, run_mlform,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFORM_HOME", raising=False)
    result = run_mlform("runs", "list", "--format", "json", cwd=tmp_path)
    assert (result.code, json.loads(result.out)) == (0, [])
