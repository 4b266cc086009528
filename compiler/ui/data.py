"""The JSON data of the Pipelines, Models, Plans and Audit pages: what `/api/...` returns and the pages render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .sources import Entry, Sources, hide_secret

__all__ = ["audit_data", "models_data", "pipelines_data", "plans_data", "saved_plan_files"]

_PLAN_SUFFIXES = (".plan", ".plan.json", ".tfplan")


def _last_apply(entries: list[dict[str, Any]], spec: str, env: str) -> dict[str, Any] | None:
    """The newest audit entry of an apply of `spec` in `env`: who, when, which commit."""
    for entry in reversed(entries):
        if entry.get("command") == "apply" and entry.get("env") == env and Path(str(entry.get("spec"))).parent.name \
                == Path(spec).parent.name:
            return {k: entry.get(k) for k in ("actor", "host", "time", "git_commit", "result", "serial", "seq")}
    return None


def _audit_entries(sources: Sources, entry: Entry, env: str) -> list[dict[str, Any]]:
    from mlform.runtime.storage.auditlog import read_log
    from mlform.runtime.storage.backends.url import backend_for
    from mlform.specs.errors import StateError

    try:
        return read_log(backend_for(entry.specs[env]))
    except StateError:
        return []  # a broken chain shows on the Audit page


def _last_run_steps(sources: Sources, name: str, env: str) -> dict[str, dict[str, Any]]:
    """Each step's result in the newest run of `name` in `env` that has the step (of the newest 20 runs)."""
    results: dict[str, dict[str, Any]] = {}
    with sources.trackers() as trackers:
        for tracker, entries in trackers:
            if not any(e.name == name for e in entries):
                continue
            for run in [r for r in tracker.runs(200, spec_name=name) if r["env"] == env][:20]:
                for step in tracker.run(run["id"])["steps"]:
                    results.setdefault(step["step"], {"status": step["status"], "seconds": step["seconds"],
                                                      "reasons": step["reasons"], "run": run["id"]})
    return results


def _environment(sources: Sources, entry: Entry, env: str) -> dict[str, Any]:
    from mlform.compiler.plan.state import StateStore
    from mlform.runtime.storage.backends.url import backend_for, redact
    from mlform.specs.errors import MlformError, StateError

    spec = entry.specs[env]
    backend = backend_for(spec)
    problem: str | None = None
    try:
        state = StateStore(backend, spec.name, env).read()
    except StateError as exc:
        state, problem = None, str(exc)
    try:
        graph = sources.graph(entry, env)
    except MlformError as exc:  # e.g. a data file missing: the rest of the page still shows
        graph, problem = {"steps": [], "edges": []}, problem or str(exc)
    results = _last_run_steps(sources, spec.name, env)
    return {"env": env, "backend": redact(backend.describe()), "spec_digest": spec.digest,
            "state": None if state is None else {"serial": state.serial, "lineage": state.lineage,
                                                 "spec_digest": state.spec_digest, "aliases": state.aliases,
                                                 "artifacts": len(state.artifacts)},
            "state_problem": problem,
            "last_apply": _last_apply(_audit_entries(sources, entry, env), str(entry.file), env),
            "steps": [{**step, "last": results.get(step["id"])} for step in graph["steps"]],
            "edges": graph["edges"]}


def pipelines_data(sources: Sources) -> dict[str, Any]:
    """Each spec with, per environment, its state, last apply, step graph and each step's last result."""
    pipelines = []
    for entry in sources.all():
        pipelines.append({"key": entry.key, "name": entry.name, "description": entry.description,
                          "errors": entry.errors,
                          "environments": [_environment(sources, entry, env) for env in entry.specs]})
    return {"pipelines": pipelines}


def _version(version: Any, table: dict[str, dict[str, int]]) -> dict[str, Any]:
    lineage = version.lineage
    return {"version": version.version, "sha256": version.sha256, "created": version.created,
            "metrics": version.metrics,
            "lineage": {"spec_digest": lineage.get("spec_digest"), "git_commit": lineage.get("git_commit"),
                        "git_dirty": lineage.get("git_dirty"), "data": lineage.get("data") or {},
                        "env": lineage.get("env"), "run_id": lineage.get("run_id")},
            "aliases": {env: sorted(a for a, n in aliases.items() if n == version.version)
                        for env, aliases in sorted(table.items()) if version.version in aliases.values()},
            "gates": version.evaluation.get("gates") or [],
            "gates_passed": version.evaluation.get("passed"),
            "champion": version.evaluation.get("champion")}


def models_data(sources: Sources) -> dict[str, Any]:
    """Every registered model of every spec: versions with sha256, lineage, aliases per environment, gates."""
    models, seen = [], set()
    for entry in sources.all():
        registry = sources.registry(entry)
        if registry is None or registry.describe() in seen:
            continue
        seen.add(registry.describe())
        for name in registry.models():
            table = registry.environment_aliases(name)
            models.append({"spec": entry.key, "name": name, "aliases": table,
                           "versions": [_version(v, table) for v in reversed(registry.versions(name))]})
    return {"models": models}


def saved_plan_files(root: Path) -> list[Path]:
    """Saved plans (`mlform plan --out FILE`) under `root`, never inside hidden or build folders."""
    import os

    found = []
    for parent, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__", "venv")]
        found += [Path(parent, f) for f in files if f.endswith(_PLAN_SUFFIXES)]
    return sorted(found)


def _plan_file(path: Path, root: Path) -> dict[str, Any]:
    from mlform.compiler.plan.plans import Plan
    from mlform.specs.errors import PlanError

    where = path.relative_to(root).as_posix()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        plans = [Plan.from_dict(p).to_dict() for p in raw["plans"]]
    except (OSError, ValueError, KeyError, TypeError, PlanError) as exc:
        return {"file": where, "problem": f"not a saved plan: {exc}", "plans": []}
    return {"file": where, "problem": None, "plans": plans}


def _receipt_plans(entry: Entry) -> list[dict[str, Any]]:
    from mlform.compiler.plan.receipts import receipt_folder

    plans = []
    for path in sorted(receipt_folder(entry.file).glob("*.json")):
        try:
            plan = json.loads(path.read_text(encoding="utf-8")).get("plan")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(plan, dict) and plan.get("env") in entry.specs:
            plans.append({**plan, "spec": entry.key})
    return plans


def plans_data(sources: Sources) -> dict[str, Any]:
    """Saved plan files under the root, and the last plan per environment (the one recorded after apply)."""
    return {"saved": [_plan_file(p, sources.root) for p in saved_plan_files(sources.root)],
            "last": [plan for entry in sources.all() for plan in _receipt_plans(entry)]}


def _checked(raw: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Each line of a log with whether it chains to the one before; whether any link is broken."""
    from mlform.runtime.storage.auditlog import GENESIS, entry_hash

    rows, last_hash, broken = [], GENESIS, False
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            rows.append({"line": number, "ok": False, "problem": "not a JSON object", "entry": {}})
            broken = True
            continue
        problems = []
        if entry.get("hash") != entry_hash(entry):
            problems.append("hash mismatch: the entry was edited after it was written")
        if entry.get("prev") != last_hash:
            problems.append("prev mismatch: an entry was removed, reordered or inserted before it")
        broken = broken or bool(problems)
        rows.append({"line": number, "ok": not problems, "problem": "; ".join(problems) or None,
                     "entry": {k: hide_secret(k, v) for k, v in entry.items()}})
        last_hash = str(entry.get("hash"))
    return rows, broken


def _raw_log(backend: Any) -> bytes:
    from mlform.runtime.storage.auditlog import LOG_KEY, log_path
    from mlform.runtime.storage.backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        try:
            return log_path(backend.root).read_bytes()
        except FileNotFoundError:
            return b""
    doc = backend.read(LOG_KEY)
    return doc.data if doc is not None else b""


def audit_data(sources: Sources) -> dict[str, Any]:
    """Each backend's audit log, every entry checked against the one before it."""
    from mlform.runtime.storage.auditlog import log_where
    from mlform.runtime.storage.backends.url import redact

    logs = []
    for backend, entries in sources.backends():
        rows, broken = _checked(_raw_log(backend))
        logs.append({"where": redact(log_where(backend)), "specs": [e.key for e in entries], "verified": not broken,
                     "entries": rows})
    return {"logs": logs}
