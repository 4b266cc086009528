"""The target declarations are the one list of targets: the spec model, schema, compiler, diff and docs agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlform.compiler.diff.artifactdiff import READERS, kind_of
from mlform.compiler.targets import load_targets
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.model.target_settings import FILE, Targets, declared_targets

ROOT = Path(__file__).parents[3]


def test_the_targets_section_has_one_field_per_declaration_in_order() -> None:
    declared = declared_targets()
    assert list(Targets.model_fields) == [d.key for d in declared.values()]
    schema = Pipeline.model_json_schema()["$defs"]
    properties = schema["Targets"]["properties"]
    assert list(properties) == [d.key for d in declared.values()]
    for d in declared.values():
        assert properties[d.key]["description"] == d.description
        assert properties[d.key]["anyOf"][0] == {"$ref": f"#/$defs/{d.model.__name__}"}
    assert schema["Targets"]["additionalProperties"] is False


def test_every_compiled_target_has_a_declaration_and_every_kind_a_reader() -> None:
    assert list(load_targets()) == sorted(declared_targets())
    kinds = {kind for d in declared_targets().values() for _, kind in d.artifacts}
    assert kinds <= set(READERS) and FILE in READERS


@pytest.mark.parametrize("name", sorted(declared_targets()))
def test_each_declared_pattern_names_its_kind(name: str) -> None:
    for pattern, kind in declared_targets()[name].artifacts:
        example = pattern.replace("*", "x")
        assert kind_of(example) == kind


def test_the_docs_list_every_target() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\ntargets: +# each key present emits that target\n((?:  \w+:.*\n)+)", readme)
    assert block is not None
    assert re.findall(r"^  (\w+):", block.group(1), re.MULTILINE) == [d.key for d in declared_targets().values()]
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    row = re.search(r"\| `compiler/targets/` \|.*one module per target: (.*)\|", architecture)
    assert row is not None and re.findall(r"`(\w+)`", row.group(1)) == [n.replace("-", "_") for n in load_targets()]


def test_the_declarations_load_no_compiler_and_no_jinja() -> None:
    code = ("import sys, mlform.specs.loader; "
            "print(sorted(m for m in sys.modules if m.startswith(('mlform.compiler', 'jinja2', 'networkx'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded == "[]\n"
