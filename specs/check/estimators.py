"""Estimators named by import path: importing them, what they can do, and their constructor params.

What a check needs of an estimator is an `EstimatorInfo`. For scikit-learn's own estimators it comes from the
cached index (`sklearn_index`), so validating a spec imports no scikit-learn; any other class (a user's own, a
third party's) is imported, and so is scikit-learn when the index cannot answer for a value.
"""

from __future__ import annotations

import functools
import gc
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlform.specs.model.metrics import Task
from mlform.specs.read.source import KeyPath

from .constraints import satisfied
from .explain import did_you_mean
from .finding import Finding
from .params import Rule, live_rules, param_findings

__all__ = ["EstimatorInfo", "check_class", "estimator_class", "estimator_info", "estimator_task", "import_object",
           "indexed_info", "is_estimator", "live_info", "sklearn_path"]

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


def _index() -> dict[str, Any] | None:
    from .sklearn_index import index

    return index()


@functools.cache
def _sklearn_paths() -> dict[str, list[str]]:
    """Casefolded class name -> the public import paths of scikit-learn estimators of that name."""
    data = _index()
    found: dict[str, list[str]] = {}
    if data is None:
        return _live_sklearn_paths()
    for path, entry in data["classes"].items():
        found.setdefault(entry["name"].casefold(), []).append(path)
    return found


def _live_sklearn_paths() -> dict[str, list[str]]:
    """`_sklearn_paths` from scikit-learn itself (raises ImportError when it is not installed)."""
    from sklearn.utils import all_estimators

    found: dict[str, list[str]] = {}
    for name, cls in all_estimators():
        parts = cls.__module__.split(".")
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
    from .sklearn_index import task_of

    task = task_of(cls)
    return "classification" if task == "classification" else "regression" if task == "regression" else None


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


@dataclass(frozen=True)
class EstimatorInfo:
    """What checks need of an estimator class: its name, abilities, task, params and their rules."""

    name: str
    has_transform: bool
    has_predict: bool
    task: Task | None
    param_names: list[str]
    rules: Mapping[str, Rule]


@dataclass(frozen=True)
class IndexedRule:
    """A param's rule from the index; asks the live class only for a value its encoded constraints cannot judge."""

    phrases: list[str]
    options: list[str]
    constraints: list[Any]
    live: Callable[[], Rule]

    def accepts(self, value: Any) -> bool:
        answers = [satisfied(c, value) for c in self.constraints]
        if True in answers:
            return True
        return self.live().accepts(value) if None in answers else False


@dataclass(frozen=True)
class _LazyLiveRule:
    """A param's rule the index could not hold: the live class answers everything, imported on first use."""

    live: Callable[[], Rule]

    @property
    def phrases(self) -> list[str]:
        return self.live().phrases

    @property
    def options(self) -> list[str]:
        return self.live().options

    def accepts(self, value: Any) -> bool:
        return self.live().accepts(value)


def _live_rule(import_path: str, name: str) -> Callable[[], Rule]:
    def rule() -> Rule:
        info = live_info(import_path)
        return info.rules[name]  # type: ignore[union-attr]

    return rule


def indexed_info(import_path: str) -> EstimatorInfo | str | None:
    """The info on `import_path` from the index, a message when the index knows it cannot import, else None."""
    try:
        data = _index()
    except ImportError:
        return None  # scikit-learn is installed but does not import: the live path says why
    if data is None:
        return None
    entry = data["classes"].get(import_path)
    if entry is not None:
        params = entry["params"] or {}
        rules: dict[str, Rule] = {
            name: IndexedRule(rule["phrases"], rule["options"], rule["constraints"], _live_rule(import_path, name))
            if rule is not None else _LazyLiveRule(_live_rule(import_path, name)) for name, rule in params.items()}
        return EstimatorInfo(entry["name"], entry["transform"], entry["predict"], entry["task"],
                             entry["param_names"], rules)
    module, _, attr = import_path.rpartition(".")
    names = data["modules"].get(module)
    if names is not None and attr not in names and not attr.startswith("_"):
        return f"module `{module}` has no `{attr}`{did_you_mean(attr, names) or _sklearn_hint(attr)}"
    return None


@functools.lru_cache(maxsize=256)
def live_info(import_path: str) -> EstimatorInfo | str:
    """The info on the class at `import_path`, importing it; a message when it does not import or is no estimator."""
    try:
        cls = import_object(import_path)
    except ImportError as exc:
        return str(exc)
    if not is_estimator(cls):
        return f"`{import_path}` is not a scikit-learn estimator (no `fit` and `get_params`)"
    getter = getattr(cls, "_get_param_names", None)
    return EstimatorInfo(cls.__name__, hasattr(cls, "transform"), hasattr(cls, "predict"), estimator_task(cls),
                         list(getter()) if callable(getter) else [], live_rules(cls))


@functools.lru_cache(maxsize=256)
def estimator_info(import_path: str) -> EstimatorInfo | str:
    """The info on the estimator at `import_path`, from the index when it has it; a message when there is none."""
    found = indexed_info(import_path)
    return live_info(import_path) if found is None else found


def check_class(path: KeyPath, import_path: str, params: Mapping[str, Any], role: Role) -> Iterator[Finding]:
    """Findings on the class at `path` playing `role`, and on its `params` (a sibling key of `path`)."""
    info = estimator_info(import_path)
    if isinstance(info, str):
        yield Finding(path, info)
        return
    if role == "transformer" and not info.has_transform:
        yield Finding(path, f"`{import_path}` is not a transformer (no `transform`)")
    if role == "estimator" and not info.has_predict:
        yield Finding(path, f"`{import_path}` cannot be the estimator: it has no `predict`"
                            f"{'; list it under `model.preprocessing`' if info.has_transform else ''}")
    known = info.param_names
    short = import_path.rsplit(".", 1)[-1]
    params_path = (*path[:-1], "params")
    for name in params:
        if name not in known:
            yield Finding((*params_path, name),
                          f"`{short}` has no parameter `{name}`{did_you_mean(name, known)}", on_key=True)
    for name, message in param_findings(info.name, info.rules, {n: v for n, v in params.items() if n in known}):
        yield Finding((*params_path, name), message)
