"""Load a DAG folder with Airflow's DagBag; write to OUT_DIR/report.json the import errors
and each DAG's tasks and edges (templated fields also as Airflow renders them), and, as YAML files beside
it, the pods KubernetesPodOperator tasks would create.

Run with the Airflow virtualenv's Python: `python airflow_check.py DAG_FOLDER OUT_DIR`. The caller sets
AIRFLOW_HOME to a scratch folder and KUBECONFIG to a dummy kubeconfig (no cluster is contacted).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import ApiClient


def main(folder: str, out: str) -> None:
    bag = DagBag(dag_folder=folder)
    client = ApiClient()
    report: dict[str, object] = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in sorted(bag.dags.items()):
        tasks = {}
        for task in dag.tasks:
            info: dict[str, object] = {"type": type(task).__name__, "downstream": sorted(task.downstream_task_ids)}
            if isinstance(task, KubernetesPodOperator):
                pod = client.sanitize_for_serialization(task.build_pod_request_obj())
                path = Path(out) / f"{dag_id}.{task.task_id}.yaml"
                path.write_text(yaml.safe_dump(pod, sort_keys=True))
                info["pod"] = str(path)
            jinja = dag.get_template_env()
            for field in ("bash_command", "env", "cwd", "arguments", "cmds", "env_vars", "trigger_dag_id"):
                if hasattr(task, field):
                    value = getattr(task, field)
                    info[field] = value if isinstance(value, (str, list, dict, type(None))) else str(value)
                    if field in task.template_fields and isinstance(value, (str, list, dict)):
                        info[f"rendered_{field}"] = task.render_template(value, {}, jinja)  # as a run would
            tasks[task.task_id] = info
        report["dags"][dag_id] = {"schedule": str(dag.schedule), "description": dag.description,
                                  "doc_md": dag.doc_md, "owner": dag.owner, "tasks": tasks}
    (Path(out) / "report.json").write_text(json.dumps(report, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
