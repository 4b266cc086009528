"""The recipe's sections, one function each, in the order the spec is written."""

from __future__ import annotations

import re
from typing import Any

from .mlflow_recipe import DEFAULT_PRIMARY, Mapping, data_columns, metric_name, recipe_source, step_function
from .recipe_glue import GLUE_MODULE, Glue

__all__ = ["map_sections"]

_TASKS = {"regression/v1": "regression", "classification/v1": "classification"}


def _task(m: Mapping) -> str | None:
    key = "recipe" if "recipe" in m.recipe.config else "template"
    kind = m.value(key)
    task = _TASKS.get(kind) if isinstance(kind, str) else None
    if task is None:
        m.error((key,), f"`{key}: {kind}` is not supported (supported: `regression/v1`, `classification/v1`)")
    return task


def _custom_metrics(m: Mapping) -> dict[str, tuple[str, bool, tuple[str, ...]]]:
    """name -> (function, greater_is_better, key path) of the recipe's custom metrics, in either spelling."""
    found: dict[str, tuple[str, bool, tuple[str, ...]]] = {}
    for base in (("custom_metrics",), ("metrics", "custom")):
        entries = m.value(*base) or []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            path = (*base, str(index))
            m.used.update((*path, k) for k in ("name", "function", "greater_is_better"))
            if not isinstance(entry, dict) or {"name", "function", "greater_is_better"} - set(entry):
                m.error(path, "a custom metric needs `name`, `function` and `greater_is_better`")
                continue
            found[str(entry["name"])] = (str(entry["function"]), bool(entry["greater_is_better"]), path)
    return found


def _data(m: Mapping, task: str) -> None:
    source = recipe_source(m, "ingest", "train")
    scoring = recipe_source(m, "ingest_scoring", "scoring") if m.value("steps", "ingest_scoring") else None
    target = m.value("target_col")
    if not isinstance(target, str) or not target:
        m.error(("target_col",), "`target_col` must name the target column")
    columns = data_columns(m, source) if source else None
    if target not in (columns or [target]):
        m.error(("target_col",), f"column `{target}` is not in the training data (columns: {', '.join(columns or [])})")
    if source is None or columns is None or not isinstance(target, str) or target not in columns:
        m.consume("steps", "split")
        return
    m.block(0, "data")
    m.block(1, "sources")
    m.line(2, "train", source, ("steps", "ingest"))
    if scoring:
        m.line(2, "scoring", scoring, ("steps", "ingest_scoring"))
        m.line(1, "train_source", "train")
    m.line(1, "target", target, ("target_col",))
    m.line(1, "features", [c for c in columns if c != target], note="the columns of the training data but the target")
    ratios = m.value("steps", "split", "split_ratios") or [0.75, 0.125, 0.125]
    if not (isinstance(ratios, list) and len(ratios) == 3 and all(isinstance(r, (int, float)) and r > 0
                                                                 for r in ratios)):
        m.error(("steps", "split", "split_ratios"), "expected three positive ratios: train, validation, test")
        return
    test = round(ratios[2] / sum(ratios), 6)
    m.block(1, "split")
    m.line(2, "method", "stratified" if task == "classification" else "random",
           note="MLflow split rows by a hash of their content; mlform by a seeded shuffle")
    m.line(2, "test_size", test, ("steps", "split", "split_ratios"),
           note="the validation share trains with the training rows")
    m.line(2, "seed", 42)
    if m.value("steps", "split", "post_split_filter_method"):
        ref = step_function(m, ("steps", "split", "post_split_filter_method"), "split")
        if ref:
            m.line(2, "filter", ref, ("steps", "split", "post_split_filter_method"))


def _model(m: Mapping, task: str) -> None:
    train = ("steps", "train")
    using = m.value(*train, "using") or "custom"
    if using not in ("custom", "estimator_spec"):
        m.error((*train, "using"), f"`using: {using}` is not supported (supported: `custom`, `estimator_spec`): "
                                   "mlform trains the estimator `estimator_method` returns")
        m.consume(*train)
        m.consume("steps", "transform")
        return
    ref = step_function(m, (*train, "estimator_method"), "train")
    if ref is None:
        return
    module, _, name = ref.partition(":")
    m.glue.estimator = (module, name)
    m.block(0, "model")
    m.line(1, "estimator_function", f"{GLUE_MODULE}:estimator", (*train, "estimator_method"),
           note=f"calls `{module}.{name}` as MLflow did")
    params = m.value(*train, "estimator_params") or {}
    if params:
        m.line(1, "params", params, (*train, "estimator_params"))
    m.line(1, "task", task, ("recipe",) if "recipe" in m.recipe.config else ("template",))
    if m.value(*train, "tuning") is not None:
        from .recipe_tuning import map_tuning

        map_tuning(m, (*train, "tuning"))
    if m.value("steps", "transform", "transformer_method"):
        transformer = step_function(m, ("steps", "transform", "transformer_method"), "transform")
        if transformer:
            m.line(1, "preprocessing_function", transformer, ("steps", "transform", "transformer_method"))
    for key in ("calibrate_proba",):
        if m.value(*train, key) is not None:
            m.skip((*train, key), "mlform does not calibrate probabilities; wrap the estimator in "
                                  "`sklearn.calibration.CalibratedClassifierCV` in `estimator_method`")


def _evaluation(m: Mapping, task: str) -> None:
    custom = _custom_metrics(m)
    greater = {name: better for name, (_, better, _) in custom.items()}
    primary_key = m.value("primary_metric") or DEFAULT_PRIMARY[task]
    primary = metric_name(m, ("primary_metric",), primary_key, greater)
    criteria = m.value("steps", "evaluate", "validation_criteria") or []
    gates: dict[str, dict[str, Any]] = {}
    for index, criterion in enumerate(criteria if isinstance(criteria, list) else []):
        path = ("steps", "evaluate", "validation_criteria", str(index))
        m.used.update({(*path, "metric"), (*path, "threshold")})
        if not isinstance(criterion, dict) or not isinstance(criterion.get("threshold"), (int, float)):
            m.error(path, "a validation criterion needs `metric` and a numeric `threshold`")
            continue
        name = metric_name(m, (*path, "metric"), criterion.get("metric"), greater)
        if name:
            from mlform.specs.model.metrics import METRICS

            better = greater[name] if name in greater else METRICS[name].greater_is_better
            gates[name] = {"min" if better else "max": criterion["threshold"]}
    metrics = list(dict.fromkeys([*([primary] if primary else []), *gates, *custom]))
    m.block(0, "evaluation")
    m.line(1, "metrics", metrics, ("primary_metric",) if "primary_metric" in m.recipe.config else ())
    if task == "classification" and m.value("positive_class") is not None:
        m.line(1, "positive_class", m.value("positive_class"), ("positive_class",))
    if gates:
        m.line(1, "gates", gates, ("steps", "evaluate", "validation_criteria"))
    if custom:
        m.block(1, "custom_metrics")
        for name, (function, better, where) in custom.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", function.rpartition(".")[2]):
                m.error((*where, "function"), f"`{function}` is not a function name")
                continue
            ref = m.glue.metric(name, function.rpartition(".")[2])
            m.lines.append(f"    - name: {json_text(name)}  # {m.recipe.origin(where)} `{'.'.join(where)}`")
            m.lines.append(f"      function: {json_text(ref)}  # calls `steps.custom_metrics."
                           f"{function.rpartition('.')[2]}(eval_df, builtin_metrics)`")
            m.lines.append(f"      greater_is_better: {json_text(better)}")
            m.mapped.append((m.recipe.origin(where), ".".join(where), "evaluation.custom_metrics"))


def json_text(value: Any) -> str:
    """A YAML (JSON) literal of `value`."""
    import json

    return json.dumps(value)


def _registry(m: Mapping, name: str) -> None:
    model = m.value("model_registry", "model_name") or m.value("steps", "register", "model_name") or name
    registered = re.sub(r"[^a-z0-9-]+", "-", str(model).lower()).strip("-")[:63] or name
    path = ("model_registry", "model_name") if m.value("model_registry", "model_name") else \
        ("steps", "register", "model_name")
    m.block(0, "registry")
    note = f"`{model}` as a DNS-1123 name" if registered != model else ""
    m.line(1, "model_name", registered, *((path,) if m.value(*path) else ()), note=note)
    m.line(1, "promote_to", "staging", note="a version that passes every gate gets this alias")
    allow = m.value("steps", "register", "allow_non_validated_model")
    if allow is not None:
        m.skip(("steps", "register", "allow_non_validated_model"),
               "mlform registers every version and promotes only those that pass their gates")
    if m.value("steps", "predict") is not None:
        from .recipe_tuning import map_predict

        map_predict(m)


def map_sections(m: Mapping, name: str) -> None:
    """Write the spec's lines for every section of the recipe."""
    task = _task(m)
    if task is None:
        return
    m.glue = Glue(task, m.value("positive_class") if task == "classification" else None)
    m.line(0, "apiVersion", "mlform/v1")
    m.line(0, "kind", "Pipeline")
    m.block(0, "metadata")
    m.line(1, "name", name)
    m.line(1, "description", f"Imported from an MLflow Recipe ({task}).")
    _data(m, task)
    _model(m, task)
    _evaluation(m, task)
    _registry(m, name)
