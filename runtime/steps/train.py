"""Build and fit the model: a ColumnTransformer of the declared preprocessing, then the estimator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.specs.check.semantic import import_object
from mlform.specs.errors import StepPartError
from mlform.specs.model.lifecycle import ModelSpec

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = ["TrainError", "build_pipeline", "fit_pipeline", "signature_of", "unseeded"]


class TrainError(StepPartError):
    """The model cannot be built or fitted."""


def _make(import_path: str, params: dict[str, Any], where: str) -> Any:
    try:
        cls = import_object(import_path)
        return cls(**params)
    except (ImportError, TypeError, ValueError) as exc:
        raise TrainError(f"`{where}`: cannot build `{import_path}`: {exc}") from None


def _from_functions(model: ModelSpec, root: Path) -> Pipeline:
    """The pipeline of user factories: the transformer `preprocessing_function` returns (or none), then the
    estimator `estimator_function` returns, or the `estimator` class built with `params`."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.pipeline import Pipeline

    from .usercode import call_user

    transformer = (call_user(model.preprocessing_function, root, "model.preprocessing_function")
                   if model.preprocessing_function else None)
    if model.estimator_function is None:
        estimator = _make(model.estimator or "", model.params, "model.estimator")
        _check_transformer(model, transformer)
        return Pipeline([("preprocess", transformer or "passthrough"), ("model", estimator)])
    ref = model.estimator_function
    estimator = call_user(ref, root, "model.estimator_function", **model.params)
    if isinstance(estimator, type) or not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise TrainError(f"`model.estimator_function: {ref}` returned {_returned(estimator)}, "
                         "not an estimator with `fit` and `predict`", key="model.estimator_function")
    task = "classification" if is_classifier(estimator) else "regression" if is_regressor(estimator) else None
    if task is not None and task != model.task:
        raise TrainError(f"`model.estimator_function: {ref}` returned a {task} estimator "
                         f"(`{type(estimator).__name__}`), but `model.task` is {model.task}",
                         key="model.estimator_function")
    _check_transformer(model, transformer)
    return Pipeline([("preprocess", transformer or "passthrough"), ("model", estimator)])


def _check_transformer(model: ModelSpec, transformer: Any) -> None:
    """TrainError unless what `preprocessing_function` returned is None or a transformer."""
    if transformer is not None and (isinstance(transformer, type) or not (
            hasattr(transformer, "fit") and hasattr(transformer, "transform"))):
        raise TrainError(f"`model.preprocessing_function: {model.preprocessing_function}` returned "
                         f"{_returned(transformer)}, not a transformer with `fit` and `transform`",
                         key="model.preprocessing_function")


def _returned(value: Any) -> str:
    """What a factory returned, in words: `str`, or `the class Ridge` (it must return an instance)."""
    return f"the class `{value.__name__}` (call it: `{value.__name__}(...)`)" if isinstance(value, type) else \
        type(value).__name__


def build_pipeline(model: ModelSpec, root: Path) -> Pipeline:
    """An unfitted sklearn Pipeline: `preprocess` (ColumnTransformer, remainder passed through) then `model`.

    User factories (`estimator_function`, `preprocessing_function`) are looked up under the spec folder `root`.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if model.estimator_function is not None or model.preprocessing_function is not None:
        return _from_functions(model, root)

    transformers = [
        (f"{index}_{step.transformer.rsplit('.', 1)[-1].lower()}",
         _make(step.transformer, step.params, f"model.preprocessing.{index}.transformer"), list(step.columns))
        for index, step in enumerate(model.preprocessing)
    ]
    preprocess = ColumnTransformer(transformers, remainder="passthrough", verbose_feature_names_out=False)
    estimator = _make(model.estimator or "", model.params, "model.estimator")
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def unseeded(pipeline: Pipeline) -> list[str]:
    """The `random_state` params of `pipeline` (nested, as `get_params` names them) that are not set."""
    return [name for name, value in pipeline.get_params(deep=True).items()
            if name.rsplit("__", 1)[-1] == "random_state" and value is None]


def fit_pipeline(model: ModelSpec, X: pd.DataFrame, y: pd.Series, root: Path) -> Pipeline:
    """Build and fit the pipeline; what fitting raises, the step runner puts in words.

    With `model.reproducible`, a built pipeline with an unset `random_state` (e.g. from a user factory) is refused.
    """
    pipeline = build_pipeline(model, root)
    missing = unseeded(pipeline) if model.reproducible else []
    if missing:
        raise TrainError(f"`model.reproducible: true`, but `{missing[0]}` is not set: training would not repeat")
    return pipeline.fit(X, y)


def signature_of(X: pd.DataFrame) -> list[dict[str, Any]]:
    """The model's input signature: each feature column's name, dtype, and `nullable` when it held nulls."""
    # a column the pipeline was fitted with nulls in (e.g. before an imputer) must take null at serving time too
    nulls = X.isna().any()
    return [{"name": str(name), "dtype": str(dtype), **({"nullable": True} if nulls[name] else {})}
            for name, dtype in X.dtypes.items()]
