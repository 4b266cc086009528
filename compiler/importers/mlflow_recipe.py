"""Map a rendered MLflow Recipe (regression/v1, classification/v1) onto an mlform spec, key by key.

Every recipe key is either mapped (the spec line says which key it came from), skipped with a reason (it has
no effect in mlform, e.g. MLflow's tracking URI), or an error (mlform cannot do what it asks: the import then
writes nothing).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.specs.errors import Diagnostic
from mlform.specs.model.metrics import METRICS

from .recipe_glue import GLUE_MODULE, Glue
from .recipe_render import Origin, RenderedRecipe

RecipePath = tuple[str, ...]
"""A key path in the recipe's configuration."""

__all__ = ["DEFAULT_PRIMARY", "METRIC_NAMES", "Mapping", "RecipePath", "data_columns", "map_recipe", "metric_name",
           "recipe_source",
           "relative_to", "step_function"]

# MLflow Recipes' built-in metric names -> mlform's
METRIC_NAMES = {
    "mean_absolute_error": "mae", "mean_squared_error": "mse", "root_mean_squared_error": "rmse",
    "mean_absolute_percentage_error": "mape", "r2_score": "r2", "accuracy_score": "accuracy",
    "precision_score": "precision", "recall_score": "recall", "f1_score": "f1", "f1_score_macro": "f1_macro",
    "f1_score_micro": "f1_micro", "roc_auc": "roc_auc", "log_loss": "log_loss",
}
DEFAULT_PRIMARY = {"regression": "root_mean_squared_error", "classification": "f1_score"}
_STEP_MODULES = {"ingest": "steps.ingest", "split": "steps.split", "transform": "steps.transform",
                 "train": "steps.train", "custom_metrics": "steps.custom_metrics"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys with no effect in mlform, and why
_SKIPPED = {
    ("experiment",): "runs are tracked in mlform's own store (or set `tracking: {backend: mlflow, ...}`)",
    ("model_registry", "uri"): "versions go to mlform's registry (`registry.path`)",
    ("model_registry", "registry_uri"): "versions go to mlform's registry (`registry.path`)",
    ("steps", "predict", "model_uri"): "batch scoring uses the version `registry.promote_to` names (`staging`)",
    ("steps", "predict", "result_type"): "predictions keep the model's type",
    ("steps", "predict", "save_mode"): "the output file is replaced (atomically)",
    ("steps", "train", "skip_data_profiling"): "mlform makes no data profiles",
    ("steps", "train", "predict_prefix"): "`mlform predict` writes a `prediction` column",
    ("steps", "train", "predict_scores_for_all_classes"): "`/predict` returns probabilities on request",
    ("steps", "train", "rebalance_training_data"): "mlform trains on the rows as split; use `class_weight` params",
    ("steps", "evaluate", "skip_data_profiling"): "mlform makes no data profiles",
    ("steps", "split", "skip_data_profiling"): "mlform makes no data profiles",
    ("steps", "ingest", "skip_data_profiling"): "mlform makes no data profiles",
    ("steps", "transform", "skip_data_profiling"): "mlform makes no data profiles",
    ("steps", "transform", "using"): "",
    ("steps", "register", "allow_non_validated_model"): "",
}


@dataclass
class Mapping:
    """The outcome of mapping one recipe: spec lines, glue, and what happened to each key."""

    recipe: RenderedRecipe
    out: Path
    lines: list[str] = field(default_factory=list)
    glue: Glue = field(default_factory=lambda: Glue("regression"))
    mapped: list[tuple[Origin, str, str]] = field(default_factory=list)
    skipped: list[tuple[Origin, str, str]] = field(default_factory=list)
    approximated: list[tuple[Origin, str, str]] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    used: set[RecipePath] = field(default_factory=set)
    parents: list[str] = field(default_factory=list)

    def value(self, *path: str) -> Any:
        """The config value at `path` (marked as used), or None."""
        node: Any = self.recipe.config
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        self.used.add(path)
        return node

    def block(self, indent: int, key: str) -> None:
        """A spec line opening the mapping `key`, at nesting depth `indent`."""
        del self.parents[indent:]
        self.parents.append(key)
        self.lines.append(f"{'  ' * indent}{key}:")

    def line(self, indent: int, key: str, value: Any, *sources: RecipePath, note: str = "") -> None:
        """A spec line `key: value` with a comment naming the recipe keys it came from."""
        origins = [f"{self.recipe.origin(p)} `{'.'.join(p)}`" for p in sources]
        comment = "; ".join([*origins, *([note] if note else [])])
        text = f"{'  ' * indent}{key}: {json.dumps(value)}"
        self.lines.append(f"{text}  # {comment}" if comment else text)
        target = ".".join([*self.parents[:indent], key])
        for source in sources:
            self.mapped.append((self.recipe.origin(source), ".".join(source), target))

    def consume(self, *path: str) -> None:
        """Mark every key under `path` as handled (its section failed, and said so once)."""
        node = self.value(*path)
        if isinstance(node, dict):
            for key in node:
                self.consume(*path, str(key))

    def error(self, path: RecipePath, message: str) -> None:
        """The recipe key at `path` cannot be imported."""
        origin = self.recipe.origin(path)
        self.errors.append(Diagnostic(origin.file, origin.line, origin.col, ".".join(path), message))

    def approximate(self, path: RecipePath, how: str) -> None:
        """The key at `path` is mapped onto something close to, not the same as, what it asks for."""
        self.approximated.append((self.recipe.origin(path), ".".join(path), how))

    def skip(self, path: RecipePath, reason: str) -> None:
        """The key at `path` has no effect in mlform."""
        self.used.add(path)
        self.skipped.append((self.recipe.origin(path), ".".join(path), reason))


def step_function(m: Mapping, path: RecipePath, step: str) -> str | None:
    """The mlform reference of a recipe function name (`estimator_fn`, or dotted `steps.train.estimator_fn`)."""
    name = m.value(*path)
    if not isinstance(name, str) or not name:
        m.error(path, "expected the name of a function")
        return None
    module, _, function = name.rpartition(".")
    module = module or _STEP_MODULES[step]
    if not _NAME.match(function) or not all(_NAME.match(part) for part in module.split(".")):
        m.error(path, f"`{name}` is not a function name")
        return None
    return f"{module}:{function}"


def _data_files(m: Mapping, location: str) -> str:
    """`location` as a path relative to the spec folder (MLflow read it relative to the recipe root)."""
    if os.path.isabs(location):
        return location
    return relative_to(m.out, m.recipe.root / location) + ("/" if location.endswith("/") else "")


def recipe_source(m: Mapping, step: str, name: str) -> dict[str, Any] | None:
    """The mlform source of `steps.<step>` (`ingest` or `ingest_scoring`)."""
    using = m.value("steps", step, "using")
    location = m.value("steps", step, "location")
    at: RecipePath = ("steps", step)
    if isinstance(location, list):
        if len(location) != 1:
            m.error((*at, "location"), "several locations are not supported; use a folder or a glob")
            return None
        location = location[0]
    loader = m.value(*at, "loader_method") is not None
    if not isinstance(using, str) or (not loader and using not in ("csv", "parquet")):
        m.error((*at, "using"), f"`using: {using}` is not supported (supported: `csv`, `parquet`, or any format "
                                "with a `loader_method`); Spark SQL and Delta tables need a `loader_method`")
        return None
    if not isinstance(location, str) or not location:
        m.error((*at, "location"), "a `location` (a file, a glob or a folder) is required")
        return None
    path = _data_files(m, location)
    if loader:
        # MLflow called the loader once per file with the format named by `using` (`custom` included)
        ref = step_function(m, (*at, "loader_method"), "ingest")
        if ref is None:
            return None
        return {"type": "python", "function": ref, "path": path, "format": using}
    if "*" not in path and not (m.out / path).is_dir():
        return {"type": using, "path": path}
    m.glue.reader = True
    return {"type": "python", "function": f"{GLUE_MODULE}:read_file", "path": path, "format": using}


def data_columns(m: Mapping, source: dict[str, Any]) -> list[str] | None:
    """The columns of the training data, read from its first file (a custom loader is called on it)."""
    from mlform.specs.check.usercode import location_files

    files = [Path(os.path.normpath(f)) for f in location_files(m.out, source["path"])]
    files = [f for f in files if f.is_file()]
    if not files:
        m.error(("steps", "ingest", "location"), f"no data file at `{source['path']}`: the features are the "
                                                 "columns of the training data, so it must exist")
        return None
    if source["type"] == "csv":
        import pandas as pd

        return [str(c) for c in pd.read_csv(files[0], nrows=0).columns]
    if source["type"] == "parquet":
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(files[0]).names]
    from mlform.runtime.steps.ingest import read_source
    from mlform.specs.errors import MlformError
    from mlform.specs.model.data import PythonSource

    root = m.recipe.root.resolve()  # the loader runs in the recipe's folder: a relative root would not resolve
    first = PythonSource.model_validate({**source, "path": os.path.relpath(files[0].resolve(), root)})
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # importing the loader must not leave `__pycache__` in the recipe's folder
    try:  # the recipe's own steps/ (the copy in `out` is written only on success)
        frame = read_source("train", first, None, root)  # type: ignore[arg-type]
    except MlformError as exc:
        key = "loader_method" if source["function"].startswith("steps.") else "location"
        m.error(("steps", "ingest", key), str(exc).replace("data.sources.train.function: ", ""))
        return None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return [str(c) for c in frame.columns]


def map_recipe(recipe: RenderedRecipe, name: str, out: Path) -> Mapping:
    """Map `recipe` onto the lines of a spec named `name` in folder `out`; errors and skipped keys included."""
    from .recipe_sections import map_sections

    m = Mapping(recipe, out)
    map_sections(m, name)
    _unused(m, recipe.config, ())
    return m


def _unused(m: Mapping, node: Any, path: RecipePath) -> None:
    """Every key neither mapped nor skipped is an error: mlform would silently drop what it asks for."""
    if path in m.used or (len(path) == 1 and path[0] in m.recipe.variables):
        return
    if any(path[: len(skip)] == skip for skip in _SKIPPED):
        skip = next(s for s in _SKIPPED if path[: len(s)] == s)
        if _SKIPPED[skip] and skip not in m.used:
            m.skip(skip, _SKIPPED[skip])
        return
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _unused(m, value, (*path, str(key)))
    elif path and not any(u[: len(path)] == path for u in m.used):
        m.error(path, f"`{'.'.join(path)}` is not supported by `mlform import`")


def metric_name(m: Mapping, path: RecipePath, name: Any, custom: dict[str, bool]) -> str | None:
    """The mlform name of a recipe metric; an error for one mlform does not compute."""
    if isinstance(name, str) and name in custom:
        return name
    mapped = METRIC_NAMES.get(name) if isinstance(name, str) else None
    if mapped is None or mapped not in METRICS:
        known = ", ".join(f"`{k}`" for k in METRIC_NAMES)
        m.error(path, f"metric `{name}` has no mlform equivalent (mapped: {known}); declare it under "
                      "`custom_metrics` with a function")
        return None
    return mapped


def relative_to(root: Path, target: Path) -> str:
    """`target` relative to `root`, with forward slashes."""
    return os.path.relpath(target, root).replace(os.sep, "/")
