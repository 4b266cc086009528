"""The Jinja factory and its quoting filters: strict, unescaped, and every filter round-trips."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import jinja2.sandbox
import pytest
import yaml

from mlform.compiler.artifacts.render import Templates, dump_yaml, environment, pyrepr, shquote, tojson
from mlform.compiler.targets.airflow import airflow_literal
from mlform.compiler.targets.github_actions import glob_literal, literal
from mlform.specs.errors import RenderError

NASTY = [
    "plain",
    "q'uo\"te\\s",
    "line\nbreak\r\nand\ttab\n",
    "${{ github.token }} $(touch pwned) `id`",
    "'); import os #",
    "---\n- a: [b]\n...",
    "{{ 7 * 7 }} {% raw %} {# c #} {% endraw %}",
    "ünïcødé 漢字 \u2028\u2029 \x00 \x7f",
    " lead and trail ",
    "x" * 10_000,
]


@pytest.mark.parametrize("value", NASTY)
def test_filters_round_trip(value: str) -> None:
    assert ast.literal_eval(pyrepr(value)) == value
    assert ast.literal_eval(pyrepr({"k": [value, 1, 2.5, None, True]})) == {"k": [value, 1, 2.5, None, True]}
    assert json.loads(tojson([value])) == [value]
    assert "\n" not in tojson(value) and tojson(value).isascii()
    if "\x00" not in value:
        assert shlex.split(shquote(value)) == [value]
    assert yaml.safe_load(dump_yaml({"v": value})) == {"v": value}


@pytest.mark.parametrize("value", NASTY)
def test_airflow_and_github_escapes_round_trip(value: str) -> None:
    sandbox = jinja2.sandbox.SandboxedEnvironment()
    assert sandbox.from_string(airflow_literal(value)).render() == value
    assert "${{" not in literal(value).replace("${{ '${{' }}", "")
    assert re.fullmatch(glob_regex(glob_literal(value)), value, flags=re.DOTALL)
    assert "\n" not in glob_literal(value)


def glob_regex(pattern: str) -> str:
    """A regex for a paths-filter pattern that uses only escapes and `?` (as `glob_literal` writes)."""
    parts = re.findall(r"\\.|\?|[^\\?]+", pattern, flags=re.DOTALL)
    return "".join(re.escape(p[1]) if p.startswith("\\") else "[^/]" if p == "?" else re.escape(p) for p in parts)


def test_pyrepr_refuses_what_is_not_a_literal() -> None:
    with pytest.raises(TypeError, match="cannot write PosixPath"):
        pyrepr({"path": Path("x")})
    with pytest.raises(TypeError, match="cannot write float `nan`"):
        pyrepr(float("nan"))


def test_environment_is_strict_and_does_not_escape() -> None:
    env = environment()
    assert env.from_string("{{ v }}").render(v="<&'\">") == "<&'\">"
    assert env.from_string("a\n").render() == "a\n"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_template_errors_name_the_template_and_target(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "broken.j2").write_text("{% if %}\n")
    templates = Templates(tmp_path)
    with pytest.raises(RenderError, match=r"^target `docker`: template `docker/broken.j2` line 1: "):
        templates.render("docker", "broken")
    with pytest.raises(RenderError, match=r"^target `docker`: template `docker/absent.j2` not found"):
        templates.render("docker", "absent")
    with pytest.raises(RenderError, match=r"^target `docker`: template `docker/Dockerfile.train.j2` failed: "
                                          r"'base_image' is undefined$"):
        templates.render("docker", "Dockerfile.train")
