"""Estimator params checked against scikit-learn's own parameter constraints, worded for a spec's reader."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlform.specs.read.source import YAML11_BOOLS

from .explain import describe, did_you_mean

__all__ = ["param_findings"]


def _phrases(constraint: Any) -> list[str]:
    """How one constraint reads in a message, expanding the composite ones (booleans, random states, ...)."""
    from sklearn.utils._param_validation import Options, StrOptions, _InstancesOf, _NoneConstraint

    if getattr(constraint, "hidden", False):
        return []
    parts = getattr(constraint, "_constraints", None)
    if isinstance(parts, list):
        return [phrase for part in parts for phrase in _phrases(part)]
    if isinstance(constraint, StrOptions):
        kept = sorted(o for o in constraint.options if o not in constraint.deprecated)
        return ["one of " + ", ".join(f"`{o}`" for o in kept)]
    if isinstance(constraint, Options):
        return ["one of " + ", ".join(f"`{o}`" for o in sorted(constraint.options))]
    if isinstance(constraint, _NoneConstraint):
        return ["null"]
    if isinstance(constraint, _InstancesOf):
        plain = {"bool": "`true` or `false`", "dict": "a mapping", "list": "a list", "str": "a string",
                 "int": "an integer", "Integral": "an integer", "float": "a number", "Real": "a number"}
        return [plain.get(constraint.type.__name__, str(constraint))]
    return [str(constraint)]


def _either(phrases: list[str]) -> str:
    kept = list(dict.fromkeys(phrases))
    return kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])} or {kept[-1]}"


def _options(constraints: list[Any]) -> list[str]:
    from sklearn.utils._param_validation import StrOptions

    return [o for c in constraints if isinstance(c, StrOptions) for o in c.options if o not in c.deprecated]


def _holds_secret(value: Any) -> bool:
    """Whether `value` contains a `{secret: NAME}`, whose value only the run knows."""
    if isinstance(value, dict):
        return set(value) == {"secret"} or any(_holds_secret(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secret(v) for v in value)


def param_findings(cls: type, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(param, message) for each value of `params` that `cls`'s scikit-learn constraints reject."""
    declared = getattr(cls, "_parameter_constraints", None)
    if not isinstance(declared, dict) or not declared:
        return  # not a scikit-learn estimator, or one that declares nothing: its `fit` decides
    try:
        from sklearn.utils._param_validation import make_constraint
    except ImportError:
        return
    for name, value in params.items():
        rules = declared.get(name)
        if not isinstance(rules, list) or _holds_secret(value):
            continue  # unconstrained ("no_validation"), or holding a secret resolved at run time
        constraints = [make_constraint(rule) for rule in rules]
        if any(c.is_satisfied_by(value) for c in constraints):
            continue
        expected = _either([phrase for c in constraints for phrase in _phrases(c)])
        hint = did_you_mean(value, _options(constraints)) if isinstance(value, str) else ""
        if isinstance(value, str) and value.lower() in YAML11_BOOLS and "`true` or `false`" in expected:
            hint = "; mlform reads YAML 1.2, where only `true` and `false` are booleans"
        yield name, f"`{name}` of `{cls.__name__}` must be {expected}; got {describe(value)}{hint}"
