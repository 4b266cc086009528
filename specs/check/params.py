"""Estimator params checked against scikit-learn's own parameter constraints, worded for a spec's reader.

A param's rule comes from the live class (`live_rules`) or from the cached index (`sklearn_index`); both give
the same phrases, string options and answers, so a message reads the same whichever answered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlform.specs.read.source import YAML11_BOOLS

from .explain import describe, did_you_mean

__all__ = ["LiveRule", "Rule", "constraint_options", "constraint_phrases", "live_rules", "param_findings"]


class Rule(Protocol):
    """What a param's constraints allow: how they read, their string options, and whether a value passes."""

    @property
    def phrases(self) -> list[str]: ...

    @property
    def options(self) -> list[str]: ...

    def accepts(self, value: Any) -> bool: ...


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


def constraint_phrases(constraints: list[Any]) -> list[str]:
    """How a param's constraints read, in order (a message joins them, dropping repeats)."""
    return [phrase for c in constraints for phrase in _phrases(c)]


def constraint_options(constraints: list[Any]) -> list[str]:
    """The non-deprecated string options among a param's constraints, for "did you mean"."""
    from sklearn.utils._param_validation import StrOptions

    return [o for c in constraints if isinstance(c, StrOptions) for o in c.options if o not in c.deprecated]


@dataclass(frozen=True)
class LiveRule:
    """A param's rule read from scikit-learn's constraint objects."""

    constraints: list[Any]

    @property
    def phrases(self) -> list[str]:
        return constraint_phrases(self.constraints)

    @property
    def options(self) -> list[str]:
        return constraint_options(self.constraints)

    def accepts(self, value: Any) -> bool:
        return any(c.is_satisfied_by(value) for c in self.constraints)


def live_rules(cls: type) -> dict[str, Rule]:
    """The rule of each constrained param of `cls`; empty when it declares none (its `fit` decides)."""
    declared = getattr(cls, "_parameter_constraints", None)
    if not isinstance(declared, dict) or not declared:
        return {}
    try:
        from sklearn.utils._param_validation import make_constraint
    except ImportError:
        return {}
    return {name: LiveRule([make_constraint(rule) for rule in rules])
            for name, rules in declared.items() if isinstance(rules, list)}


def _either(phrases: list[str]) -> str:
    kept = list(dict.fromkeys(phrases))
    return kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])} or {kept[-1]}"


def _holds_secret(value: Any) -> bool:
    """Whether `value` contains a `{secret: NAME}`, whose value only the run knows."""
    if isinstance(value, dict):
        return set(value) == {"secret"} or any(_holds_secret(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secret(v) for v in value)


def param_findings(class_name: str, rules: Mapping[str, Rule], params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(param, message) for each value of `params` that its rule in `rules` rejects."""
    for name, value in params.items():
        rule = rules.get(name)
        if rule is None or _holds_secret(value):
            continue  # unconstrained ("no_validation"), or holding a secret resolved at run time
        if rule.accepts(value):
            continue
        expected = _either(rule.phrases)
        hint = did_you_mean(value, rule.options) if isinstance(value, str) else ""
        if isinstance(value, str) and value.lower() in YAML11_BOOLS and "`true` or `false`" in expected:
            hint = "; mlform reads YAML 1.2, where only `true` and `false` are booleans"
        yield name, f"`{name}` of `{class_name}` must be {expected}; got {describe(value)}{hint}"
