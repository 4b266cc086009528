"""The metrics, declared once: the names a spec may use, the task each fits, which direction is better, and
where the runtime computes each (imported only when a model is evaluated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .lifecycle import CustomMetric

__all__ = ["METRICS", "Metric", "Task", "metric_table"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Metric:
    """A named evaluation metric."""

    name: str
    task: Task | None
    """The task the metric fits; None (a user metric) fits both."""
    greater_is_better: bool = True
    compute: str = ""
    """Import path of `(y_true, outputs) -> float`; `mlform.runtime.steps.metric_functions.<name>` when empty.
    A user metric's is its function reference, `(y_true, y_pred) -> float`, relative to the spec's folder."""
    user: bool = False
    key: str = ""
    """The spec key a user metric's function is named at (`evaluation.custom_metrics.0.function`)."""

    def __post_init__(self) -> None:
        if not self.compute:
            object.__setattr__(self, "compute", f"mlform.runtime.steps.metric_functions.{self.name}")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification"),
        Metric("balanced_accuracy", "classification"),
        Metric("f1", "classification"),
        Metric("f1_macro", "classification"),
        Metric("f1_micro", "classification"),
        Metric("f1_weighted", "classification"),
        Metric("precision", "classification"),
        Metric("precision_macro", "classification"),
        Metric("recall", "classification"),
        Metric("recall_macro", "classification"),
        Metric("roc_auc", "classification"),
        Metric("average_precision", "classification"),
        Metric("log_loss", "classification", greater_is_better=False),
        Metric("r2", "regression"),
        Metric("explained_variance", "regression"),
        Metric("mae", "regression", greater_is_better=False),
        Metric("mse", "regression", greater_is_better=False),
        Metric("rmse", "regression", greater_is_better=False),
        Metric("mape", "regression", greater_is_better=False),
        Metric("median_ae", "regression", greater_is_better=False),
        # computing cost, either task: lower is better
        Metric("predict_ms_per_1k_rows", None, greater_is_better=False),
        Metric("model_size_mb", None, greater_is_better=False),
    )
}


def metric_table(custom: Iterable[CustomMetric] = ()) -> dict[str, Metric]:
    """The built-in metrics and a spec's `evaluation.custom_metrics`, by name."""
    return {**METRICS, **{m.name: Metric(m.name, None, m.greater_is_better, m.function, user=True,
                                          key=f"evaluation.custom_metrics.{index}.function")
                          for index, m in enumerate(custom)}}
