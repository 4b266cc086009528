"""Estimators named by import path: importing them, what they can do, and their constructor params."""

from __future__ import annotations

import functools
import gc
import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from mlform.specs.model.metrics import Task
from mlform.specs.read.source import KeyPath

from .explain import did_you_mean
from .finding import Finding
from .params import param_findings

__all__ = ["check_class", "estimator_class", "estimator_task", "import_object", "is_estimator", "sklearn_path"]

Role = Literal["estimator", "transformer"]


def import_object(path: str) -> Any:
    """Import `package.module.Name`; raise ImportError with a readable reason."""
    module_name, _, attr = path.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = _sklearn_hint(attr)
            msg = f"cannot import module `{module_name}` ({exc.msg}){hint}"
            raise ImportError(msg) from None
        # an estimator's package (scikit-learn brings scipy and pandas) adds some 10^5 objects that live as long
        # as the process: freezing them spares every later full garbage collection a pass over all of them
        gc.freeze()
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        msg = f"module `{module_name}` has no `{attr}`{did_you_mean(attr, names) or _sklearn_hint(attr)}"
        raise ImportError(msg) from None


@functools.cache
def _sklearn_paths() -> dict[str, list[str]]:
    """Casefolded class name -> the public import paths of scikit-learn estimators of that name."""
    from sklearn.utils import all_estimators

    found: dict[str, list[str]] = {}
    for name, cls in all_estimators():
        parts = cls.__module__.split(".")
        # the public module is the longest prefix without a private part, e.g. `sklearn.linear_model`
        public = ".".join(parts[: next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))])
        if getattr(importlib.import_module(public), name, None) is cls:
            found.setdefault(name.casefold(), []).append(f"{public}.{name}")
    return found


def sklearn_path(class_name: str) -> str | None:
    """The full import path of the one scikit-learn estimator called `class_name` (any case), else None."""
    try:
        paths = _sklearn_paths().get(class_name.casefold(), [])
    except ImportError:
        return None
    return paths[0] if len(paths) == 1 else None


def _sklearn_hint(class_name: str) -> str:
    path = sklearn_path(class_name)
    return f"; did you mean `{path}`?" if path else ""


def estimator_task(cls: type) -> Task | None:
    """Classification or regression, from the estimator's mixins; None when it says neither."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    if issubclass(cls, ClassifierMixin):
        return "classification"
    if issubclass(cls, RegressorMixin):
        return "regression"
    return None


def is_estimator(obj: Any) -> bool:
    """Whether `obj` is a class with scikit-learn's estimator interface (`fit` and `get_params`)."""
    return isinstance(obj, type) and hasattr(obj, "fit") and hasattr(obj, "get_params")


def estimator_class(import_path: str) -> type | None:
    """The estimator class at `import_path`, or None when it does not import or is not an estimator."""
    try:
        cls = import_object(import_path)
    except ImportError:
        return None
    return cls if is_estimator(cls) else None


@functools.lru_cache(maxsize=256)
def _param_names(cls: type) -> list[str]:
    getter = getattr(cls, "_get_param_names", None)
    return list(getter()) if callable(getter) else []


def check_class(path: KeyPath, import_path: str, params: Mapping[str, Any], role: Role) -> Iterator[Finding]:
    """Findings on the class at `path` playing `role`, and on its `params` (a sibling key of `path`)."""
    try:
        cls = import_object(import_path)
    except ImportError as exc:
        yield Finding(path, str(exc))
        return
    if not is_estimator(cls):
        yield Finding(path, f"`{import_path}` is not a scikit-learn estimator (no `fit` and `get_params`)")
        return
    if role == "transformer" and not hasattr(cls, "transform"):
        yield Finding(path, f"`{import_path}` is not a transformer (no `transform`)")
    if role == "estimator" and not hasattr(cls, "predict"):
        yield Finding(path, f"`{import_path}` cannot be the estimator: it has no `predict`"
                            f"{'; list it under `model.preprocessing`' if hasattr(cls, 'transform') else ''}")
    known = _param_names(cls)
    short = import_path.rsplit(".", 1)[-1]
    params_path = (*path[:-1], "params")
    for name in params:
        if name not in known:
            yield Finding((*params_path, name),
                          f"`{short}` has no parameter `{name}`{did_you_mean(name, known)}", on_key=True)
    for name, message in param_findings(cls, {n: v for n, v in params.items() if n in known}):
        yield Finding((*params_path, name), message)
