"""An index of scikit-learn's estimators, built once per installed version and cached, so validating a spec
need not import scikit-learn (and SciPy) to check its estimator and params.

The index lives in `$XDG_CACHE_HOME/mlform/` (else `~/.cache/mlform/`), one JSON file per scikit-learn version
and per version of the code that builds it, so environments with other versions of either keep their own; a
missing file, or one that does not read as a whole index, is rebuilt (importing scikit-learn once) and replaced
atomically, so concurrent writers each leave a whole file. The
first line names the format, the code that built it, the version and the SHA-256 of the rest, so a torn or
edited file, or one an mlform with other checks wrote, is rebuilt. The second line maps the public modules to
their names; each further line is an estimator's import path, a space and its entry as JSON, decoded when first
asked for: reading the index parses only the entries a spec names.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlform.specs.fsutil import user_cache_dir, write_atomic
from mlform.specs.graph.libraries import installed_version as _version

from .constraints import encode

__all__ = ["FORMAT", "build", "cache_file", "index", "installed_version", "load", "task_of"]

FORMAT = 3
# the modules whose code shapes the index: another mlform that changes any of them rebuilds it
_BUILDERS = ("sklearn_index.py", "constraints.py", "params.py")


@functools.cache
def _builder() -> str:
    """A digest of the code that builds and words the index."""
    digest = hashlib.sha256()
    for name in _BUILDERS:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_file(version: str) -> Path:
    """Where the index of scikit-learn `version` is cached: `$XDG_CACHE_HOME/mlform/`, else `~/.cache/mlform/`."""
    return user_cache_dir() / f"sklearn-index-{version}-{_builder()}.json"


def installed_version() -> str | None:
    """The installed scikit-learn's version, read from its metadata (no import); None when it is not installed."""
    return _version("scikit-learn")


def task_of(cls: type) -> str | None:
    """Classification or regression, from the estimator's mixins; None when it says neither."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    if issubclass(cls, ClassifierMixin):
        return "classification"
    if issubclass(cls, RegressorMixin):
        return "regression"
    return None


def _params(cls: type) -> dict[str, Any]:
    """Per constrained param: how its constraints read, its string options, and each constraint encoded."""
    from sklearn.utils._param_validation import make_constraint

    from .params import constraint_options, constraint_phrases

    declared = getattr(cls, "_parameter_constraints", None)
    if not isinstance(declared, dict):
        return {}
    found: dict[str, Any] = {}
    for name, rules in declared.items():
        if isinstance(rules, list):
            constraints = [make_constraint(rule) for rule in rules]
            try:
                found[name] = {"phrases": constraint_phrases(constraints),
                               "options": sorted(constraint_options(constraints)),
                               "constraints": [encode(c) for c in constraints]}
            except Exception:  # noqa: BLE001 - a constraint that cannot be worded ahead: the live class words it
                found[name] = None
    return found


def build(version: str) -> dict[str, Any]:
    """The index of the installed scikit-learn (imports all of it): its estimators and their public modules."""
    from sklearn.utils import all_estimators

    from .estimators import is_estimator

    classes: dict[str, Any] = {}
    modules: dict[str, list[str]] = {}
    for name, found in all_estimators():
        cls: type = found
        parts = cls.__module__.split(".")
        # the public module is the longest prefix without a private part, e.g. `sklearn.linear_model`
        public = ".".join(parts[: next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))])
        module = importlib.import_module(public)
        if getattr(module, name, None) is not cls or not is_estimator(cls):
            continue
        modules.setdefault(public, sorted(n for n in dir(module) if not n.startswith("_")))
        getter = getattr(cls, "_get_param_names", None)
        classes[f"{public}.{name}"] = {
            "name": cls.__name__, "transform": hasattr(cls, "transform"), "predict": hasattr(cls, "predict"),
            "task": task_of(cls), "param_names": list(getter()) if callable(getter) else [],
            "params": _params(cls) if isinstance(getattr(cls, "_parameter_constraints", None), dict) else None}
    return {"classes": classes, "modules": modules}


def _header(version: str, body: bytes) -> dict[str, Any]:
    return {"format": FORMAT, "builder": _builder(), "sklearn": version, "sha256": hashlib.sha256(body).hexdigest()}


class _Entries(Mapping[str, Any]):
    """The estimators of a cached index by import path, each decoded from its JSON text on first use."""

    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts
        self._decoded: dict[str, Any] = {}

    def __getitem__(self, path: str) -> Any:
        if path not in self._decoded:
            self._decoded[path] = json.loads(self._texts[path])
        return self._decoded[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def _read(path: Path, version: str) -> dict[str, Any] | None:
    """The index cached at `path` if it is whole (its digest matches) and was built from `version`, else None."""
    try:
        head, _, body = path.read_bytes().partition(b"\n")
        header = json.loads(head)
        if header != _header(version, body):
            return None
        modules, *rows = body.decode().split("\n")
        data = {"modules": json.loads(modules), "classes": _Entries(dict(row.split(" ", 1) for row in rows))}
    except (OSError, ValueError):
        return None
    return data if isinstance(data["modules"], dict) else None


def load(path: Path, version: str) -> dict[str, Any]:
    """The index cached at `path` when it was built from `version`, else a new one, cached when possible."""
    data = _read(path, version)
    if data is not None:
        return data
    data = build(version)
    rows = [f"{path} {json.dumps(entry, separators=(',', ':'))}" for path, entry in data["classes"].items()]
    body = "\n".join([json.dumps(data["modules"], separators=(",", ":")), *rows]).encode()
    with contextlib.suppress(OSError):  # a read-only cache folder: use the index without caching it
        write_atomic(path, json.dumps(_header(version, body)).encode() + b"\n" + body, fsync=False)
    return data


@functools.cache
def index() -> dict[str, Any] | None:
    """The index of the installed scikit-learn, loaded once per process; None without scikit-learn or an index."""
    version = installed_version()
    if version is None:
        return None
    try:
        return load(cache_file(version), version)
    except Exception:  # noqa: BLE001 - an index that cannot be built: every check imports what it names, as before
        return None
