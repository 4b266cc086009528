"""The drift registry is the one list of drift methods: the spec's type, the JSON Schema, the help and README agree."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

from mlform.specs.model.drift_methods import DRIFT_METHODS, DriftMethod
from mlform.specs.model.lifecycle import Drift, FeatureDrift
from mlform.specs.model.pipeline import Pipeline

README = Path(__file__).parents[3] / "README.md"


def test_the_spec_type_and_schema_list_the_registry_in_order() -> None:
    names = list(DRIFT_METHODS)
    assert list(typing.get_args(DriftMethod)) == names
    schema = Pipeline.model_json_schema()["$defs"]
    assert schema["Drift"]["properties"]["method"]["enum"] == names
    assert schema["FeatureDrift"]["properties"]["method"]["anyOf"][0]["enum"] == names
    assert FeatureDrift.model_fields["method"].default is None


def test_the_help_names_every_method_with_its_gloss() -> None:
    description = Drift.model_fields["method"].description or ""
    assert re.findall(r"`([a-z_]+)`", description) == list(DRIFT_METHODS)
    for method in DRIFT_METHODS.values():
        assert not method.gloss or f"`{method.name}` ({method.gloss})" in description


def test_readme_lists_the_registered_methods() -> None:
    listed = re.search(r"method: \w+ +# ([a-z| ]+)\n", README.read_text())
    assert listed is not None and listed.group(1).split(" | ") == list(DRIFT_METHODS)


def test_the_registry_loads_no_numeric_library() -> None:
    code = ("import sys, mlform.specs.model.lifecycle; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded == "[]\n"
