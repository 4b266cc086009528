"""The glue module an imported recipe needs: MLflow's calling conventions on top of mlform's hooks.

mlform calls an estimator factory with `params` as keyword arguments and a metric with `(y_true, y_pred)`;
MLflow Recipes called `estimator_fn(params)` (or `estimator_fn()`) and `metric(eval_df, builtin_metrics)`.
Every recipe name reaches the generated code as a Python string literal, never as code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["GLUE_MODULE", "Glue"]

GLUE_MODULE = "mlform_recipe"

_HEAD = '''"""Glue written by `mlform import mlflow-recipe`: calls the recipe's step functions as MLflow Recipes did.

mlform fingerprints this file and the `steps/` modules it imports: editing either re-runs the steps using them.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd


def _step_function(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)
'''

_ESTIMATOR = '''

{imports}def estimator(**params: Any) -> Any:
    """`{module}.{name}`, called with the params as one dict (or with none), as MLflow did."""
    build = getattr({alias}, {name_literal})
    return build(params) if params else build()
'''

_METRICS = '''

def _builtin_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The built-in metrics MLflow passed to custom metrics as `builtin_metrics`."""
    from sklearn import metrics

    if {task_literal} == "regression":
        return {{
            "example_count": float(len(y_true)),
            "mean_absolute_error": float(metrics.mean_absolute_error(y_true, y_pred)),
            "mean_squared_error": float(metrics.mean_squared_error(y_true, y_pred)),
            "root_mean_squared_error": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
            "sum_on_target": float(np.sum(y_true)),
            "mean_on_target": float(np.mean(y_true)),
            "r2_score": float(metrics.r2_score(y_true, y_pred)),
            "max_error": float(metrics.max_error(y_true, y_pred)),
            "mean_absolute_percentage_error": float(metrics.mean_absolute_percentage_error(y_true, y_pred)),
        }}
    positive = {positive_literal}
    average = {{"average": "binary", "pos_label": positive}} if positive is not None else {{"average": "macro"}}
    return {{
        "example_count": float(len(y_true)),
        "accuracy_score": float(metrics.accuracy_score(y_true, y_pred)),
        "precision_score": float(metrics.precision_score(y_true, y_pred, zero_division=0, **average)),
        "recall_score": float(metrics.recall_score(y_true, y_pred, zero_division=0, **average)),
        "f1_score": float(metrics.f1_score(y_true, y_pred, zero_division=0, **average)),
    }}


def _recipe_metric(name: str) -> Any:
    def compute(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        eval_df = pd.DataFrame({{"prediction": y_pred, "target": y_true}})
        return float(_step_function("steps.custom_metrics", name)(eval_df, _builtin_metrics(y_true, y_pred)))

    compute.__name__ = name
    return compute
'''

_METRIC = '''{attribute} = _recipe_metric({name_literal})
'''

_READER = '''

def read_file(file_path: str, file_format: str) -> pd.DataFrame:
    """One file of a `csv` or `parquet` dataset, as MLflow Recipes read it."""
    if file_format == "parquet":
        return pd.read_parquet(file_path)
    return pd.read_csv(file_path)
'''


@dataclass
class Glue:
    """The glue functions an import needs, rendered into one module."""

    task: str
    positive_class: str | int | float | bool | None = None
    estimator: tuple[str, str] | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    reader: bool = False

    def metric(self, metric_name: str, function: str) -> str:
        """Add a wrapper of `steps.custom_metrics.<function>`; the reference to it."""
        attribute = "metric_" + re.sub(r"\W", "_", metric_name)
        self.metrics[attribute] = function
        return f"{GLUE_MODULE}:{attribute}"

    @property
    def needed(self) -> bool:
        """Whether any glue is needed."""
        return bool(self.estimator or self.metrics or self.reader)

    def text(self) -> str:
        """The module's source."""
        parts = [_HEAD]
        if self.estimator:
            module, name = self.estimator
            package, _, leaf = module.rpartition(".")
            imports = f"from {package} import {leaf} as _train\n\n\n" if package else f"import {leaf} as _train\n\n\n"
            parts.append(_ESTIMATOR.format(imports=imports, module=module, name=name, alias="_train",
                                           name_literal=repr(name)))
        if self.metrics:
            parts.append(_METRICS.format(task_literal=repr(self.task), positive_literal=repr(self.positive_class)))
            parts.append("\n\n# imported so that editing steps/custom_metrics.py re-runs the evaluation\n"
                         "from steps import custom_metrics as _custom_metrics  # noqa: E402, F401\n\n")
            parts.extend(_METRIC.format(attribute=a, name_literal=repr(f)) for a, f in self.metrics.items())
        if self.reader:
            parts.append(_READER)
        return "".join(parts).rstrip("\n") + "\n"
