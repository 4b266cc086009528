"""Building blocks shared by every spec section: the strict base model and constrained types."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .cron import check_cron

__all__ = [
    "DNS_LABEL",
    "Cron",
    "Identifier",
    "ImportPath",
    "LabelValue",
    "Name",
    "NonEmptyStr",
    "Quantity",
    "SecretUse",
    "SpecModel",
    "parse_quantity",
]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


class SpecModel(BaseModel):
    """Base of every spec section: strict types, unknown keys rejected, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


def _quantity_text(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value) if isinstance(value, float) else str(value)
    return value


def _check_quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        msg = f"`{value}` is not a Kubernetes quantity (e.g. `500m`, `2`, `512Mi`, `1Gi`)"
        raise ValueError(msg)
    return value


def parse_quantity(value: str) -> float:
    """The numeric value of a Kubernetes quantity such as `500m` or `1Gi`."""
    match = _QUANTITY.match(value)
    if match is None:
        msg = f"`{value}` is not a Kubernetes quantity"
        raise ValueError(msg)
    number, suffix = float(match["number"]), match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in "eE" and suffix:
        return number * 10 ** int(suffix[1:])
    return number * _DECIMAL[suffix]


def _check_import_path(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", value):
        msg = f"`{value}` is not an import path like `package.module.ClassName`"
        raise ValueError(msg)
    return value


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
Name = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=63)]
LabelValue = Annotated[
    str, StringConstraints(pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", max_length=63)
]
ImportPath = Annotated[str, AfterValidator(_check_import_path)]
Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_quantity)]
Cron = Annotated[str, AfterValidator(check_cron)]


class SecretUse(SpecModel):
    """A use of a declared secret, by name: `{secret: NAME}`."""

    secret: Identifier = Field(description="Name of a secret declared under `secrets`.")
