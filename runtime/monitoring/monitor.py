"""The monitor step: drift of the current data against the reference, live performance against its gates, reports."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlform.runtime.registry.models import ModelVersion
from mlform.runtime.steps.metrics import compute_metrics
from mlform.specs.errors import StepError
from mlform.specs.fsutil import write_atomic
from mlform.specs.loader import ResolvedSpec
from mlform.specs.model.lifecycle import Gate
from mlform.specs.model.metrics import metric_table

from .checks import Check
from .drift import DriftReport, FeatureDriftResult, detect_drift
from .notify import breach_summary, post_breach
from .report_html import render_html
from .watch import watch_checks

__all__ = ["FORMAT_VERSION", "HTML_NAME", "JSON_NAME", "MonitorResult", "run_monitor"]

FORMAT_VERSION = 1
JSON_NAME = "monitor.json"
HTML_NAME = "monitor.html"


@dataclass(frozen=True)
class MonitorResult:
    """The verdict of one monitoring run, and where its reports were written."""

    breached: bool
    reasons: list[str]
    drifted_share: float
    features: list[FeatureDriftResult]
    performance: dict[str, float]
    report_json: Path
    report_html: Path
    checks: list[Check] = field(default_factory=list)
    notify: dict[str, Any] | None = None


def _gate_reasons(values: dict[str, float], gates: dict[str, Gate]) -> list[str]:
    reasons = []
    for name, gate in gates.items():
        value = values.get(name)
        if value is None:
            continue
        if math.isnan(value):
            reasons.append(f"`{name}` is undefined on the current data")
        elif gate.min is not None and value < gate.min:
            reasons.append(f"`{name}` is {value:.4g} on the current data, below the `min` {gate.min}")
        elif gate.max is not None and value > gate.max:
            reasons.append(f"`{name}` is {value:.4g} on the current data, above the `max` {gate.max}")
    return reasons


def _performance(spec: ResolvedSpec, current: pd.DataFrame,
                 model: object | None) -> tuple[dict[str, float], str | None]:
    """Metrics of `model` on the labelled current rows, or why none were computed."""
    monitoring, data = spec.pipeline.monitoring, spec.pipeline.data
    assert monitoring is not None  # checked by run_monitor
    if not monitoring.performance:
        return {}, None
    if model is None:
        return {}, "performance not checked: no model is served"
    if data.target not in current.columns:
        return {}, f"performance not checked: the current data has no target column `{data.target}`"
    labelled = current[current[data.target].notna()]
    if labelled.empty:
        return {}, f"performance not checked: the target column `{data.target}` has no values in the current data"
    try:
        names = list(monitoring.performance)
        table = metric_table(spec.pipeline.evaluation.custom_metrics)
        return compute_metrics(names, model, labelled[data.features], labelled[data.target], table, spec.root,
                               spec.pipeline.evaluation.positive_class), None
    except ValueError as exc:  # the served model refusing the current rows, or a metric refusing its input
        raise StepError("monitor", f"`monitoring.performance`: {exc}") from None


def _drift_reason(drift: DriftReport) -> str:
    names = ", ".join(f"`{n}`" for n in drift.drifted)
    return (f"{len(drift.drifted)} of {len(drift.features)} features drifted (share {drift.drifted_share:.2f} > "
            f"`max_drifted_share` {drift.max_drifted_share}): {names}")


def _plain(value: Any) -> Any:
    """JSON-safe data: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _payload(spec: ResolvedSpec, drift: DriftReport, rows: tuple[int, int], performance: dict[str, float],
             note: str | None, reasons: list[str], checks: list[Check]) -> dict[str, Any]:
    monitoring = spec.pipeline.monitoring
    assert monitoring is not None  # checked by run_monitor
    gates = monitoring.performance
    metrics = {name: {"value": value, "min": gates[name].min, "max": gates[name].max,
                      "passed": not _gate_reasons({name: value}, {name: gates[name]})}
               for name, value in performance.items()}
    return _plain({
        "format_version": FORMAT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipeline": spec.name, "env": spec.env, "spec_digest": spec.digest,
        "verdict": {"breached": bool(reasons), "reasons": reasons, "on_breach": monitoring.on_breach},
        "data": {"reference": monitoring.reference or spec.pipeline.data.training_source,
                 "current": monitoring.current, "reference_rows": rows[0], "current_rows": rows[1]},
        "drift": {"method": monitoring.drift.method, "threshold": monitoring.drift.threshold,
                  "bins": monitoring.drift.bins, "max_drifted_share": drift.max_drifted_share,
                  "drifted_share": drift.drifted_share, "breached": drift.breached, "drifted": drift.drifted,
                  "features": [asdict(f) for f in drift.features]},
        "performance": {"checked": bool(performance), "note": note, "metrics": metrics},
        "checks": [asdict(check) for check in checks],
    })


def run_monitor(spec: ResolvedSpec, reference: pd.DataFrame, current: pd.DataFrame, model: object | None,
                out_dir: Path, served: ModelVersion | None = None, now: datetime | None = None) -> MonitorResult:
    """Check drift, live performance and the production-readiness lines (`served` is the served version) as
    `monitoring` declares; post a breach to `notify`; write `monitor.json` and `monitor.html`."""
    monitoring = spec.pipeline.monitoring
    if monitoring is None:
        raise StepError("monitor", "the spec has no `monitoring` section")
    try:
        drift = detect_drift(reference, current, monitoring.drift, spec.pipeline.data.features)
    except ValueError as exc:
        raise StepError("monitor", str(exc)) from None
    performance, note = _performance(spec, current, model)
    checks = watch_checks(spec, current, model, served, now)
    reasons = ([_drift_reason(drift)] if drift.breached else []) + _gate_reasons(performance, monitoring.performance)
    reasons += [check.detail for check in checks if check.breached]
    payload = _payload(spec, drift, (len(reference), len(current)), performance, note, reasons, checks)
    notified = None
    if reasons and monitoring.notify is not None:
        notified = payload["notify"] = post_breach(spec.pipeline, monitoring.notify, breach_summary(payload))
    out_dir = Path(out_dir)
    report_json, report_html = out_dir / JSON_NAME, out_dir / HTML_NAME
    write_atomic(report_json, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    write_atomic(report_html, render_html(payload))
    return MonitorResult(bool(reasons), reasons, drift.drifted_share, drift.features, performance,
                         report_json, report_html, checks, notified)
