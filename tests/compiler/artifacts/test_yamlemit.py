"""The narrow YAML emitter writes byte for byte what PyYAML's pure-Python emitter writes, or declines."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlform.compiler.artifacts.render import dump_yaml, pyyaml_dump
from mlform.compiler.artifacts.yamlemit import emit

# strings YAML readers take for something else, or that need quoting, escaping or a block
HOSTILE = ["", " ", "yes", "no", "on", "off", "Yes", "NO", "y", "n", "true", "False", "null", "Null", "~", "0", "-1",
           "1e3", "1.0", ".5", "0x1f", "0o17", "1_000", "1:20", "2001-12-14", ".inf", "-.inf", ".nan", "<<", "=",
           "a: b", "a:b", "a #b", "a#b", "#a", "- a", "-a", "-", "? a", "?a", ":a", "a:", "[a]", "{a}", "a, b", "*a",
           "&a", "!a", "|a", ">a", "%a", "@a", "`a", "'a'", '"a"', "it's", "---", "...", "a\nb", "a\nb\n", "a\n\nb\n",
           "\na\n", "a\n\n", "\n", "a \nb", "a\n b", "a\tb", "a\rb", "line\u2028sep", "é", "日本語", "\u00a0", "\ufeff",
           "emoji 🎉", "x" * 130, "a  b", " a", "a ", "${{ secrets.TOKEN }}", "python:3.11-slim", "0 3 * * *",
           "--flag=1", "a\x00b", "\x7f", "set -e\necho 'hi'\n"]

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(HOSTILE), st.text(max_size=12),
                    st.text(alphabet=st.sampled_from(list("ab :#-'\"\n\t{}[],&*!|>%@`é")), max_size=12))
KEYS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=10), st.integers(), st.booleans(), st.none())
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                    max_leaves=25)


@settings(max_examples=600, deadline=None)
@given(DOCS)
def test_same_bytes_as_pyyaml_or_declines(data: Any) -> None:
    fast = emit(data)
    assert fast is None or fast == pyyaml_dump(data)
    assert dump_yaml(data) == pyyaml_dump(data)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(HOSTILE), st.sampled_from(HOSTILE) | st.lists(st.sampled_from(HOSTILE)),
                       min_size=1, max_size=6))
def test_hostile_strings_as_keys_and_values(data: dict[str, Any]) -> None:
    fast = emit(data)
    assert fast is None or fast == pyyaml_dump(data)
    assert dump_yaml(data) == pyyaml_dump(data)


def test_the_shapes_targets_emit_stay_in_the_subset() -> None:
    """A workflow-like and a manifest-like document: the narrow emitter writes them (else it saves nothing)."""
    shared = {"name": "x"}
    workflow = {"name": "train", "on": {"push": {"branches": ["main"]}, "schedule": [{"cron": "0 3 * * *"}]},
                "jobs": {"run": {"runs-on": "ubuntu-latest", "steps": [
                    {"uses": "actions/checkout@v4"}, {"run": "set -e\nmlform apply plan\n", "env": {"A": "${{ x }}"}},
                    {"with": {"python-version": "3.11", "cache": "", "n": 3, "f": 0.5, "t": True, "z": None}}]}}}
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {}, "name": "a-b"},
                "data": {"mlform.yaml": "apiVersion: mlform/v1\nkind: Pipeline\n\nmetadata:\n  name: iris\n"},
                "list": [[1, 2], [], [{"a": shared}]]}
    for doc in (workflow, manifest):
        assert emit(doc) is not None
        assert emit(doc) == pyyaml_dump(doc)


def test_a_shared_sub_structure_is_left_to_pyyaml_which_anchors_it() -> None:
    shared = ["a"]
    doc = {"x": shared, "y": shared}
    assert emit(doc) is None
    assert "&id001" in dump_yaml(doc)


def test_strings_other_yaml_readers_take_for_numbers_are_quoted() -> None:
    # Kubernetes reads manifests with go-yaml (YAML 1.1 floats without a dot, Go integer literals); YAML 1.2 likewise
    for text in ("1e3", "-2E-5", "0o17", "0O17", "1_000", "0x_1F", "0b101", "+7", ".5e1", "1.5e3"):
        written = dump_yaml({"label": text, text: [text]})
        assert written == pyyaml_dump({"label": text, text: [text]})
        assert written == f"label: '{text}'\n'{text}':\n- '{text}'\n", written
    assert dump_yaml({"label": "a1e3"}) == "label: a1e3\n"  # the rest stays plain
