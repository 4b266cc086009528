"""`mlform init`: scaffold a spec and small seeded data that validate and train as they are."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from mlform.specs.model.base import DNS_LABEL

__all__ = ["GITIGNORE", "NAME_MAX", "gitignore_text", "init", "name_problem", "scaffold_files", "spec_text",
           "starter_data"]

NAME_MAX = 53  # `metadata.name` names every artifact; Kubernetes adds suffixes to it
_LABEL = re.compile(DNS_LABEL)
PLANS = ("basic", "standard", "premium")
_COLUMNS = "customer_id,tenure_months,monthly_spend,support_tickets,plan,churned"
# Local state and build output; generated deploy files and .github/workflows are reviewed and committed.
GITIGNORE = (
    "# mlform: local state (runs, step outputs, model registry, tracking, audit log)",
    ".mlform/",
    "# saved plans and local build output",
    "*.plan",
    "build/",
    "__pycache__/",
)

SPEC = """\
# Starter spec made by `mlform init`: a churn classifier on seeded example data in data/.
# Replace the sources, target and features with your own, then run `mlform validate`.
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: {name}
  description: Predicts whether a customer churns (starter example).
  owners: []

data:
  sources:
    train: {{type: csv, path: data/train.csv}}   # labelled rows to train and test on
    live: {{type: csv, path: data/live.csv}}     # recent rows, compared with train for drift
  train_source: train
  target: churned
  features: [tenure_months, monthly_spend, support_tickets, plan]
  id_columns: [customer_id]
  split: {{method: stratified, test_size: 0.2, seed: 0}}

validation:
  table:
    row_count: {{min: 100}}
  columns:
    customer_id: {{nullable: false, unique: true}}
    tenure_months: {{dtype: int, min: 0}}
    plan: {{allowed: [basic, standard, premium]}}
    churned: {{nullable: false, allowed: [0, 1]}}

model:
  estimator: sklearn.ensemble.RandomForestClassifier   # any scikit-learn estimator, by import path
  params: {{n_estimators: 100, max_depth: 5, random_state: 0}}
  preprocessing:
    - transformer: sklearn.preprocessing.OneHotEncoder
      columns: [plan]
      params: {{handle_unknown: ignore}}

evaluation:
  metrics: [roc_auc, accuracy]
  gates:                                            # a version below a gate is not promoted
    roc_auc: {{min: 0.75}}
    accuracy: {{min: 0.7}}

registry:
  model_name: {name}

serving:
  port: 8080
  resources:
    requests: {{cpu: 100m, memory: 256Mi}}
    limits: {{cpu: "1", memory: 512Mi}}

monitoring:
  schedule: "0 6 * * *"
  current: live
  drift: {{method: psi, threshold: 0.2}}
  on_breach: alert

targets:
  docker: {{image: registry.example.com/{name}}}
  github_actions: {{}}

environments:                                       # overlays merged onto the spec above
  dev:
    model:
      params: {{n_estimators: 20}}
  prod:
    serving: {{replicas: 2}}
    monitoring: {{on_breach: retrain}}
"""


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a pipeline, or None when it can."""
    if len(name) > NAME_MAX:
        return f"`{name}` is {len(name)} characters long; a pipeline name has at most {NAME_MAX}"
    if not _LABEL.fullmatch(name):
        return (f"`{name}` is not a valid pipeline name: use lowercase letters, digits and `-`, "
                "starting and ending with a letter or digit (a DNS-1123 label)")
    return None


def spec_text(name: str) -> str:
    """The starter spec for pipeline `name`."""
    return SPEC.format(name=name)


def starter_data(rows: int, first_id: int, seed: int, drifted: bool) -> str:
    """Seeded churn rows as CSV; `drifted` doubles the support tickets, as live data that has moved."""
    import numpy as np

    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, size=rows)
    plan = rng.choice(len(PLANS), size=rows, p=[0.5, 0.3, 0.2])
    spend = np.array([20.0, 45.0, 90.0])[plan] * rng.lognormal(0.0, 0.25, size=rows)
    tickets = rng.poisson(2.0 if drifted else 1.0, size=rows)
    log_odds = 0.8 - 0.06 * tenure + 0.7 * tickets - 0.8 * (plan == 2)
    churned = rng.random(rows) < 1 / (1 + np.exp(-log_odds))
    lines = [_COLUMNS]
    for i in range(rows):
        lines.append(f"c-{first_id + i:05d},{tenure[i]},{spend[i]:.2f},{tickets[i]},{PLANS[plan[i]]},{int(churned[i])}")
    return "\n".join(lines) + "\n"


def scaffold_files(name: str) -> dict[str, str]:
    """Relative path -> content of every file `mlform init NAME` writes."""
    return {
        "mlform.yaml": spec_text(name),
        "data/train.csv": starter_data(400, 1, seed=0, drifted=False),
        "data/live.csv": starter_data(200, 401, seed=1, drifted=True),
    }


def gitignore_text(existing: str | None) -> str | None:
    """The `.gitignore` to write: the existing text plus the rules it lacks; None when it has them all."""
    if existing is None:
        return "\n".join(GITIGNORE) + "\n"
    present = {line.strip().strip("/") for line in existing.splitlines()}
    missing = [line for line in GITIGNORE if not line.startswith("#") and line.strip("/") not in present]
    if not missing:
        return None
    separator = "" if existing.endswith("\n") or not existing else "\n"
    return f"{existing}{separator}{GITIGNORE[0]}\n" + "\n".join(missing) + "\n"


def _write(path: Path, text: str) -> None:
    from mlform.specs.fsutil import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise click.ClickException(f"cannot write `{path}`: {exc.strerror or exc}") from None


def _write_gitignore(path: Path) -> str:
    """Write or extend `.gitignore` at `path`, never dropping a line of it; what was done, for the user."""
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        return f"left {path} as it is (cannot read it: {getattr(exc, 'strerror', None) or exc})"
    text = gitignore_text(existing)
    if text is None:
        return f"kept {path} (it already ignores mlform state and build output)"
    _write(path, text)
    if existing is None:
        return f"created {path}"
    added = len(text.splitlines()) - len(existing.splitlines()) - 1
    return f"updated {path} (added {added} line{'s' if added != 1 else ''})"


def _next_steps(project: Path) -> str:
    shown = shlex.quote(str(project))
    rows = [(f"mlform validate {shown}", "check the spec in every environment"),
            (f"mlform graph {shown} --env prod", "see the steps it resolves to"),
            (f"mlform run {shown}", "train, evaluate and register the model locally")]
    width = max(len(command) for command, _ in rows)
    return "Next steps:\n" + "\n".join(f"  {command.ljust(width)}   {why}" for command, why in rows)


@click.command()
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which to create the NAME folder.")
def init(name: str, parent: Path) -> None:
    """Scaffold NAME/mlform.yaml with seeded data that validates and trains as it is.

    Also writes NAME/.gitignore for mlform's state (`.mlform/`) and build output; an existing
    .gitignore keeps every line and gains only the rules it lacks.
    """
    problem = name_problem(name)
    if problem:
        raise click.ClickException(problem)
    project = parent / name
    if project.exists() and not project.is_dir():
        raise click.ClickException(f"`{project}` exists and is not a folder")
    files = {project / relative: text for relative, text in scaffold_files(name).items()}
    existing = [path for path in files if path.exists()]
    if existing:
        shown = ", ".join(f"`{path}`" for path in existing)
        raise click.ClickException(f"refusing to overwrite existing files: {shown}; "
                                   "remove them, or choose another NAME or --dir")
    for path, text in files.items():
        _write(path, text)
        rows = f" ({len(text.splitlines()) - 1} rows)" if path.suffix == ".csv" else ""
        click.echo(f"created {path}{rows}")
    click.echo(_write_gitignore(project / ".gitignore"))
    click.echo("\n" + _next_steps(project))
