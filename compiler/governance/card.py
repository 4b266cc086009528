"""Model cards: what mlform knows about one registered version, gathered as plain, JSON-ready data.

Each source is optional and the card says what is missing: the registry (metrics, the evaluate step's verdict,
lineage), the spec (owners, intended use, gates, environments), the tracking run that registered the version and
the step outputs it used (data fingerprints, row counts, validation results, training params), the monitor
outputs of the version (drift), each environment's aliases in the registry and the audit log (who applied it or
moved an alias to it, when).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.runtime.registry.models import ModelVersion, Registry, RegistryError, registry_at, registry_for
from mlform.runtime.storage.backends.url import backend_for
from mlform.runtime.storage.statedir import StateDir, load_record, read_json, record_key, state_dir_for
from mlform.runtime.storage.store import Output, Store
from mlform.specs import BASE, ResolvedSpec, load_spec, validate_file
from mlform.specs.errors import SpecError, StateError

__all__ = ["FORMAT_VERSION", "CardError", "Subject", "VersionUnreachableError", "for_model", "for_spec", "gather",
           "promotion"]

FORMAT_VERSION = 1
MONITOR_CHECKS = 10  # the newest monitor results a card lists
_SERVED_BY = ("promote", "register")  # the step whose output names the served version, by preference


class CardError(StateError):
    """A card cannot be made: the target names no spec, model, version or alias."""


class VersionUnreachableError(CardError):
    """The version a spec pins is not in the registry reachable from here."""


@dataclass(frozen=True)
class Subject:
    """The version a card describes, its registry, and the spec that made it (None when it is not found)."""

    version: ModelVersion
    registry: Registry
    spec: ResolvedSpec | None
    notes: tuple[str, ...] = ()


def _registry(spec: ResolvedSpec, registry_dir: Path | None) -> Registry:
    return Registry(registry_dir) if registry_dir is not None else registry_for(spec)


def for_spec(spec: ResolvedSpec, registry_dir: Path | None = None) -> Subject:
    """The version the env pins (`registry.production`), else the one at `registry.promote_to`, else the latest."""
    registry = _registry(spec, registry_dir)
    name, pinned = spec.pipeline.registry.model_name, spec.pipeline.registry.production
    if pinned is not None:
        return Subject(registry.resolve(name, pinned, spec.env), registry, spec)
    versions = registry.versions(name, spec.env)
    chosen = next((v for v in versions if spec.pipeline.registry.promote_to in v.aliases), None)
    if chosen is None and not versions:
        registry.resolve(name, spec.pipeline.registry.promote_to, spec.env)  # raises, naming the models it holds
    if chosen is not None:
        return Subject(chosen, registry, spec)
    latest, alias = versions[-1], spec.pipeline.registry.promote_to
    # say so: the card is titled with this environment, but the version may come from another
    note = (f"environment `{spec.env}` pins no version (`registry.production`) and none is at `{alias}` there: "
            f"this is the latest version, trained in `{latest.lineage.get('env', 'unknown')}`")
    return Subject(latest, registry, spec, (note,))


def for_model(target: str, env: str | None = None, registry_dir: Path | None = None) -> Subject:
    """MODEL@VERSION or MODEL@ALIAS (of environment `env`, default `default`) in `registry_dir` (default: the state
    folder here), with the spec that made it."""
    name, sep, ref = target.partition("@")
    if not sep or not name or not ref:
        raise CardError(f"`{target}` is neither a spec (no such file or folder) nor MODEL@VERSION or MODEL@ALIAS, "
                        "e.g. `iris-classifier@3`")
    registry = Registry(registry_dir) if registry_dir is not None else registry_at(state_dir_for(Path.cwd()))
    version = registry.resolve(name, ref, env or BASE)
    recorded = version.lineage.get("spec")
    if not recorded or not Path(recorded).is_file():
        note = (f"the spec that registered this version ({recorded or 'not recorded'}) is not here: owners, gates, "
                "data, validation, drift, audit entries and environments are unknown")
        return Subject(version, registry, None, (note,))
    try:
        spec = load_spec(recorded, env or version.lineage.get("env"))
    except SpecError as exc:
        first = exc.errors[0] if exc.errors else "invalid"
        return Subject(version, registry, None, (f"the spec that registered this version does not load: {first}",))
    return Subject(version, registry, spec)


def promotion(spec: ResolvedSpec, registry_dir: Path | None = None) -> Subject | None:
    """The version `spec` pins when `production` holds another, else None; VersionUnreachableError if absent."""
    from mlform.runtime.registry.promotion import pin_reason

    registry = _registry(spec, registry_dir)
    name, pinned = spec.pipeline.registry.model_name, spec.pipeline.registry.production
    if pinned is None or pin_reason(spec, registry) is None:  # nothing pinned, or the alias already holds it
        return None
    try:
        return Subject(registry.resolve(name, pinned, spec.env), registry, spec)
    except RegistryError as exc:
        raise VersionUnreachableError(f"`{name}` version {pinned}, pinned by `registry.production` for `{spec.env}`, "
                                      f"is not in the registry reachable here: {exc}") from None


def _number(value: Any) -> float | None:
    """A finite number, else None (JSON has no NaN)."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


@dataclass
class _Recorded:
    """What the spec's state folder recorded: the registering run, the step outputs, the last step snapshots."""

    store: Store | None = None
    run: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def fingerprint(self, step_id: str) -> str | None:
        """The fingerprint of `step_id` in the registering run."""
        steps = self.run["steps"] if self.run else []
        return next((s["fingerprint"] for s in steps if s["step"] == step_id and s["status"] in ("ran", "cached")),
                    None)

    def output(self, step_id: str, fingerprint: str | None = None) -> Output | None:
        """The stored output of `step_id` (of the registering run unless `fingerprint` is given)."""
        fingerprint = fingerprint or self.fingerprint(step_id)
        return self.store.get(step_id, fingerprint) if self.store and fingerprint else None


def _recorded(spec: ResolvedSpec | None, version: ModelVersion, notes: list[str]) -> _Recorded:
    if spec is None:
        return _Recorded()
    from mlform.runtime.storage.backends.url import backend_for
    from mlform.runtime.tracking.tracker import open_tracker

    folder = StateDir(state_dir_for(spec.root))
    backend = backend_for(spec)
    found = _Recorded(Store.of(folder.root, backend))
    run_id = version.lineage.get("run_id")
    tracker = open_tracker(backend, create=False)
    if tracker is not None:
        try:
            found.history = tracker.step_history(spec.name, ("monitor", *_SERVED_BY))
            found.run = tracker.run(run_id) if run_id else None
        except StateError:
            found.run = None
        finally:
            tracker.close()
    if found.run is None:
        notes.append(f"the run that registered this version (`{run_id}`) is not tracked in this state folder: "
                     "data fingerprints, row counts and validation results are unknown")
    env = version.lineage.get("env") or spec.env
    found.snapshots = load_record(backend_for(spec), record_key(spec.name, env, spec.path))
    return found


def _model(version: ModelVersion) -> dict[str, Any]:
    return {"name": version.name, "version": version.version, "sha256": version.sha256, "created": version.created,
            "aliases": version.aliases, "signature": version.signature}


def _spec(spec: ResolvedSpec | None, version: ModelVersion) -> dict[str, Any]:
    trained_in = version.lineage.get("env")
    if spec is None:
        return {"found": False, "name": None, "path": version.lineage.get("spec"), "env": trained_in,
                "digest": None, "changed": None}
    same_env = spec.env == trained_in
    return {"found": True, "name": spec.name, "path": spec.display, "env": spec.env, "digest": spec.digest,
            "changed": spec.digest != version.lineage.get("spec_digest") if same_env else None}


def _metadata(spec: ResolvedSpec | None) -> dict[str, Any]:
    meta = spec.pipeline.metadata if spec else None
    return {"description": meta.description if meta else "", "intended_use": meta.intended_use if meta else "",
            "owners": list(meta.owners) if meta else [], "labels": dict(meta.labels) if meta else {}}


def _location(source: Any) -> str:
    table, query = getattr(source, "table", None), getattr(source, "query", None)
    parts = [getattr(source, "path", None), f"table {table}" if table else None, "query" if query else None]
    return ", ".join(p for p in parts if p)


def _data(spec: ResolvedSpec | None, version: ModelVersion, recorded: _Recorded) -> dict[str, Any]:
    trained_on: dict[str, str] = version.lineage.get("data") or {}
    sources: list[dict[str, Any]]
    if spec is None:
        sources = [{"name": file, "type": None, "location": file, "training": True, "fingerprint": None,
                    "digest": digest, "rows": None, "columns": None} for file, digest in trained_on.items()]
        return {"target": None, "features": [], "sources": sources}
    data = spec.pipeline.data
    sources = []
    for name, source in data.sources.items():
        step_id, training = f"ingest.{name}", name == data.training_source
        fingerprint = recorded.fingerprint(step_id)
        output = recorded.output(step_id)
        snapshot = recorded.snapshots.get(step_id) or {}
        digests = (snapshot.get("data") or {}) if snapshot.get("fingerprint") == fingerprint else {}
        digest = next(iter(digests.values()), None) or (next(iter(trained_on.values()), None) if training else None)
        values = output.values if output else {}
        sources.append({"name": name, "type": source.type, "location": _location(source), "training": training,
                        "fingerprint": fingerprint, "digest": digest, "rows": values.get("rows"),
                        "columns": len(values["columns"]) if "columns" in values else None})
    return {"target": data.target, "features": list(data.features), "sources": sources}


def _validation(recorded: _Recorded) -> dict[str, Any]:
    steps = recorded.run["steps"] if recorded.run else []
    step_id = next((s["step"] for s in steps if s["step"].startswith("validate.")), None)
    output = recorded.output(step_id) if step_id else None
    if output is None:
        return {"available": False, "step": step_id, "ok": None, "rows": None, "rules": None, "failures": []}
    report = read_json(output.dir / "report.json") or {}
    failures = [{k: f.get(k) for k in ("rule", "column", "failed", "message")} for f in report.get("failures", [])]
    return {"available": True, "step": step_id, "ok": output.values.get("ok"), "rows": output.values.get("rows"),
            "rules": output.values.get("rules"), "failures": failures}


def _training(spec: ResolvedSpec | None, version: ModelVersion, recorded: _Recorded) -> dict[str, Any]:
    from mlform.runtime.tracking.tracker import flat_params

    if recorded.run is not None:
        flat, source = recorded.run["params"], f"tracking run {recorded.run['id']}"
    elif spec is not None and spec.digest == version.lineage.get("spec_digest"):
        flat, source = flat_params(spec.config), "the spec, unchanged since training"
    else:
        return {"source": None, "estimator": None, "params": {}, "preprocessing": []}
    steps = json.loads(flat.get("model.preprocessing", "[]"))
    params = {key.removeprefix("model.params."): value for key, value in flat.items()
              if key.startswith("model.params.")}
    # the params `model.tuning` chose are the ones the version was trained with
    params.update({key.removeprefix("tuning.best."): value for key, value in flat.items()
                   if key.startswith("tuning.best.")})
    return {"source": source, "estimator": flat.get("model.estimator"), "params": params,
            "preprocessing": [{"transformer": s["transformer"], "columns": s["columns"]} for s in steps]}


def _evaluation(spec: ResolvedSpec | None, version: ModelVersion) -> dict[str, Any]:
    from mlform.runtime.steps.evaluate import check_gates

    stored, recomputed = version.evaluation, False
    gates: list[dict[str, Any]] = list(stored.get("gates") or [])
    passed, champion = stored.get("passed"), stored.get("champion")
    if not stored and spec is not None:  # registered before verdicts were kept: recompute from the metrics
        declared = {k: g for k, g in spec.pipeline.evaluation.gates.items() if k in version.metrics}
        gates = [g.to_json() for g in check_gates(version.metrics, declared)]
        passed, recomputed = all(g["passed"] for g in gates), True
    by_metric = {g["metric"]: g for g in gates}
    metrics = [{"metric": name, "value": _number(value), "min": by_metric.get(name, {}).get("min"),
                "max": by_metric.get(name, {}).get("max"),
                "passed": by_metric[name]["passed"] if name in by_metric else None}
               for name, value in version.metrics.items()]
    if champion:
        champion = {**champion, "challenger": _number(champion.get("challenger")),
                    "champion": _number(champion.get("champion"))}
    return {"passed": passed, "recomputed": recomputed, "metrics": metrics, "champion": champion,
            "gates": [{**g, "value": _number(g.get("value"))} for g in gates], "review": stored.get("review")}


def _served_version(recorded: _Recorded, run_steps: Mapping[str, str], monitor: Output) -> tuple[Any, Any]:
    """(model, version) a monitor output checked: its own record, else the served step of the same run."""
    if "version" in monitor.values:
        return monitor.values.get("model"), monitor.values["version"]
    step = next((s for s in _SERVED_BY if s in run_steps), None)
    served = recorded.output(step, run_steps[step]) if step else None
    return (served.values.get("model"), served.values.get("served")) if served else (None, None)


def _check(run: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    drift, verdict = report.get("drift") or {}, report.get("verdict") or {}
    return {"env": run["env"], "run_id": run["run_id"], "time": report.get("generated_at"),
            "breached": verdict.get("breached"), "reasons": verdict.get("reasons") or [],
            "drifted_share": drift.get("drifted_share"), "drifted": drift.get("drifted") or []}


def _drift(spec: ResolvedSpec | None, version: ModelVersion, recorded: _Recorded) -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    for row in recorded.history:  # newest run first
        runs.setdefault(row["run_id"], {"run_id": row["run_id"], "env": row["env"], "steps": {}})
        runs[row["run_id"]]["steps"][row["step"]] = row["fingerprint"]
    checks: list[dict[str, Any]] = []
    latest: dict[str, Any] | None = None
    seen: set[str] = set()
    for run in runs.values():
        fingerprint = run["steps"].get("monitor")
        if fingerprint is None or fingerprint in seen:  # a cached monitor step repeats an earlier result
            continue
        seen.add(fingerprint)
        monitor = recorded.output("monitor", fingerprint)
        if monitor is None or _served_version(recorded, run["steps"], monitor) != (version.name, version.version):
            continue
        report = read_json(monitor.dir / Path(monitor.values["report_json"]).name)
        if isinstance(report, dict):
            checks.append(_check(run, report))
            latest = latest or {**checks[-1], "report": report}
    monitored = spec is not None and spec.pipeline.monitoring is not None
    note = (None if checks else "no monitoring results for this version yet (`mlform monitor`)" if monitored
            else "the spec declares no `monitoring`" if spec is not None else "the spec is not here")
    if latest is not None:
        report = latest.pop("report")
        drift = report.get("drift") or {}
        latest.update({key: drift.get(key) for key in ("method", "threshold", "max_drifted_share", "features")},
                      performance=report.get("performance"))
    return {"monitored": monitored, "total": len(checks), "breaches": sum(bool(c["breached"]) for c in checks),
            "checks": checks[:MONITOR_CHECKS], "latest": latest, "note": note}


def _audit(spec: ResolvedSpec | None, version: ModelVersion) -> tuple[list[dict[str, Any]], str | None]:
    """The audit entries (applies, and runs that moved an alias) that registered this version or moved an alias to
    it; a note when unknown."""
    if spec is None:
        return [], "the spec's state folder, which holds the audit log, is unknown"
    from .audit import AuditError, read_entries

    try:
        entries = read_entries(backend_for(spec), model=version.name)
    except AuditError as exc:
        return [], f"the audit log cannot be trusted: {exc}"
    rows = []
    mine = {"model": version.name, "version": version.version}
    for entry in entries:
        registered = mine in (entry.get("registered") or [])
        moved = [m["alias"] for m in entry.get("promoted") or []
                 if (m.get("model"), m.get("to")) == (version.name, version.version)]
        if entry.get("result") == "applied" and (registered or moved):
            rows.append({key: entry.get(key) for key in ("seq", "time", "actor", "host", "env", "git_commit")}
                        | {"command": entry.get("command", "apply"), "registered": registered, "promoted": moved})
    return rows, None


def _lineage(spec: ResolvedSpec | None, version: ModelVersion) -> dict[str, Any]:
    lineage = version.lineage
    applied, note = _audit(spec, version)
    keys = ("spec", "env", "spec_digest", "run_id", "git_commit", "git_dirty", "git_diff_sha256", "python", "sklearn")
    return {**{key: lineage.get(key) for key in keys}, "data": lineage.get("data") or {},
            "fingerprints": lineage.get("fingerprints") or {}, "applied": applied, "audit_note": note}


def _serving(spec: ResolvedSpec | None, registry: Registry, version: ModelVersion) -> list[dict[str, Any]]:
    """Each environment of the spec whose own aliases in the registry, or `registry.production`, name the version."""
    if spec is None:
        return []
    where, serving = registry.describe(), []
    for env_spec in validate_file(spec.path)[0]:
        if (env_spec.pipeline.registry.model_name != version.name
                or registry_for(env_spec).describe() != where):
            continue  # another model, or another registry whose version numbers mean other models
        aliases = sorted(alias for alias, number in registry.aliases(version.name, env_spec.env).items()
                         if number == version.version)
        pinned = env_spec.pipeline.registry.production == version.version
        if aliases or pinned:
            serving.append({"env": env_spec.env, "aliases": aliases, "pinned": pinned})
    return serving


def gather(subject: Subject) -> dict[str, Any]:
    """The card of `subject`: plain JSON-ready data, the same for every output format."""
    version, spec = subject.version, subject.spec
    notes = list(subject.notes)
    recorded = _recorded(spec, version, notes)
    return {
        "format_version": FORMAT_VERSION,
        "model": _model(version),
        "spec": _spec(spec, version),
        "metadata": _metadata(spec),
        "data": _data(spec, version, recorded),
        "validation": _validation(recorded),
        "training": _training(spec, version, recorded),
        "evaluation": _evaluation(spec, version),
        "drift": _drift(spec, version, recorded),
        "lineage": _lineage(spec, version),
        "serving": _serving(spec, subject.registry, version),
        "notes": notes,
    }
