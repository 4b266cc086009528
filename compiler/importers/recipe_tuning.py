"""A recipe's `steps.train.tuning` (hyperopt) onto `model.tuning`, and `steps.predict` onto `scoring`."""

from __future__ import annotations

import math
from typing import Any

from .mlflow_recipe import Mapping, RecipePath, relative_to

__all__ = ["map_predict", "map_tuning"]

_EXACT = "hyperopt.rand.suggest"
_NUMBER = (int, float)


def _distribution(m: Mapping, path: RecipePath, spec: Any) -> dict[str, Any] | list[Any] | None:
    """mlform's form of one hyperopt parameter as recipes wrote it (`values`, or `distribution` and its bounds)."""
    if not isinstance(spec, dict):
        m.error(path, "expected `values: [...]` or `distribution` with its bounds")
        return None
    m.used.update((*path, str(k)) for k in spec)
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            m.error((*path, "values"), "expected a non-empty list of values")
            return None
        return list(values)
    kind = spec.get("distribution")
    bounds = {k: v for k, v in spec.items() if k != "distribution"}
    if kind == "randint" and set(bounds) == {"upper"}:
        bounds = {"low": 0, "high": bounds["upper"]}
    needed = {"quniform": {"low", "high", "q"}}.get(str(kind), {"low", "high"})
    if kind not in ("uniform", "loguniform", "randint", "quniform"):
        m.error((*path, "distribution"), f"distribution `{kind}` has no mlform equivalent (supported: `uniform`, "
                                         "`loguniform`, `randint`, `quniform`, or `values` for a choice)")
        return None
    if set(bounds) != needed or not all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in bounds.values()):
        m.error(path, f"`{kind}` needs numeric {', '.join(f'`{k}`' for k in sorted(needed))}")
        return None
    if kind == "loguniform":  # hyperopt's bounds are logarithms; mlform's are the values themselves
        return {"distribution": kind, "low": math.exp(bounds["low"]), "high": math.exp(bounds["high"])}
    return {"distribution": kind, **{k: bounds[k] for k in ("low", "high", "q") if k in bounds}}


def map_tuning(m: Mapping, at: RecipePath) -> None:
    """`tuning` onto `model.tuning`: random search; TPE and early stopping approximated, and said so."""
    tuning = m.value(*at)
    if not isinstance(tuning, dict):
        m.error(at, "expected a mapping")
        return
    m.used.update((*at, str(k)) for k in tuning)
    if not tuning.get("enabled"):
        m.skip(at, "tuning is disabled (`enabled: false`)")
        m.consume(*at)
        return
    algorithm = tuning.get("algorithm", _EXACT)
    trials = tuning.get("max_trials")
    parameters = tuning.get("parameters")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        m.error((*at, "max_trials"), "expected a positive number of trials")
    if not isinstance(parameters, dict) or not parameters:
        m.error((*at, "parameters"), "expected the parameters to search, each with `values` or a `distribution`")
        return
    params = {str(name): _distribution(m, (*at, "parameters", str(name)), spec) for name, spec in parameters.items()}
    if not isinstance(trials, int) or any(v is None for v in params.values()):
        return
    m.block(1, "tuning")
    m.line(2, "method", "random", (*at, "algorithm") if "algorithm" in tuning else at,
           note="scored by the primary metric, cross-validated on the training rows (MLflow: on the validation rows)")
    if algorithm != _EXACT:
        m.approximate((*at, "algorithm"), f"`{algorithm}` mapped to random search (`model.tuning.method: random`): "
                                          "mlform has no sequential model-based search; raise `trials` to compensate")
    m.line(2, "trials", trials, (*at, "max_trials"))
    m.line(2, "params", params, (*at, "parameters"), note="loguniform bounds as values (hyperopt's are logarithms)"
           if any(isinstance(v, dict) and v["distribution"] == "loguniform" for v in params.values()) else "")
    if "early_stop_fn" in tuning:
        m.approximate((*at, "early_stop_fn"), "mlform runs every trial; no early stop")
    if "parallelism" in tuning:
        m.skip((*at, "parallelism"), "trials run one after another in the `train` step")


def map_predict(m: Mapping) -> None:
    """`predict` onto `scoring`: the `ingest_scoring` rows, scored with the version at `staging`, to a file."""
    at: RecipePath = ("steps", "predict")
    if m.value("steps", "ingest_scoring") is None:
        m.error(at, "batch scoring needs `steps.ingest_scoring`, the data to score")
        m.consume(*at)
        return
    output = m.value(*at, "output")
    if not isinstance(output, dict):
        m.error((*at, "output"), "expected `output: {using: parquet, location: FILE}`")
        m.consume(*at)
        return
    m.used.update((*at, "output", str(k)) for k in output)
    using, location = output.get("using"), output.get("location")
    if using != "parquet":
        m.error((*at, "output", "using"), f"`using: {using}` is not supported (supported: `parquet`); Delta and "
                                          "Spark tables need Spark")
        return
    if not isinstance(location, str) or not location:
        m.error((*at, "output", "location"), "a `location` (the output file) is required")
        return
    path = location if location.startswith("/") else relative_to(m.out, m.recipe.root / location)
    m.block(0, "scoring")
    m.line(1, "source", "scoring", ("steps", "ingest_scoring"))
    m.line(1, "output", {"path": path, "format": "parquet"}, (*at, "output"))
    m.line(1, "model", "staging", note="the version `registry.promote_to` names")
