"""ARCHITECTURE.md's target recipe, followed by a plugin: one module, registered through entry points.

The toy target lives outside mlform in a distribution of its own (a module and a dist-info on
PYTHONPATH): its settings model and artifact kind come from its declaration, `mlform validate`,
`mlform schema` and `mlform compile` pick it up, and without it its key is an unknown one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY_MODULE = '''
"""A toy target: one YAML file holding a greeting, under deploy/<name>/<env>/toy/."""

import json

from pydantic import Field

from mlform.specs.model.base import NonEmptyStr, SpecModel
from mlform.specs.model.target_settings import TargetSettings


class ToySettings(SpecModel):
    """The toy target's settings."""

    greeting: NonEmptyStr = Field("hello", description="What the toy file says.")


SETTINGS = TargetSettings(key="toy", model=ToySettings, description="Emit a greeting.",
                          artifacts=(("deploy/*/*/toy/*.yaml", "kubernetes"),))


def directory(ctx):
    return ctx.layout.deploy_dir(ctx.spec.name, ctx.spec.env, "toy")


def render(ctx):
    toy = ctx.spec.pipeline.targets.toy
    if toy is None:
        return {}
    data = {"greeting": toy.greeting, "model": ctx.spec.pipeline.registry.model_name}
    return {"greeting.yaml": "kind: ConfigMap\\ndata: " + json.dumps(data, sort_keys=True) + "\\n"}
'''

ENTRY_POINTS = """\
[mlform.targets]
toy = toy_target

[mlform.target_settings]
toy = toy_target:SETTINGS
"""

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: wines}
data:
  sources: {train: {type: csv, path: wine.csv}}
  target: cultivar
  features: [alcohol, hue]
model: {estimator: sklearn.linear_model.LogisticRegression}
evaluation: {metrics: [accuracy]}
registry: {model_name: wine-cultivar}
targets:
  toy: {greeting: %s}
environments:
  dev: {}
  prod: {targets: {toy: {greeting: good day}}}
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A folder holding the toy target's module and its distribution's metadata, as pip would install it."""
    site = tmp_path / "site"
    dist = site / "toy_target-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "toy_target.py").write_text(TOY_MODULE)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-target\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def _project(root: Path, greeting: str) -> Path:
    folder = root / "project"
    (folder / ".git").mkdir(parents=True)
    (folder / "wine.csv").write_text("alcohol,hue,cultivar\n13.2,1.05,a\n12.4,0.9,b\n")
    spec = folder / "mlform.yaml"
    spec.write_text(SPEC % greeting)
    return spec


def _mlform(*args: object, site: Path | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    command = [str(Path(sys.executable).with_name("mlform")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)


def test_compile_emits_the_toy_target_with_its_own_settings(plugin: Path, tmp_path: Path) -> None:
    spec = _project(tmp_path, "hi")
    done = _mlform("compile", spec, "--target", "toy", site=plugin, cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    for env, greeting in (("dev", "hi"), ("prod", "good day")):
        text = (spec.parent / "deploy" / "wines" / env / "toy" / "greeting.yaml").read_text()
        body = text.split("kind: ConfigMap\n", 1)[1]
        assert json.loads(body.removeprefix("data: ")) == {"greeting": greeting, "model": "wine-cultivar"}
    assert sorted(p.name for p in (spec.parent / "deploy" / "wines").glob("*/*")) == ["toy", "toy"]


def test_the_toy_settings_are_validated_and_listed_in_the_schema(plugin: Path, tmp_path: Path) -> None:
    spec = _project(tmp_path, "hi")
    spec.write_text(spec.read_text().replace("toy: {greeting: hi}", "toy: {greting: hi}"))
    done = _mlform("validate", spec, site=plugin, cwd=spec.parent)
    assert done.returncode == 1
    assert done.stderr == (f"{spec}:12:9: error: targets.toy.greting: unknown key `greting`; did you mean "
                           "`greeting`?\n1 error found.\n")
    schema = json.loads(_mlform("schema", site=plugin, cwd=tmp_path).stdout)
    assert schema["$defs"]["Targets"]["properties"]["toy"]["description"] == "Emit a greeting."
    assert schema["$defs"]["ToySettings"]["properties"]["greeting"]["default"] == "hello"


def test_the_toy_artifact_kind_comes_from_its_declaration(plugin: Path, tmp_path: Path) -> None:
    code = textwrap.dedent("""
        from mlform.compiler.diff.artifactdiff import compare_artifact
        old, new = "kind: ConfigMap\\ndata: {greeting: hi}\\n", "kind: ConfigMap\\ndata: {greeting: yo}\\n"
        found = compare_artifact("deploy/wines/base/toy/greeting.yaml", old, new)
        print(found.kind, [(c.object, c.path) for c in found.changes])
    """)
    env = {**os.environ, "PYTHONPATH": str(plugin)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout == "kubernetes [('ConfigMap', 'data.greeting')]\n"


def test_without_the_plugin_its_key_is_unknown(tmp_path: Path) -> None:
    spec = _project(tmp_path, "hi")
    done = _mlform("validate", spec, site=None, cwd=spec.parent)
    assert done.returncode == 1
    known = "`airflow`, `docker`, `github_actions`, `kubernetes`"  # the built-in targets, sorted
    expected = f"{spec}:12:3: error: targets.toy: unknown key `toy`; expected one of {known}\n1 error found.\n"
    assert done.stderr == expected


def test_a_declaration_that_is_not_one_names_its_plugin(plugin: Path, tmp_path: Path) -> None:
    (plugin / "toy_target-0.1.dist-info" / "entry_points.txt").write_text(
        ENTRY_POINTS.replace("toy_target:SETTINGS", "toy_target:ToySettings"))
    spec = _project(tmp_path, "hi")
    done = _mlform("validate", spec, site=plugin, cwd=spec.parent)
    assert (done.returncode, done.stderr) == (
        1, "error: target `toy` (toy_target:ToySettings) is not a `TargetSettings` declaration\n")


@pytest.mark.parametrize(("module", "entry_points", "message"), [
    (TOY_MODULE.replace("def directory(ctx):", "def folder(ctx):"), ENTRY_POINTS,
     "error: target `toy` (toy_target) defines no `render(ctx)` and `directory(ctx)`\n"),
    (TOY_MODULE.replace("def render(ctx):", "def draw(ctx):"), ENTRY_POINTS,
     "error: target `toy` (toy_target) defines no `render(ctx)` and `directory(ctx)`\n"),
    (TOY_MODULE, ENTRY_POINTS.replace("toy = toy_target\n", "toy = toy_target\nspare = toy_target\n", 1),
     "error: target `spare` (toy_target) declares no settings in the `mlform.target_settings` entry points\n"),
])
def test_a_target_module_that_is_not_one_names_its_plugin(plugin: Path, tmp_path: Path, module: str,
                                                          entry_points: str, message: str) -> None:
    (plugin / "toy_target.py").write_text(module)
    (plugin / "toy_target-0.1.dist-info" / "entry_points.txt").write_text(entry_points)
    spec = _project(tmp_path, "hi")
    done = _mlform("compile", spec, "--target", "toy", site=plugin, cwd=spec.parent)
    assert (done.returncode, done.stderr) == (1, message)
    assert not (spec.parent / "deploy").exists()
