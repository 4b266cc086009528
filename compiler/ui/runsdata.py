"""The JSON data of the Runs, Compare and Monitoring pages: runs sorted, filtered and paged; drift history."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .sources import Entry, Sources, hide_secret, stamp

__all__ = ["PAGE_SIZE", "SORTS", "compare_data", "monitoring_data", "report_file", "runs_data"]

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_COMPARED = 10
SORTS = ("started", "duration", "spec", "env", "status", "id")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16,64}$")
# params shown in the table (the comparison shows them all)
_TABLE_PARAMS = ("model.", "data.split.")


def _duration(row: Mapping[str, Any]) -> float | None:
    return row["finished"] - row["started"] if row.get("finished") else None


def _sort_key(sort: str) -> Any:
    if sort == "duration":
        return lambda r: (r["duration"] is None, r["duration"] or 0.0)
    if sort == "spec":
        return lambda r: r["spec_name"]
    return lambda r: r[sort] if r[sort] is not None else ""


def _change_mark(sources: Sources) -> tuple[Any, ...] | None:
    """What changes whenever a run is written to a local tracker; None when a tracker is not local (no caching)."""
    from mlform.runtime.tracking.tracker import TRACKING_DB

    marks: list[Any] = []
    for backend, _ in sources.backends():
        db = backend.local_path(TRACKING_DB)
        if db is None:
            return None
        marks += [str(db), *(stamp(db.with_name(db.name + suffix)) for suffix in ("", "-wal"))]
    return tuple(marks)


def _all_runs(sources: Sources) -> list[dict[str, Any]]:
    """Every tracked run of the specs, newest first; read again only when a tracker changed."""
    mark = _change_mark(sources)
    cached = sources.cache.get("runs")
    if mark is not None and cached is not None and cached[0] == mark:
        return list(cached[1])
    rows = []
    with sources.trackers() as trackers:
        for tracker, entries in trackers:
            names = {e.name: e.key for e in entries}
            for row in tracker.runs(1 << 30):
                if row["spec_name"] in names:
                    rows.append({"id": row["id"], "spec": names[row["spec_name"]], "spec_name": row["spec_name"],
                                 "env": row["env"], "status": row["status"], "started": row["started"],
                                 "finished": row["finished"], "duration": _duration(row), "error": row["error"],
                                 "git_commit": row.get("git_commit")})
    sources.cache["runs"] = (mark, rows)
    return list(rows)


def _gates(entry: Entry | None, env: str, metrics: dict[str, float]) -> bool | None:
    """Whether every gate of the spec in `env` passes on `metrics`; None when there are no gates or no metrics."""
    spec = entry.specs.get(env) if entry is not None else None
    if spec is None or not metrics:
        return None
    gates = spec.pipeline.evaluation.gates
    if not gates:
        return None
    for name, gate in gates.items():
        value = metrics.get(name)
        if value is None or (gate.min is not None and value < gate.min) or (gate.max is not None and value > gate.max):
            return False
    return True


def _detail(found: dict[str, Any]) -> dict[str, Any]:
    """A tracked run as the UI shows it: metrics as `step.key`, params with secrets hidden, data fingerprints."""
    metrics = {f"{m['step']}.{m['key']}": m["value"] for m in found["metrics"]}
    return {"params": {k: hide_secret(k, v) for k, v in sorted(found["params"].items())}, "metrics": metrics,
            "data": {s["step"]: s["fingerprint"] for s in found["steps"] if s["step"].startswith("ingest")},
            "steps": [{k: s[k] for k in ("step", "status", "seconds", "reasons")} for s in found["steps"]]}


def _enrich(sources: Sources, rows: list[dict[str, Any]]) -> None:
    """Add params, metrics, gates and data fingerprints to the rows of one page (one look-up per run)."""
    wanted = {row["id"]: row for row in rows}
    with sources.trackers() as trackers:
        for tracker, _ in trackers:
            for run_id, row in wanted.items():
                if "metrics" in row:
                    continue
                try:
                    detail = _detail(tracker.run(run_id))
                except Exception:  # noqa: BLE001, S112 - another backend's run: the next tracker has it
                    continue
                plain = {k.rpartition(".")[2]: v for k, v in detail["metrics"].items()}
                row.update(params={k: v for k, v in detail["params"].items() if k.startswith(_TABLE_PARAMS)},
                           metrics=detail["metrics"], data=detail["data"],
                           gates_passed=_gates(sources.entries.get(row["spec"]), row["env"], plain))


def runs_data(sources: Sources, query: Mapping[str, str]) -> dict[str, Any]:
    """One page of runs: `sort` (one of SORTS, `-` first for descending), `q` (text in ID, spec, env, status),
    `spec`, `env`, `status` (exact), `page` (from 1) and `per` (rows a page, at most MAX_PAGE_SIZE)."""
    sort = query.get("sort", "-started")
    field_name = sort.lstrip("-")
    if field_name not in SORTS:
        sort, field_name = "-started", "started"
    rows = _all_runs(sources)
    text = query.get("q", "").strip().lower()
    for key in ("spec", "env", "status"):
        if query.get(key):
            rows = [r for r in rows if r[key] == query[key]]
    if text:
        rows = [r for r in rows if any(text in str(r[k]).lower() for k in ("id", "spec", "env", "status"))]
    rows.sort(key=_sort_key(field_name), reverse=sort.startswith("-"))
    per = min(max(_int(query.get("per"), PAGE_SIZE), 1), MAX_PAGE_SIZE)
    pages = max(1, math.ceil(len(rows) / per))
    page = min(max(_int(query.get("page"), 1), 1), pages)
    shown = [dict(row) for row in rows[(page - 1) * per: page * per]]  # the cached rows stay as read
    _enrich(sources, shown)
    return {"total": len(rows), "page": page, "pages": pages, "per": per, "sort": sort,
            "filters": {k: query.get(k, "") for k in ("q", "spec", "env", "status")}, "runs": shown}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def compare_data(sources: Sources, ids: Sequence[str]) -> dict[str, Any]:
    """Runs side by side: every param and metric, with the keys whose values differ between them."""
    from mlform.specs.errors import StateError

    ids = list(dict.fromkeys(i for i in ids if i))[:MAX_COMPARED]
    runs, missing = [], []
    with sources.trackers() as trackers:
        for run_id in ids:
            for tracker, _ in trackers:
                try:
                    found = tracker.run(run_id)
                except StateError:
                    continue
                runs.append({"id": found["id"], "spec_name": found["spec_name"], "env": found["env"],
                             "status": found["status"], "started": found["started"],
                             "duration": _duration(found), **_detail(found)})
                break
            else:
                missing.append(run_id)

    def differing(kind: str) -> list[str]:
        keys = sorted({k for run in runs for k in run[kind]})
        return [k for k in keys if len({repr(run[kind].get(k)) for run in runs}) > 1]

    return {"runs": runs, "missing": missing, "differs": {"params": differing("params"),
                                                          "metrics": differing("metrics")}}


def _monitor_history(sources: Sources, entry: Entry) -> dict[str, list[dict[str, Any]]]:
    """Per environment, the distinct monitor reports of a spec in time order."""
    history: dict[str, dict[str, dict[str, Any]]] = {}
    with sources.trackers() as trackers:
        for tracker, entries in trackers:
            if entry not in entries:
                continue
            for row in tracker.step_history(entry.name, ["monitor"]):
                if row["env"] in entry.specs:
                    history.setdefault(row["env"], {}).setdefault(row["fingerprint"], row)
    return {env: sorted(rows.values(), key=lambda r: r["started"]) for env, rows in history.items()}


def report_file(sources: Sources, entry: Entry, env: str, fingerprint: str, kind: str) -> Path | None:
    """The monitor report (`json` or `html`) of a completed monitor step, when it exists; never any other file."""
    from mlform.runtime.monitoring.monitor import HTML_NAME, JSON_NAME
    from mlform.runtime.storage.backends.url import backend_for
    from mlform.runtime.storage.statedir import state_dir_for
    from mlform.runtime.storage.store import Store

    spec = entry.specs.get(env)
    if spec is None or not _FINGERPRINT.match(fingerprint):
        return None
    output = Store.of(state_dir_for(spec.root), backend_for(spec)).get("monitor", fingerprint)
    if output is None:
        return None
    path = output.dir / (JSON_NAME if kind == "json" else HTML_NAME)
    return path if path.is_file() else None


def _report_summary(path: Path | None) -> dict[str, Any]:
    import json

    if path is None:
        return {"missing": True}
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"missing": True}
    drift = report.get("drift") or {}
    return {"missing": False, "generated_at": report.get("generated_at"), "drifted_share": drift.get("drifted_share"),
            "max_drifted_share": drift.get("max_drifted_share"), "drifted": drift.get("drifted") or [],
            "breached": bool((report.get("verdict") or {}).get("breached")),
            "reasons": (report.get("verdict") or {}).get("reasons") or []}


def monitoring_data(sources: Sources) -> dict[str, Any]:
    """Per spec and environment, each drift report in time order: drifted share, breach, and where to read it."""
    pipelines = []
    for entry in sources.all():
        envs = []
        for env, rows in _monitor_history(sources, entry).items():
            reports = [{"run": row["run_id"], "started": row["started"], "fingerprint": row["fingerprint"],
                        **_report_summary(report_file(sources, entry, env, row["fingerprint"], "json"))}
                       for row in rows]
            envs.append({"env": env, "reports": reports})
        pipelines.append({"key": entry.key, "name": entry.name, "environments": envs})
    return {"pipelines": pipelines}
