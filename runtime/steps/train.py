"""Build and fit the model: a ColumnTransformer of the declared preprocessing, then the estimator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlform.specs.check.semantic import import_object
from mlform.specs.errors import StepPartError
from mlform.specs.model.lifecycle import ModelSpec

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = ["TrainError", "build_pipeline", "fit_pipeline", "signature_of"]


class TrainError(StepPartError):
    """The model cannot be built or fitted."""


def _make(import_path: str, params: dict[str, Any], where: str) -> Any:
    try:
        cls = import_object(import_path)
        return cls(**params)
    except (ImportError, TypeError, ValueError) as exc:
        raise TrainError(f"`{where}`: cannot build `{import_path}`: {exc}") from None


def build_pipeline(model: ModelSpec) -> Pipeline:
    """An unfitted sklearn Pipeline: `preprocess` (ColumnTransformer, remainder passed through) then `model`."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    transformers = [
        (f"{index}_{step.transformer.rsplit('.', 1)[-1].lower()}",
         _make(step.transformer, step.params, f"model.preprocessing.{index}.transformer"), list(step.columns))
        for index, step in enumerate(model.preprocessing)
    ]
    preprocess = ColumnTransformer(transformers, remainder="passthrough", verbose_feature_names_out=False)
    estimator = _make(model.estimator, model.params, "model.estimator")
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit_pipeline(model: ModelSpec, X: pd.DataFrame, y: pd.Series) -> Pipeline:
    """Build and fit the pipeline; what fitting raises, the step runner puts in words."""
    return build_pipeline(model).fit(X, y)


def signature_of(X: pd.DataFrame) -> list[dict[str, str]]:
    """The model's input signature: each feature column's name and dtype."""
    return [{"name": str(name), "dtype": str(dtype)} for name, dtype in X.dtypes.items()]
