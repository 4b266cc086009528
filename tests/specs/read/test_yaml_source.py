"""The positioned YAML reader: marks, YAML 1.2 scalar resolution, and the node bound on aliases."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from mlform.specs.errors import SpecError
from mlform.specs.read.source import MAX_NODES, Mark, parse_document, read_document, resolve_plain


def _parse(text: str) -> Any:
    return parse_document(text.encode(), "spec.yaml")


def _errors(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(SpecError) as caught:
        parse_document(raw, "spec.yaml")
    return [str(d) for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("~", None),
        ("null", None),
        ("", None),
        ("NULL", None),
        ("0", 0),
        ("-12", -12),
        ("+7", 7),
        ("0777", "0777"),
        ("-012", "-012"),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        (".5", 0.5),
        ("1.", 1.0),
        ("3.10", 3.1),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1_000", "1_000"),
        ("12:30", "12:30"),
        ("2024-01-01", "2024-01-01"),
        ("0b101", "0b101"),
        ("500m", "500m"),
    ],
)
def test_plain_scalars_resolve_with_the_yaml_1_2_core_schema(text: str, value: Any) -> None:
    resolved = resolve_plain(text)
    assert resolved == value
    assert type(resolved) is type(value)


def test_nan_resolves_to_a_float_nan() -> None:
    assert math.isnan(resolve_plain(".nan"))


def test_quoted_and_explicitly_tagged_scalars_keep_their_text() -> None:
    doc = _parse("a: '0777'\nb: \"true\"\nc: !!str 12\nd: !!int 12\ne: !!float 1\nf: !!bool true\ng: !!null ''\n")
    assert doc.data == {"a": "0777", "b": "true", "c": "12", "d": 12, "e": 1, "f": True, "g": None}
    assert doc.plain == {}


def test_plain_text_is_remembered_as_written() -> None:
    doc = _parse("version: 1.10\nname: demo\nquoted: 'x'\n")
    assert doc.plain == {("version",): "1.10", ("name",): "demo"}


def test_marks_of_keys_and_values_in_block_and_flow_style() -> None:
    doc = _parse("top:\n  inner: {a: 1, b: [x, y]}\n  list:\n    - first\n    - k: v\n")

    assert doc.keys[("top",)] == Mark(1, 1, ("top",))
    assert doc.keys[("top", "inner")] == Mark(2, 3, ("top", "inner"))
    assert doc.values[("top", "inner")] == Mark(2, 10, ("top", "inner"))
    assert doc.keys[("top", "inner", "b")] == Mark(2, 17, ("top", "inner", "b"))
    assert doc.values[("top", "inner", "b", 1)] == Mark(2, 24, ("top", "inner", "b", 1))
    assert doc.values[("top", "list", 0)] == Mark(4, 7, ("top", "list", 0))
    assert doc.keys[("top", "list", 1, "k")] == Mark(5, 7, ("top", "list", 1, "k"))
    assert doc.values[("top", "list", 1, "k")] == Mark(5, 10, ("top", "list", 1, "k"))


def test_mark_falls_back_to_the_nearest_ancestor() -> None:
    doc = _parse("a:\n  b: 1\n")
    assert doc.mark(("a", "b", "c", 0)) == doc.values[("a", "b")]
    assert doc.mark(("zzz",)) == doc.values[()]


def test_crlf_line_endings_and_a_byte_order_mark_keep_positions() -> None:
    doc = parse_document(b"\xef\xbb\xbfa: 1\r\nb:\r\n  c: 2\r\n", "spec.yaml")
    assert doc.data == {"a": 1, "b": {"c": 2}}
    assert doc.keys[("b", "c")] == Mark(3, 3, ("b", "c"))


def test_tabs_inside_values_are_not_indentation() -> None:
    doc = _parse('a: "x\\ty"\nb: x\ty\n')
    assert doc.data == {"a": "x\ty", "b": "x\ty"}


def test_all_duplicate_keys_are_reported_together() -> None:
    assert _errors("a: 1\nb: {x: 1, x: 2}\na: 3\n") == [
        "spec.yaml:2:11: error: b.x: duplicate key `x` (first defined at line 2)",
        "spec.yaml:3:1: error: a: duplicate key `a` (first defined at line 1)",
    ]


def test_invalid_utf8_is_located_on_its_line_and_column() -> None:
    assert _errors(b"a: 1\nbb: \xff\xfe\n") == ["spec.yaml:2:5: error: invalid UTF-8 byte 0xff; save the file as UTF-8"]


def test_unsupported_tags_on_scalars_sequences_and_mappings() -> None:
    assert _errors("a: !!binary aGk=\nb: !!set {x}\nc: !custom [1]\n") == [
        "spec.yaml:1:4: error: a: unsupported YAML tag `!!binary`",
        "spec.yaml:2:4: error: b: unsupported YAML tag `!!set`",
        "spec.yaml:3:4: error: c: unsupported YAML tag `!custom`",
    ]


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert _parse('"<<": 1\n').data == {"<<": 1}


def _laughs(top: int) -> str:
    """Anchors that expand to 1 + 11 + 111 + 1111 + 11111 nodes, then `x`: `top` copies of the largest."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, inner in zip("bcd", "abc", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{inner}'] * 10)}]")
    lines.append(f"x: [{', '.join(['*d'] * top)}]")
    return "\n".join(lines) + "\n"


def test_anchors_that_stay_within_the_node_bound_expand_fully() -> None:
    nodes = 1 + 11 + 111 + 1111 + 11111 + (1 + 7 * 11111)
    assert nodes <= MAX_NODES

    doc = _parse(_laughs(7))

    assert len(doc.data["x"]) == 7
    assert doc.data["x"][6][9][9][9] == ["x"] * 10
    assert doc.values[("x", 6, 9, 9, 9, 0)] == Mark(1, 8, ("x", 6, 9, 9, 9, 0))


def test_anchors_past_the_node_bound_are_an_alias_bomb() -> None:
    assert MAX_NODES < 1 + 11 + 111 + 1111 + 11111 + (1 + 8 * 11111)
    assert _errors(_laughs(8)) == [
        f"spec.yaml:5:1: error: x: document expands to more than {MAX_NODES} nodes (YAML alias bomb?)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1: error: the file is empty; a spec is a mapping that starts with `apiVersion: mlform/v1`"),
        ("# only a comment\n",
         "1:1: error: the file is empty; a spec is a mapping that starts with `apiVersion: mlform/v1`"),
        ("a: 1\n---\nb: 2\n", "3:1: error: a spec file holds one YAML document, found 2"),
        ("[1, 2]\n", "1:1: error: the top level of a spec must be a mapping"),
        ("a: *missing\n", "1:4: error: alias `*missing` refers to no anchor defined above it; define `&missing` "
                          "before using it, or quote a value that starts with `*`"),
        ("a: [1, 2\n", "1:4: error: unclosed `[`: no matching `]` before line 2, column 1 "
                       "(or a `,` is missing between two items)"),
        ("a: b: c\n", "1:5: error: a value cannot contain `: ` (`key: value: value`); quote the value "
                      '(`key: "value: value"`), or put the inner mapping on its own indented line'),
        ("%FOO x\na: 1\n", "1:5: error: invalid YAML: found unknown directive name "
                           "(while scanning a directive at line 1, column 1)"),  # no rule: PyYAML's words, located
        ("a: x\nb: @home\n", "2:4: error: `@` cannot start a value; put the value in double quotes"),
    ],
)
def test_documents_that_are_not_one_mapping(text: str, message: str) -> None:
    assert _errors(text) == [f"spec.yaml:{message}"]


def test_read_document_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        read_document(tmp_path / "absent.yaml", "absent.yaml")
    assert [str(d) for d in caught.value.diagnostics] == [
        "absent.yaml:1:1: error: cannot read file: No such file or directory"
    ]
