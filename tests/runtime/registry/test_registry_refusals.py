"""A damaged registry file, met by the commands that read it: the file named with the exact cause, exit 1, no
traceback, and the file left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

MODEL = ".mlform/registry/iris-classifier"
BROKEN = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"


@pytest.fixture
def registered(core_project: Path, mlform) -> Path:
    """The iris copy, run once: version 1 registered and promoted to `staging`."""
    root = core_project.parent
    assert mlform("run", ".", cwd=root).code == 0
    return root.resolve()


@pytest.mark.parametrize(("name", "damage", "cause"), [
    ("aliases.json", b"{broken", BROKEN),
    ("aliases.json", b'{"environments": {"default": {"staging": "one"}}, "format": 2}',
     "not a mapping of aliases to versions"),
    ("versions/1/meta.json", b"{broken", BROKEN),
], ids=["aliases-not-json", "aliases-not-versions", "meta-not-json"])
def test_models_list_names_the_damaged_file(registered: Path, mlform, name: str, damage: bytes,
                                            cause: str) -> None:
    damaged = registered / MODEL / name
    damaged.write_bytes(damage)

    result = mlform("models", "list", ".", cwd=registered)

    assert (result.code, result.err) == (1, f"error: cannot read state file {damaged}: {cause}\n")
    assert "Traceback" not in result.out
    assert damaged.read_bytes() == damage


def test_a_run_stops_at_a_damaged_aliases_file_before_it_registers(registered: Path, mlform) -> None:
    aliases = registered / MODEL / "aliases.json"
    aliases.write_bytes(b"{broken")

    result = mlform("run", ".", "--force", cwd=registered)

    assert (result.code, result.err.splitlines()[-1]) == (
        1, f"error: step `evaluate` failed: cannot read state file {aliases}: {BROKEN}")
    assert "Traceback" not in result.out + result.err
    assert aliases.read_bytes() == b"{broken"
    assert sorted(p.name for p in (registered / MODEL / "versions").iterdir()) == ["1"]
    assert list(registered.rglob("*.tmp")) == []


def test_a_model_file_that_cannot_be_read_is_refused_by_predict(registered: Path, mlform, tmp_path: Path) -> None:
    model = registered / MODEL / "versions/1/model.pkl"
    model.unlink()
    model.mkdir()  # in the file's place: reading it fails with an OSError
    out = tmp_path / "scored.csv"

    result = mlform("predict", ".", "--model", "iris-classifier@1", "--input", "data/live.csv", "--output", out,
                    cwd=registered)

    assert (result.code, result.err) == (1, "error: model `iris-classifier` version 1: cannot read model.pkl: Is a "
                                            "directory\n")
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []
