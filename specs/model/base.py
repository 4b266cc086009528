"""Building blocks shared by every spec section: the strict base model and constrained types."""

import functools
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
)

from mlform.specs.entrypoints import spare_pydantic_plugin_scan

from .cron import check_cron

__all__ = [
    "ALIAS",
    "AWS_REGION",
    "AWS_ROLE",
    "DNS_LABEL",
    "ENV_NAME",
    "ENV_VAR",
    "IDENTIFIER",
    "IMAGE",
    "LABEL_KEY",
    "LABEL_VALUE",
    "PATTERNS",
    "PYTHON_VERSION",
    "QUANTITY",
    "SECRET_KEY",
    "Cron",
    "FunctionRef",
    "GrownSpecModel",
    "Identifier",
    "ImportPath",
    "LabelValue",
    "Name",
    "NonEmptyStr",
    "Quantity",
    "SecretUse",
    "SpecModel",
    "empty_list",
    "parse_quantity",
    "section_default",
]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_-]*$"
ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_NAME = r"^[a-z][a-z0-9-]{0,30}$"
ALIAS = r"^[a-z][a-z0-9_-]*$"
LABEL_KEY = r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
# Docker's tag grammar spells `\w` as ASCII; a Unicode `\w` also took ~40 ms to compile at each start-up
IMAGE = (r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
         r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$")
PYTHON_VERSION = r"^3\.\d{1,2}$"
AWS_ROLE = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]$|^auto$"
# How error messages describe each pattern: "`X` is not <description>".
PATTERNS = {
    DNS_LABEL: "a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit",
    IDENTIFIER: "an identifier: letters, digits, `_` and `-`, not starting with a digit",
    ENV_VAR: "an environment variable name: letters, digits and `_`, not starting with a digit",
    ENV_NAME: "an environment name: lowercase letters, digits and `-`, starting with a letter, at most 31 characters",
    ALIAS: "an alias: lowercase letters, digits, `_` and `-`, starting with a letter",
    LABEL_KEY: "a label key: an optional DNS prefix and `/`, then letters, digits, `-`, `_` and `.`, "
               "starting and ending with a letter or digit",
    LABEL_VALUE: "a label value: letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
    SECRET_KEY: "a Secret key: letters, digits, `-`, `_` and `.`",
    IMAGE: "an image reference like `registry.example.com/team/model:tag`",
    PYTHON_VERSION: "a Python version like `3.11`",
    AWS_ROLE: "an IAM role ARN like `arn:aws:iam::123456789012:role/mlform-ci`",
    AWS_REGION: "an AWS region like `eu-west-1` (or `auto`)",
}
# groups: the number, then the optional suffix; plain groups so the JSON Schema can reuse the pattern
QUANTITY = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?"
_QUANTITY = re.compile(QUANTITY)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


spare_pydantic_plugin_scan()  # before any validator is built


class SpecModel(BaseModel):
    """Base of every spec section: strict types, unknown keys rejected, immutable."""

    # defer_build: a section's validator is built on first use, not at import; the spec's root builds the
    # whole tree once, instead of every section building its own that validating a spec never calls
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class GrownSpecModel(SpecModel):
    """A section that grew settings after a spec format shipped: dumps leave those out while at their default."""

    # So the resolved spec, its digest and every artifact stay the same for specs that do not use them. Only
    # these sections carry the serializer: on every section, building it cost each start-up ~4 ms.
    omit_when_default: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        fields = type(self).model_fields
        for name in self.omit_when_default:
            field = fields[name]
            if getattr(self, name) == _field_default(type(self), name) and isinstance(data, dict):
                data.pop(field.alias or name, None)
        return data


M = TypeVar("M", bound=BaseModel)


def section_default(model: type[M], **values: Any) -> Callable[[], M]:
    """The default factory of a section a spec may omit: the section with its defaults (and `values`)."""

    # Built without validating: the defaults are valid, and validating them would build the section's own
    # validator (deferred to first use), a second one beside the spec root's (~7 M instructions a start-up).
    def default() -> M:
        return model.model_construct(**values)

    return default


def empty_list() -> list[Any]:
    """A new empty list: the default factory of list settings."""
    # not `list`: pydantic reads a default factory's signature, and `list`'s is parsed from its text with
    # `tokenize`, whose patterns take ~3 ms to compile at each start-up
    return []


@functools.cache
def _field_default(model: type[BaseModel], name: str) -> Any:
    """A field's default, made once per model and field (only compared, never handed out)."""
    return model.model_fields[name].get_default(call_default_factory=True)


def _quantity_text(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value) if isinstance(value, float) else str(value)
    return value


def _check_quantity(value: str) -> str:
    if not _QUANTITY.fullmatch(value):
        msg = f"`{value}` is not a Kubernetes quantity (e.g. `500m`, `2`, `512Mi`, `1Gi`)"
        raise ValueError(msg)
    return value


def parse_quantity(value: str) -> float:
    """The numeric value of a Kubernetes quantity such as `500m` or `1Gi`."""
    match = _QUANTITY.fullmatch(value)
    if match is None:
        msg = f"`{value}` is not a Kubernetes quantity"
        raise ValueError(msg)
    number, suffix = float(match[1]), match[2] or ""
    if suffix in _BINARY:
        return float(number * _BINARY[suffix])
    if len(suffix) > 1 and suffix[0] in "eE":
        return float(number * 10 ** int(suffix[1:]))
    return float(number * _DECIMAL[suffix])


def _check_import_path(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", value):
        from mlform.specs.check.estimators import sklearn_path  # scikit-learn loads only for a bare class name

        known = sklearn_path(value) if value.isidentifier() else None
        hint = f"; did you mean `{known}`?" if known else ""
        msg = f"`{value}` is not an import path like `package.module.ClassName`{hint}"
        raise ValueError(msg)
    return value


_FUNCTION_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[:.][A-Za-z_][A-Za-z0-9_]*")


def _check_function_ref(value: str) -> str:
    if not _FUNCTION_REF.fullmatch(value) or ("." not in value and ":" not in value):
        msg = f"`{value}` is not a function reference like `steps.train:estimator_fn` (module, `:`, function)"
        raise ValueError(msg)
    return value


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
Name = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER, max_length=63)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE, max_length=63)]
ImportPath = Annotated[str, AfterValidator(_check_import_path)]
# A user function: `module:function` (or `module.function`); a module file under the spec folder is preferred
FunctionRef = Annotated[str, AfterValidator(_check_function_ref)]
Quantity = Annotated[
    str,
    BeforeValidator(_quantity_text),
    AfterValidator(_check_quantity),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": f"^{QUANTITY}$"}, {"type": "number"}]}, mode="validation"),
]
Cron = Annotated[str, AfterValidator(check_cron)]


class SecretUse(SpecModel):
    """A use of a declared secret, by name: `{secret: NAME}`."""

    # error messages never echo values inside a model that has `secret_hint`; they say this instead
    secret_hint: ClassVar[str] = "refer to a secret declared under `secrets` as `{secret: NAME}`, never by value"

    secret: Identifier = Field(description="Name of a secret declared under `secrets`.")
