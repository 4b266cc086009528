"""The semantic comparison under `mlform diff`: values, DAG files, Dockerfiles, headers and rendering."""

from __future__ import annotations

import json
from textwrap import dedent
from typing import Any

from mlform.compiler.artifacts.output import HEADER_MARK
from mlform.compiler.diff.artifactdiff import DIGEST, compare_artifact, kind_of
from mlform.compiler.diff.compare import Diff, PipelineDiff
from mlform.compiler.diff.dagmodel import dag_objects
from mlform.compiler.diff.diffviews import render_diff
from mlform.compiler.diff.gitrefs import Side
from mlform.compiler.diff.structdiff import compare, compare_objects

DIGEST_A = "a" * 8 + "1" * 56
DIGEST_B = "b" * 8 + "2" * 56


def _tuples(changes: Any) -> list[tuple[Any, ...]]:
    return [(c.action, c.object, c.path, c.before, c.after) for c in changes]


def _generated(body: str, digest: str = DIGEST_A) -> str:
    header = [f"# {HEADER_MARK}", "# mlform 0.1.0", '# spec: "models/iris/mlform.yaml"', "# env: prod",
              f"# spec digest: sha256:{digest}"]
    return "\n".join(header) + "\n" + dedent(body)


def test_named_items_match_by_name_and_order_changes_are_reported() -> None:
    before = {"containers": [{"name": "server", "image": "x:1", "env": [{"name": "A", "value": "1"},
                                                                      {"name": "B", "value": "2"}]},
                             {"name": "sidecar", "image": "y:1"}]}
    after = {"containers": [{"name": "sidecar", "image": "y:1"},
                            {"name": "server", "image": "x:2", "env": [{"name": "B", "value": "3"},
                                                                     {"name": "C", "value": "4"}]}]}
    assert _tuples(compare("Deployment/ns/app", before, after)) == [
        ("changed", "Deployment/ns/app", "containers[server].image", "x:1", "x:2"),
        ("removed", "Deployment/ns/app", "containers[server].env[A]", {"name": "A", "value": "1"}, None),
        ("changed", "Deployment/ns/app", "containers[server].env[B].value", "2", "3"),
        ("added", "Deployment/ns/app", "containers[server].env[C]", None, {"name": "C", "value": "4"}),
        ("reordered", "Deployment/ns/app", "containers", ["server", "sidecar"], ["sidecar", "server"]),
    ]


def test_steps_match_by_id_before_name_and_unnamed_items_by_position() -> None:
    before = {"steps": [{"id": "a", "name": "Build", "run": "make"}], "rules": [{"port": 80}, {"port": 443}]}
    after = {"steps": [{"id": "a", "name": "Build it", "run": "make"}], "rules": [{"port": 8080}, {"port": 443}]}
    assert _tuples(compare("", before, after)) == [
        ("changed", "", "steps[a].name", "Build", "Build it"),
        ("changed", "", "rules[0].port", 80, 8080),
    ]


def test_scalar_lists_compare_as_sequences_and_odd_keys_are_quoted() -> None:
    before = {"args": ["serve", "--env", "dev"], "annotations": {"mlform.dev/owner": "a"}}
    after = {"args": ["serve", "--env", "prod", "--verbose"], "annotations": {"mlform.dev/owner": "b"}}
    assert _tuples(compare("", before, after)) == [
        ("changed", "", "args", "dev", "prod"),
        ("added", "", "args", None, "--verbose"),
        ("changed", "", 'annotations["mlform.dev/owner"]', "a", "b"),
    ]


def test_yaml_documents_stored_under_a_yaml_key_compare_by_field() -> None:
    before = {"data": {"spec.yaml": "model:\n  params:\n    depth: 5\n", "notes.txt": "one\ntwo\n"}}
    after = {"data": {"spec.yaml": "model:\n  params:\n    depth: 6\n", "notes.txt": "one\nthree\n"}}
    assert _tuples(compare("ConfigMap/ns/c", before, after)) == [
        ("changed", "ConfigMap/ns/c", 'data["spec.yaml"].model.params.depth', 5, 6),
        ("changed", "ConfigMap/ns/c", 'data["notes.txt"]', "one\ntwo\n", "one\nthree\n"),
    ]


def test_objects_added_and_removed_as_wholes() -> None:
    assert _tuples(compare_objects({"a": 1, "b": 2}, {"b": 3, "c": 4})) == [
        ("removed", "a", "", None, None), ("added", "c", "", None, None), ("changed", "b", "", 2, 3)]


DAG = '''\
import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

RETRIES = 2
ARGS = {"retries": RETRIES, "retry_delay": datetime.timedelta(minutes=5)}
IMAGE = "registry/app:1"


def _task(task_id, command, **kwargs):
    return BashOperator(task_id=task_id, bash_command=command, **kwargs)


with DAG("nightly", schedule=SCHEDULE, default_args=ARGS):
    first = _task("extract", "run extract")
    rest = {"load": _task("load", "run load", retries=5), "check": BashOperator(task_id="check", bash_command="x")}
    first >> rest["load"] >> [rest["check"], _task("notify", "say done")]
    rest["check"] << first
'''


def test_dag_files_read_with_ast_into_tasks_edges_and_settings() -> None:
    objects = dag_objects(DAG.replace("SCHEDULE", '"@daily"'))
    assert list(objects) == ["module", "dag nightly"]
    dag = objects["dag nightly"]
    assert dag["schedule"] == "@daily"
    assert dag["default_args"] == {"retries": 2, "retry_delay": "datetime.timedelta(minutes=5)"}
    assert dag["tasks"] == {
        "extract": {"operator": "_task", "command": "run extract"},
        "load": {"operator": "_task", "retries": 5, "command": "run load"},
        "check": {"operator": "BashOperator", "bash_command": "x"},
        "notify": {"operator": "_task", "command": "say done"},
    }
    assert dag["edges"] == frozenset({"extract >> load", "load >> check", "load >> notify", "extract >> check"})
    module = objects["module"]
    assert module["constants"] == {"IMAGE": "registry/app:1"}  # the others are inlined where they are used
    assert list(module["functions"]) == ["_task"]
    assert module["imports"][0] == "import datetime"


def test_dag_changes_name_the_dag() -> None:
    before = _generated(DAG.replace("SCHEDULE", '"@daily"'))
    after = _generated(DAG.replace("SCHEDULE", '"@hourly"').replace('"say done"', '"say finished"'))
    found = compare_artifact("deploy/app/prod/airflow/dag.py", before, after)
    assert found is not None and found.kind == "airflow"
    assert _tuples(found.changes) == [
        ("changed", "dag nightly", "schedule", "@daily", "@hourly"),
        ("changed", "dag nightly", "tasks.notify.command", "say done", "say finished"),
    ]


DOCKERFILE = """\
ARG PY=3.11
FROM python:${PY}-slim AS build
RUN python3 -m venv /opt/app \\
 && /opt/app/bin/pip install app==1.0

FROM python:${PY}-slim
# the runtime image
COPY --from=build /opt/app /opt/app
LABEL digest="{digest}"
CMD ["run"]
"""


def test_dockerfiles_compare_by_stage_and_instruction() -> None:
    before = _generated(DOCKERFILE.replace("{digest}", DIGEST_A))
    after = _generated(DOCKERFILE.replace("{digest}", DIGEST_B).replace("app==1.0", "app==1.1")
                       .replace('CMD ["run"]', 'USER 10001\nCMD ["run"]'), DIGEST_B)
    found = compare_artifact("deploy/app/prod/docker/Dockerfile.train", before, after)
    assert found is not None and found.kind == "dockerfile"
    assert _tuples(found.changes) == [
        ("changed", "stage build", "RUN", "python3 -m venv /opt/app && /opt/app/bin/pip install app==1.0",
         "python3 -m venv /opt/app && /opt/app/bin/pip install app==1.1"),
        ("added", "stage 2", "USER", None, ["10001"]),
    ]


def test_a_file_that_differs_only_by_its_spec_digest_is_header_only() -> None:
    body = "kind: Job\nmetadata: {name: app-train-{short8}, namespace: ns}\nspec: {image: 'app:train-{short12}'}\n"

    def text(digest: str) -> str:
        return _generated(body.replace("{short8}", digest[:8]).replace("{short12}", digest[:12]), digest)

    found = compare_artifact("deploy/app/prod/kubernetes/job.yaml", text(DIGEST_A), text(DIGEST_B))
    assert found is not None
    assert (found.kind, found.status) == ("kubernetes", "header-only")
    assert _tuples(found.changes) == [("changed", "header", "spec-digest", f"sha256:{DIGEST_A}",
                                       f"sha256:{DIGEST_B}")]
    added = compare_artifact("deploy/app/prod/kubernetes/job.yaml", None, text(DIGEST_A))
    assert added is not None and _tuples(added.changes) == [("added", f"Job/ns/app-train-{DIGEST}", "", None, None)]
    assert compare_artifact("deploy/app/prod/kubernetes/job.yaml", text(DIGEST_A), text(DIGEST_A)) is None


def test_same_objects_in_other_text_and_unparsable_files_fall_back_to_text() -> None:
    path = "deploy/app/prod/kubernetes/service.yaml"
    found = compare_artifact(path, _generated("kind: Service\nspec: {port: 80}\n"),
                             _generated("kind: Service\nspec:\n  port: 80\n"))
    assert found is not None
    assert _tuples(found.changes) == [("changed", "", "text", "kind: Service\nspec: {port: 80}\n",
                                       "kind: Service\nspec:\n  port: 80\n")]
    broken = compare_artifact(path, _generated("kind: Service\nspec: {port: 80}\n"), _generated("kind: [Service\n"))
    assert broken is not None and broken.kind == "file"
    assert _tuples(broken.changes) == [("changed", "", "", "kind: Service", "kind: [Service"),
                                       ("removed", "", "", "spec: {port: 80}", None)]


def test_kinds_follow_the_output_layout() -> None:
    paths = (".github/workflows/mlform-a-prod-pr.yml", "deploy/a/prod/airflow/mlform_a_prod.py",
             "deploy/a/prod/docker/Dockerfile.serve", "deploy/a/prod/docker/Dockerfile.serve.dockerignore",
             "deploy/a/prod/kubernetes/job.yaml")
    assert [kind_of(p) for p in paths] == ["workflow", "airflow", "dockerfile", "file", "kubernetes"]


def test_multi_line_values_render_as_line_diffs() -> None:
    workflow = "name: w\non: {push: {}}\njobs:\n  check:\n    steps:\n    - name: Plan\n      run: |\n{run}"
    before = _generated(workflow.replace("{run}", "        mlform plan a\n        echo done\n"))
    after = _generated(workflow.replace("{run}", "        mlform plan b\n        echo done\n"))
    artifact = compare_artifact(".github/workflows/mlform-app-prod-pr.yml", before, after)
    assert artifact is not None
    diff = Diff(Side("main", "c" * 40), Side(), (PipelineDiff("app", "prod", "changed", "app.yaml", "app.yaml",
                                                               (artifact,)),))
    assert render_diff(diff, "text").splitlines()[3:] == [
        "~ app (prod)  app.yaml",
        "  ~ .github/workflows/mlform-app-prod-pr.yml",
        "      job check:",
        "        ~ steps[Plan].run:",
        "            - mlform plan a",
        "            + mlform plan b",
    ]
    assert "```diff\n  job check:\n~   steps[Plan].run:\n-       mlform plan a\n+       mlform plan b\n```" in \
        render_diff(diff, "markdown")
    data = json.loads(render_diff(diff, "json"))
    assert data["pipelines"][0]["artifacts"][0]["changes"] == [
        {"action": "changed", "object": "job check", "path": "steps[Plan].run", "before": "mlform plan a\necho done\n",
         "after": "mlform plan b\necho done\n"}]


def test_workflows_compare_by_trigger_permission_job_and_step() -> None:
    before = _generated("""\
        name: w
        on:
          push: {branches: [main]}
        permissions: {}
        jobs:
          apply:
            permissions: {contents: read}
            steps:
            - name: Check out
              uses: actions/checkout@v4
            - name: Apply
              run: mlform apply
        """)
    after = _generated("""\
        name: w
        on:
          push: {branches: [main]}
          workflow_dispatch: {}
        permissions: {}
        jobs:
          apply:
            permissions: {contents: read, packages: write}
            steps:
            - name: Check out
              uses: actions/checkout@v5
            - id: plan
              name: Plan
              run: mlform plan
            - name: Apply
              run: mlform apply
          notify:
            steps: []
        """)
    found = compare_artifact(".github/workflows/mlform-app-prod-apply.yml", before, after)
    assert found is not None and found.kind == "workflow"
    assert _tuples(found.changes) == [
        ("added", "job notify", "", None, None),
        ("added", "workflow", "on.workflow_dispatch", None, {}),
        ("added", "job apply", "permissions.packages", None, "write"),
        ("changed", "job apply", "steps[Check out].uses", "actions/checkout@v4", "actions/checkout@v5"),
        ("added", "job apply", "steps[plan]", None, {"id": "plan", "name": "Plan", "run": "mlform plan"}),
    ]
