"""The production-readiness lines of `monitoring` on the current data and the served version.

`validate_current` (the `validation` column rules), `max_model_age`, `max_nonfinite_share` and `offline_gap`;
the server's own health is `.servinghealth`. Each gives a `Check`; a breached one is a reason of the verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from mlform.runtime.registry.models import ModelVersion
from mlform.runtime.steps.metrics import compute_metrics
from mlform.runtime.steps.validation import validate_frame
from mlform.specs.errors import StepError
from mlform.specs.loader import ResolvedSpec
from mlform.specs.model.data import Validation
from mlform.specs.model.metrics import metric_table
from mlform.specs.model.monitoring_checks import OfflineGap, parse_duration

from .checks import Check
from .servinghealth import serving_checks

__all__ = ["model_age_check", "nonfinite_check", "offline_gap_check", "validation_check", "watch_checks"]


def validation_check(spec: ResolvedSpec, current: pd.DataFrame) -> Check | None:
    """The `validation` column rules of the columns `current` has; None when none apply."""
    rules = spec.pipeline.validation
    columns = {name: rule for name, rule in rules.columns.items() if name in current.columns}
    if not columns:
        return None
    report = validate_frame(current, Validation(columns=columns))
    figures = {"rows": report.rows, "rules": report.rules,
               "failures": [{"rule": f.rule, "column": f.column, "failed": f.failed, "message": f.message}
                            for f in report.failures]}
    if report.ok:
        return Check("validate_current", False, f"the current data passes {report.rules} validation rule(s)", figures)
    shown = "; ".join(f.message for f in report.failures[:3])
    more = f" (and {len(report.failures) - 3} more)" if len(report.failures) > 3 else ""
    return Check("validate_current", True,
                 f"the current data breaks {len(report.failures)} validation rule(s): {shown}{more}", figures)


def model_age_check(max_age: str, served: ModelVersion | None, now: datetime) -> Check:
    """Whether the served version was registered within `max_age` of `now`."""
    if served is None or not served.created:
        return Check("max_model_age", True, "`max_model_age`: no version is served, so its age is unknown")
    created = datetime.fromisoformat(served.created)
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    age, limit = now - created, parse_duration(max_age)
    days = age.total_seconds() / 86400
    figures = {"version": served.version, "created": served.created, "age_days": round(days, 3), "max": max_age}
    if age > limit:
        return Check("max_model_age", True, f"the served version {served.version} is {days:.1f} days old, older "
                                            f"than `max_model_age` {max_age}", figures)
    return Check("max_model_age", False, f"the served version {served.version} is {days:.1f} days old", figures)


def nonfinite_check(max_share: float, model: Any, features: pd.DataFrame) -> Check:
    """The share of the served model's predictions on `features` that are NaN or infinite, against `max_share`."""
    if model is None:
        return Check("max_nonfinite_share", False, "`max_nonfinite_share` not checked: no model is served")
    try:
        predictions = np.asarray(model.predict(features))
    except ValueError as exc:
        raise StepError("monitor", f"`monitoring.max_nonfinite_share`: the served model cannot predict the current "
                                   f"data: {exc}") from None
    numeric = predictions.dtype.kind in "fc"
    bad = int(np.count_nonzero(~np.isfinite(predictions))) if numeric else 0
    share = bad / predictions.size if predictions.size else 0.0
    figures = {"nonfinite": bad, "predictions": int(predictions.size), "share": share, "max": max_share}
    breached = share > max_share
    word = "above" if breached else "within"
    return Check("max_nonfinite_share", breached,
                 f"{bad} of {predictions.size} predictions are NaN or infinite (share {share:.4g}, {word} "
                 f"`max_nonfinite_share` {max_share})", figures)


def offline_gap_check(spec: ResolvedSpec, gap: OfflineGap, current: pd.DataFrame, model: object | None,
                      served: ModelVersion | None) -> Check:
    """The live metric on the labelled current rows against the served version's registered test metric."""
    data, metric = spec.pipeline.data, gap.metric
    registered = served.metrics.get(metric) if served is not None else None
    labelled = current[current[data.target].notna()] if data.target in current.columns else current.iloc[:0]
    if model is None or registered is None or labelled.empty:
        why = ("no model is served" if model is None else f"the served version has no registered `{metric}`"
               if registered is None else f"the current data has no values of the target `{data.target}`")
        return Check("offline_gap", False, f"`offline_gap` not checked: {why}")
    table = metric_table(spec.pipeline.evaluation.custom_metrics)
    try:
        live = compute_metrics([metric], model, labelled[data.features], labelled[data.target], table, spec.root,
                               spec.pipeline.evaluation.positive_class)[metric]
    except ValueError as exc:
        raise StepError("monitor", f"`monitoring.offline_gap`: {exc}") from None
    drop = registered - live if table[metric].greater_is_better else live - registered
    figures = {"metric": metric, "live": live, "registered": registered, "drop": drop, "max_drop": gap.max_drop}
    breached = bool(np.isnan(live)) or drop > gap.max_drop
    word = "more than" if breached else "within"
    return Check("offline_gap", breached,
                 f"live `{metric}` {live:.4g} trails the registered test value {registered:.4g} by {drop:.4g}, "
                 f"{word} `offline_gap.max_drop` {gap.max_drop}", figures)


def watch_checks(spec: ResolvedSpec, current: pd.DataFrame, model: object | None, served: ModelVersion | None,
                 now: datetime | None = None) -> list[Check]:
    """Every declared production-readiness line's verdict, in the order of the spec's keys."""
    monitoring = spec.pipeline.monitoring
    assert monitoring is not None  # checked by run_monitor
    now = now or datetime.now(UTC)
    checks: list[Check | None] = []
    if monitoring.validate_current:
        checks.append(validation_check(spec, current))
    if monitoring.max_model_age is not None:
        checks.append(model_age_check(monitoring.max_model_age, served, now))
    if monitoring.max_nonfinite_share is not None:
        checks.append(nonfinite_check(monitoring.max_nonfinite_share, model, current[spec.pipeline.data.features]))
    if monitoring.serving is not None:
        checks.extend(serving_checks(spec.pipeline, monitoring.serving))
    if monitoring.offline_gap is not None:
        checks.append(offline_gap_check(spec, monitoring.offline_gap, current, model, served))
    return [check for check in checks if check is not None]
