"""The round-trip YAML editor: exact edits, refusals, and properties over generated spec-like files."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlform.specs.errors import EditError, SpecError
from mlform.specs.read.source import parse_document, resolve_plain
from mlform.specs.read.yamledit import Edit, dump_scalar, set_value

PROD = ("environments", "prod", "registry", "production")


def _edit(text: str, value: Any = 7, path: tuple[str, ...] = PROD) -> Edit:
    return set_value(text, path, value, "spec.yaml")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the value is replaced in place, whatever its quoting, and a trailing comment stays
        ("environments:\n  prod:\n    registry:\n      production: 6  # pinned\n",
         "environments:\n  prod:\n    registry:\n      production: 7  # pinned\n"),
        ("environments:\n  prod:\n    registry:\n      production: '6'\n",
         "environments:\n  prod:\n    registry:\n      production: 7\n"),
        ("environments:\n  prod:\n    registry:\n      production: \"6\" # c\n",
         "environments:\n  prod:\n    registry:\n      production: 7 # c\n"),
        ("environments:\n  prod:\n    registry:\n      production:   # none yet\n",
         "environments:\n  prod:\n    registry:\n      production: 7   # none yet\n"),
        ("environments:\n  prod:\n    registry: {production: 6, path: r}\n",
         "environments:\n  prod:\n    registry: {production: 7, path: r}\n"),
        # missing keys go last in a block mapping, indented like their siblings and their parents
        ("environments:\n    prod:\n        serving: {replicas: 2}\nx: 1\n",
         "environments:\n    prod:\n        serving: {replicas: 2}\n        registry:\n"
         "            production: 7\nx: 1\n"),
        ("environments:\n   prod:\n      serving:\n         replicas: 2  # two\n"
         "   # staging next\n   staging: {}\n",
         "environments:\n   prod:\n      serving:\n         replicas: 2  # two\n"
         "      registry:\n         production: 7\n   # staging next\n   staging: {}\n"),
        # ...and first in a flow mapping
        ("environments:\n  prod: {serving: {replicas: 2}}\n",
         "environments:\n  prod: {registry: {production: 7}, serving: {replicas: 2}}\n"),
        ("environments:\n  prod: {}\n", "environments:\n  prod: {registry: {production: 7}}\n"),
        ("environments:\n  prod: { }\n", "environments:\n  prod: {registry: {production: 7} }\n"),
        ("environments: {prod: {\n    serving: {replicas: 2},  # c\n  }}\n",
         "environments: {prod: {\n    registry: {production: 7}, serving: {replicas: 2},  # c\n  }}\n"),
        # a null overlay becomes a mapping
        ("environments:\n  prod:\n  dev: {}\n",
         "environments:\n  prod:\n    registry:\n      production: 7\n  dev: {}\n"),
        ("environments:\n  prod: ~  # empty\n", "environments:\n  prod: {registry: {production: 7}}  # empty\n"),
        ("environments: {prod: , dev: {}}\n", "environments: {prod: {registry: {production: 7}}, dev: {}}\n"),
        # `environments:` is created at the end, with the file's indentation
        ("metadata:\n    name: x\n# the end\n",
         "metadata:\n    name: x\nenvironments:\n    prod:\n        registry:\n            production: 7\n# the end\n"),
        ("a: 1", "a: 1\nenvironments:\n  prod:\n    registry:\n      production: 7"),
        ("a: 1\r\nb:\r\n  c: 2\r\n",
         "a: 1\r\nb:\r\n  c: 2\r\nenvironments:\r\n  prod:\r\n    registry:\r\n      production: 7\r\n"),
        ("\ufeffa: 1\n", "\ufeffa: 1\nenvironments:\n  prod:\n    registry:\n      production: 7\n"),
        ("a: |\n  text\n\n", "a: |\n  text\n\nenvironments:\n  prod:\n    registry:\n      production: 7\n"),
    ],
)
def test_edits_change_only_the_bytes_needed(before: str, after: str) -> None:
    assert _edit(before).text == after


@pytest.mark.parametrize(
    ("before", "line", "col", "old", "created"),
    [
        ("environments:\n  prod:\n    registry:\n      production: 6\n", 4, 19, 6, False),
        ("environments:\n  prod:\n    registry:\n      production:\n", 4, 19, None, False),
        ("environments:\n  prod: {serving: {replicas: 2}}\n", 2, 33, None, True),
        ("a: 1\n", 5, 19, None, True),
    ],
)
def test_edit_reports_where_the_value_stands_and_what_it_replaced(
        before: str, line: int, col: int, old: Any, created: bool) -> None:
    edit = _edit(before)
    assert (edit.line, edit.col, edit.old, edit.created) == (line, col, old, created)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: &base {x: 1}\nenvironments:\n  prod: *base\n",
         "spec.yaml:3:9: error: environments.prod: `environments.prod` is an alias (`*base`); "
         "write the value out to edit it"),
        ("environments: &envs\n  prod: {}\n",
         "spec.yaml:1:15: error: environments: `environments` has an anchor (`&envs`) that aliases may share; "
         "remove the anchor to edit it"),
        ("environments:\n  prod:\n    registry:\n      production: &v 6\nother: *v\n",
         "spec.yaml:4:19: error: environments.prod.registry.production: `environments.prod.registry.production` "
         "has an anchor (`&v`) that aliases may share; remove the anchor to edit it"),
        ("environments:\n  prod:\n    registry:\n      production: !!int 6\n",
         "spec.yaml:4:19: error: environments.prod.registry.production: `environments.prod.registry.production` "
         "has the tag `!!int`; remove the tag to edit it"),
        ("environments:\n  prod: [1]\n", "spec.yaml:2:9: error: environments.prod: `environments.prod` is a list, "
                                         "not a mapping"),
        ("environments:\n  prod: off\n",
         "spec.yaml:2:9: error: environments.prod: `environments.prod` is a scalar, not a mapping, "
         "so `environments.prod.registry.production` cannot be set"),
        ("environments:\n  prod:\n    registry:\n      production: {v: 1}\n",
         "spec.yaml:4:19: error: environments.prod.registry.production: `environments.prod.registry.production` "
         "is a mapping, not a single value"),
        ("a: |+\n  keep", "spec.yaml:1:1: error: cannot edit `environments.prod.registry.production` safely here; "
                          "edit the file by hand"),
    ],
)
def test_refuses_what_it_cannot_edit_safely(text: str, message: str) -> None:
    with pytest.raises(EditError) as caught:
        _edit(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n---\nb: 2\n", "spec.yaml:3:1: error: a spec file holds one YAML document, found 2"),
        ("environments:\n  prod: *base\nbase: &base {x: 1}\n",
         "spec.yaml:2:9: error: alias `*base` refers to no anchor defined above it; define `&base` before using "
         "it, or quote a value that starts with `*`"),
        ("a: 1\na: 2\n", "spec.yaml:2:1: error: a: duplicate key `a` (first defined at line 1)"),
    ],
)
def test_files_the_reader_refuses_are_not_edited(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        _edit(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "dumped"),
    [
        (7, "7"), (-3, "-3"), (True, "true"), (False, "false"), ("plain", "plain"), ("two words", "two words"),
        ("1e3", "'1e3'"), ("0o17", "'0o17'"), ("7", "'7'"), ("yes", "'yes'"), ("null", "'null'"), ("", "''"),
        ("a,b", "'a,b'"), ("{x: 1}", "'{x: 1}'"), ("a #b", "'a #b'"), ("*x", "'*x'"), ("it's", "it's"),
        ("x\ny", '"x\\ny"'), ("tab\there", '"tab\\there"'), ("\u2028", '"\\L"'), ("é", "é"),
    ],
)
def test_dump_scalar(value: Any, dumped: str) -> None:
    assert dump_scalar(value) == dumped


def test_wrong_arguments() -> None:
    with pytest.raises(ValueError, match="key path"):
        _edit("a: 1\n", path=())
    with pytest.raises(TypeError, match="not float"):
        _edit("a: 1\n", value=1.5)


# -- properties over generated spec-like files ------------------------------------------------------------------

KEYS = ("data", "model", "prod", "dev", "registry", "serving", "x_1", "a-b", "production")
NEW_KEYS = ("registry", "production", "fresh", "new-key")
PLAIN = st.from_regex(r"[a-z][a-z0-9_./-]{0,6}( [a-z0-9]{1,3})?", fullmatch=True).filter(
    lambda s: resolve_plain(s) == s)
TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=8)
LEAF = st.one_of(st.integers(-10, 10**6), st.booleans(), st.none(), PLAIN, TEXT)
TREE = st.recursive(LEAF, lambda kids: st.dictionaries(st.sampled_from(KEYS), kids, max_size=3), max_leaves=10)
SPEC = st.dictionaries(st.sampled_from(KEYS), TREE, min_size=1, max_size=4)
VALUE = st.one_of(st.integers(), st.booleans(), st.text(max_size=12), PLAIN)

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _key(draw: Draw, key: str) -> str:
    return draw(st.sampled_from([key, f"'{key}'", f'"{key}"']))


def _scalar(draw: Draw, value: Any, flow: bool) -> str:
    if value is None:
        return draw(st.sampled_from(["~", "null"] if flow else ["", "~", "null"]))
    if isinstance(value, bool | int):
        return json.dumps(value)
    quoted = draw(st.sampled_from([json.dumps(value, ensure_ascii=False), "'" + value.replace("'", "''") + "'"]))
    plain = (value[:1].isalnum() and resolve_plain(value) == value and value == value.strip()
             and not any(c in value for c in ":#,[]{}'\""))
    return value if plain and draw(st.booleans()) else quoted


def _flow(draw: Draw, value: Any) -> str:
    if not isinstance(value, dict):
        return _scalar(draw, value, flow=True)
    pad = draw(st.sampled_from(["", " "])) if value else ""
    items = ", ".join(f"{_key(draw, k)}: {_flow(draw, v)}" for k, v in value.items())
    return "{" + pad + items + pad + "}"


def _comment(draw: Draw) -> str:
    return draw(st.sampled_from(["", "", "  # note: {x}, y", " #"]))


def _block(draw: Draw, mapping: dict[str, Any], indent: int, lines: list[str], path: tuple[str, ...],
           spans: dict[tuple[str, ...], int]) -> None:
    """Append the block lines of `mapping` at `indent`; `spans` gets the line count of each block scalar."""
    for key, value in mapping.items():
        if draw(st.integers(0, 5)) == 0:
            lines.append(" " * draw(st.integers(0, indent)) + "# comment: with {braces} and 'quotes'")
        if draw(st.integers(0, 5)) == 0:
            lines.append("")
        head = " " * indent + _key(draw, key) + ":"
        if isinstance(value, dict) and value and draw(st.booleans()):
            lines.append(head + _comment(draw))
            _block(draw, value, indent + draw(st.integers(1, 4)), lines, (*path, key), spans)
        elif isinstance(value, str) and value.strip() and value.isprintable() and draw(st.integers(0, 3)) == 0:
            lines.append(head + " |-")  # a literal block scalar without its final line break
            lines.append(" " * (indent + 2) + value.strip())
            mapping[key] = value.strip()
            spans[(*path, key)] = 2
        else:
            shown = _flow(draw, value)
            lines.append(head + (" " + shown if shown else "") + _comment(draw))


def _render(draw: Draw, spec: dict[str, Any]) -> tuple[str, dict[tuple[str, ...], int]]:
    lines = draw(st.sampled_from([[], ["# header"], ["---"]]))
    spans: dict[tuple[str, ...], int] = {}
    _block(draw, spec, 0, lines, (), spans)
    if draw(st.booleans()):
        lines.append("# trailing comment")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + (newline if draw(st.booleans()) else ""), spans


def _paths(data: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, data)]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    return found


def _target(draw: Draw, data: dict[str, Any]) -> tuple[str, ...]:
    path, value = draw(st.sampled_from(_paths(data)))
    if path and not isinstance(value, dict) and (value is not None or draw(st.booleans())):
        return tuple(path)  # an existing value
    taken = set(value) if isinstance(value, dict) else set()
    first = draw(st.sampled_from([k for k in NEW_KEYS if k not in taken]))
    more = draw(st.lists(st.sampled_from(NEW_KEYS), max_size=2))
    return (*path, first, *more)


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    target = result
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), SPEC, VALUE)
def test_set_value_changes_the_target_and_nothing_else(data: st.DataObject, spec: dict[str, Any], value: Any) -> None:
    text, spans = _render(data.draw, spec)
    before = parse_document(text.encode(), "spec.yaml")
    assert before.data == spec  # the generator writes what it means
    path = _target(data.draw, spec)

    edit = set_value(text, path, value, "spec.yaml")

    after = parse_document(edit.text.encode(), "spec.yaml").data
    assert after == _with(spec, path, value)
    newline = "\r\n" if "\r\n" in text else "\n"
    assert edit.text.endswith(newline) == text.endswith(newline)
    if newline == "\r\n":
        assert "\n" not in edit.text.replace("\r\n", "")
    old, new = text.split(newline), edit.text.split(newline)
    changed = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert len(changed) <= 1
    if changed:
        _, first, last, _, _ = changed[0]
        # the only old lines that changed are those of the value replaced, or of the flow/null parent filled in
        line = before.mark(path).line - 1
        assert first == last or line <= first <= last <= line + spans.get(path, 1)
    assert new[edit.line - 1][edit.col - 1:].startswith(dump_scalar(value))
    existed = _paths(spec)
    assert (edit.old, edit.created) == next(((v, False) for p, v in existed if p == path), (None, True))
