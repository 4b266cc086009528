"""scikit-learn's parameter constraints as plain data, and checking YAML values against that data.

`encode` turns one constraint (after `make_constraint`) into JSON-ready data while scikit-learn is loaded;
`satisfied` answers `constraint.is_satisfied_by(value)` from that data alone, for the values a spec can hold
(null, booleans, integers, floats, strings, lists, mappings). A constraint of a kind it does not know encodes as
None, and a value of another type answers None: the caller then asks scikit-learn itself.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["UNKNOWN", "YAML_TYPES", "encode", "satisfied"]

# the Python types of values read from YAML, by the name the encoded data uses for each
YAML_TYPES: dict[str, type] = {"null": type(None), "bool": bool, "int": int, "float": float, "str": str,
                               "list": list, "dict": dict}
_NAMES = {kind: name for name, kind in YAML_TYPES.items()}
_SAMPLES: dict[str, Any] = {"null": None, "bool": True, "int": 1, "float": 1.5, "str": "x", "list": [], "dict": {}}
# constraints whose answer depends only on the value's type: probed once per type while scikit-learn is loaded
_BY_TYPE = {"_InstancesOf", "_NoneConstraint", "_ArrayLikes", "_SparseMatrices", "_Callables", "HasMethods",
            "_IterablesNotString", "_PandasNAConstraint"}
# constraints satisfied when any of their `_constraints` is
_ANY_OF = {"_RandomStates", "_Booleans", "_VerboseHelper", "MissingValues", "_CVObjects"}
UNKNOWN = None


def _accepted_types(check: Any) -> list[str]:
    return [name for name, sample in _SAMPLES.items() if check(sample)]


def _plain(value: Any) -> Any:
    """`value` if JSON keeps it exactly (bool, int, float, str, None), else raise ValueError."""
    if value is None or type(value) in (bool, int, str) or (type(value) is float and math.isfinite(value)):
        return value
    msg = f"not plain data: {value!r}"
    raise ValueError(msg)


def encode(constraint: Any) -> Any:
    """JSON-ready data answering `constraint.is_satisfied_by` for YAML values; UNKNOWN for another kind."""
    kind = type(constraint).__name__
    try:
        if kind in _ANY_OF and isinstance(getattr(constraint, "_constraints", None), list):
            parts = [encode(part) for part in constraint._constraints]
            return UNKNOWN if any(part is UNKNOWN for part in parts) else {"any": parts}
        if kind in _BY_TYPE:
            return {"types": _accepted_types(constraint.is_satisfied_by)}
        if kind in ("Options", "StrOptions"):
            options = sorted((_plain(o) for o in constraint.options), key=repr)
            return {"types": _accepted_types(lambda v: isinstance(v, constraint.type)), "options": options}
        if kind == "Interval":
            return {"types": _accepted_types(lambda v: isinstance(v, constraint.type)), "closed": constraint.closed,
                    "left": _plain(constraint.left), "right": _plain(constraint.right)}
        if kind == "_NanConstraint":
            return {"types": [], "nan": True}
    except ValueError:
        return UNKNOWN
    return UNKNOWN


def _type_name(value: Any) -> str | None:
    return _NAMES.get(type(value))


def _in_interval(data: dict[str, Any], value: Any) -> bool:
    if not isinstance(value, int) and math.isnan(value):
        return False
    closed, left, right = data["closed"], data["left"], data["right"]
    left = -math.inf if left is None else left
    right = math.inf if right is None else right
    below = value < left if closed in ("left", "both") else value <= left
    above = value > right if closed in ("right", "both") else value >= right
    return not below and not above


def satisfied(data: Any, value: Any) -> bool | None:
    """Whether `value` satisfies the encoded constraint `data`; None when the data cannot tell."""
    name = _type_name(value)
    if data is UNKNOWN or name is None:
        return None
    if "any" in data:
        answers = [satisfied(part, value) for part in data["any"]]
        if True in answers:
            return True
        return None if None in answers else False
    if data.get("nan"):
        return name == "float" and math.isnan(value)
    if name not in data["types"]:
        return False
    if "options" in data:
        return value in data["options"]
    if "closed" in data:
        return _in_interval(data, value)
    return True
