"""The corpus of broken specs: each file states every diagnostic `validate_file` must report for it.

A corpus file starts with comment lines: a description, optionally `# envs: a, b` (the environments to
validate, as `mlform validate --env` would), and one `# expect: LINE:COL: SEVERITY: [PATH: ]MESSAGE` per
diagnostic, in the order they are reported (by line, then column).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import validate_file
from mlform.specs.read.source import MAX_BYTES

CORPUS = Path(__file__).parent / "invalid"
CASES = sorted(CORPUS.glob("*.yaml"))


def _header(path: Path) -> tuple[list[str], list[str] | None]:
    """The expected diagnostics and the environments named in the leading comment lines of `path`."""
    expected: list[str] = []
    envs: list[str] | None = None
    for raw in path.read_bytes().splitlines():
        if not raw.startswith(b"# "):
            break
        line = raw.decode("ascii")
        if line.startswith("# expect: "):
            expected.append(line.removeprefix("# expect: "))
        elif line.startswith("# envs: "):
            envs = [env.strip() for env in line.removeprefix("# envs: ").split(",")]
    return expected, envs


def test_corpus_covers_at_least_45_broken_specs() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_expected_diagnostic_and_no_other(path: Path) -> None:
    expected, envs = _header(path)
    assert expected, f"{path.name} expects nothing; a corpus file needs `# expect:` lines"

    _, diagnostics = validate_file(path, envs)

    prefix = f"{path}:"
    assert all(str(d).startswith(prefix) for d in diagnostics)
    assert [str(d).removeprefix(prefix) for d in diagnostics] == expected
    assert [(d.line, d.col) for d in diagnostics] == sorted((d.line, d.col) for d in diagnostics)
    assert any(d.severity == "error" for d in diagnostics)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    path.write_bytes(b"description: " + b"x" * MAX_BYTES + b"\n")

    specs, diagnostics = validate_file(path)

    size = MAX_BYTES + len(b"description: \n")
    assert specs == []
    assert [str(d) for d in diagnostics] == [
        f"{path}:1:1: error: file is {size} bytes; specs are limited to {MAX_BYTES} bytes"
    ]


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mlform.yaml"
    padding = MAX_BYTES - len(b"apiVersion: mlform/v1\n#\n")
    path.write_bytes(b"apiVersion: mlform/v1\n#" + b"x" * padding + b"\n")
    assert path.stat().st_size == MAX_BYTES

    _, diagnostics = validate_file(path)

    assert "limited to" not in "\n".join(str(d) for d in diagnostics)
    assert any("missing required key `kind`" in str(d) for d in diagnostics)


def test_inline_secret_values_never_reach_a_message() -> None:
    path = CORPUS / "secret-values-are-never-echoed.yaml"
    assert b"hunter2" in path.read_bytes()

    _, diagnostics = validate_file(path)

    assert len(diagnostics) == 4
    assert not any("hunter2" in str(d) for d in diagnostics)
