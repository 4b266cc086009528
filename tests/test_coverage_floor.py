"""The coverage floor `make test` enforces (`fail_under` in pyproject.toml) only rises, and the README states it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from tools import run

REPO = Path(__file__).resolve().parents[1]
FLOOR = float(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["coverage"]["report"]["fail_under"])


def earlier_floors() -> list[float]:
    """Every value `fail_under` had in pyproject.toml's history."""
    done = run(["git", "-C", REPO, "log", "--format=", "-p", "-G", "^fail_under", "--", "pyproject.toml"])
    if done.returncode != 0:
        pytest.skip(f"no git history to compare with: {done.stderr.strip()}")
    return [float(value) for value in re.findall(r"^[-+]fail_under = ([0-9.]+)$", done.stdout, re.MULTILINE)]


def test_the_floor_is_never_lowered() -> None:
    assert [floor for floor in earlier_floors() if floor > FLOOR] == []


def test_the_readme_states_the_floor() -> None:
    words = " ".join((REPO / "README.md").read_text().split())
    assert f"fails below the floor of {FLOOR:g}%" in words
