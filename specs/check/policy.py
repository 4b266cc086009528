"""Organisation policy: `kind: Policy` files of rules that every resolved spec must satisfy.

A policy file is read like a spec (strict YAML with positions) and validated as strictly: unknown keys and
conditions, key paths that are not in the spec format, bad regular expressions and wrong types are errors at
the policy file's `file:line:col`. `mlform.specs.check.policy_check` checks resolved specs against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, ValidationError, model_validator

from mlform.specs.errors import Diagnostic, SpecError
from mlform.specs.model.base import ENV_NAME, IDENTIFIER, SpecModel
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.read.discovery import POLICY_FILENAME
from mlform.specs.read.source import Document, parse_document, read_document

from .explain import did_you_mean, explain, keys_of

__all__ = [
    "CONDITIONS",
    "FEATURE",
    "MAX_PATTERN",
    "POLICY_FILENAME",
    "Condition",
    "LoadedPolicy",
    "Policy",
    "Rule",
    "WILDCARD",
    "load_policy",
    "parse_policy",
    "shown",
]

CONDITIONS = ("present", "min", "max", "min_items", "max_items", "one_of", "equals", "pattern")
WILDCARD = "*"  # a key path segment ranging over every key of a mapping (or index of a list)
FEATURE = "{feature}"  # a key path segment ranging over `data.features`, e.g. `data.columns_meta.{feature}.owner`
MAX_PATTERN = 1000  # characters: a policy's regular expressions are short
Number = StrictInt | StrictFloat
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # what could break a message's line


def shown(text: str, limit: int = 60) -> str:
    """`text` for a one-line message: control characters escaped (`\\n`), cut to `limit` characters."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        msg = f"`{shown(pattern)}` is not a valid regular expression: {exc}"
        raise ValueError(msg) from None
    return pattern


def _check_key_path(text: str) -> str:
    """A dotted key path into the resolved spec; segments in a section of the spec format must be its keys."""
    parts = text.split(".")
    if any(not part or part != part.strip() for part in parts):
        msg = f"`{shown(text)}` is not a key path like `serving.replicas`"
        raise ValueError(msg)
    if parts[0] == "environments":
        msg = ("rules see each environment's resolved spec, not the overlays: "
               "limit a rule with `environments: [...]` instead")
        raise ValueError(msg)
    for depth, part in enumerate(parts):
        allowed = keys_of(Pipeline, parts[:depth])
        if allowed is None or part == WILDCARD:  # a mapping of names the spec chooses (sources, ...) or a list
            continue
        allowed = [key for key in allowed if key != "environments"]
        if part not in allowed:
            where = f" in `{'.'.join(parts[:depth])}`" if depth else ""
            hint = did_you_mean(part, allowed) or f"; expected one of {', '.join(f'`{k}`' for k in allowed)}"
            msg = f"`{shown(text)}`: unknown key `{shown(part)}`{where}{hint}"
            raise ValueError(msg)
    return text


KeyPathText = Annotated[str, AfterValidator(_check_key_path)]
Pattern = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN), AfterValidator(_check_pattern)]


class Condition(SpecModel):
    """What the value at one key path must be; every condition given must hold."""

    present: StrictBool | None = Field(
        None, description="`true`: the key must be set (not missing, not null); `false`: it must not be.")
    min: Number | None = Field(None, description="Smallest number allowed.")
    max: Number | None = Field(None, description="Largest number allowed.")
    min_items: Annotated[int, Field(ge=0)] | None = Field(None, description="Fewest items of a list or mapping.")
    max_items: Annotated[int, Field(ge=0)] | None = Field(None, description="Most items of a list or mapping.")
    one_of: Annotated[list[Any], Field(min_length=1)] | None = Field(None, description="The values allowed.")
    equals: Any = Field(None, description="The one value allowed.")
    pattern: Pattern | None = Field(None, description="Regular expression a string must match whole.")

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        given = [name for name in CONDITIONS if getattr(self, name) is not None]
        if not given:
            msg = f"a condition needs at least one of {', '.join(f'`{name}`' for name in CONDITIONS)}"
            raise ValueError(msg)
        if self.present is False and len(given) > 1:
            msg = "`present: false` cannot be combined with other conditions"
            raise ValueError(msg)
        for low, high in (("min", "max"), ("min_items", "max_items")):
            least, most = getattr(self, low), getattr(self, high)
            if least is not None and most is not None and least > most:
                msg = f"`{low}` ({least}) is greater than `{high}` ({most})"
                raise ValueError(msg)
        return self


class Rule(SpecModel):
    """One organisation rule: conditions on key paths of the resolved spec, in some or all environments."""

    name: Annotated[str, Field(pattern=IDENTIFIER, max_length=63)] = Field(
        description="Names the rule in every message, e.g. `prod-replicas`.")
    message: Annotated[str, Field(max_length=500)] = Field(
        "", description="Why the rule exists, shown with each violation.")
    severity: Literal["error", "warning"] = Field(
        "error", description="`error` fails `validate` and `plan`; `warning` is reported only.")
    environments: Annotated[list[Annotated[str, Field(pattern=ENV_NAME)]], Field(min_length=1)] | None = Field(
        None, description="Environments the rule applies to (`default` is the base spec); all when omitted.")
    require: Annotated[dict[KeyPathText, Condition], Field(min_length=1)] | None = Field(
        None, description="Dotted key paths of the resolved spec and their conditions, "
                          "e.g. `{serving.replicas: {min: 2}}`; a `*` segment ranges over a mapping's keys and "
                          "`{feature}` over `data.features`, "
                          "e.g. `{data.columns_meta.{feature}.owner: {present: true}}`.")
    min_readiness: Annotated[int, Field(ge=1, le=28)] | None = Field(
        None, description="Fewest ML Test Score tests the spec must enforce (`mlform readiness`), e.g. `20`.")

    @model_validator(mode="after")
    def _asks_something(self) -> Rule:
        if self.require is None and self.min_readiness is None:
            raise ValueError("a rule needs `require` (key paths and conditions) or `min_readiness`")
        return self


class Policy(SpecModel):
    """An mlform policy file: `apiVersion: mlform/v1`, `kind: Policy`, and its rules."""

    api_version: Literal["mlform/v1"] = Field(alias="apiVersion", description="Policy format version: `mlform/v1`.")
    kind: Literal["Policy"] = Field(description="Kind of file: `Policy`.")
    rules: list[Rule] = Field(description="The rules every spec must satisfy.")


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy and the file it came from (as named in messages)."""

    file: str
    policy: Policy


def _duplicates(doc: Document) -> list[Diagnostic]:
    """Rules named like an earlier rule, from the data as written (so they come with the other errors)."""
    rules = doc.data.get("rules")
    first: dict[str, int] = {}
    found = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(name, str):
            continue
        mark = doc.mark(("rules", index, "name"))
        if name in first:
            message = f"duplicate rule name `{shown(name)}` (first defined at line {first[name]})"
            found.append(Diagnostic(doc.file, mark.line, mark.col, f"rules.{index}.name", message))
        else:
            first[name] = mark.line
    return found


def load_policy(path: str | Path, display: str | None = None) -> LoadedPolicy:
    """Read and validate a policy file; raise SpecError with every problem, located in the policy file."""
    return _validated(read_document(path, display, noun="policy"))


def parse_policy(raw: bytes, file: str) -> LoadedPolicy:
    """Validate the bytes of a policy file named `file`; raise SpecError like `load_policy`."""
    return _validated(parse_document(raw, file, noun="policy"))


def _validated(doc: Document) -> LoadedPolicy:
    found = _duplicates(doc)
    try:
        policy = Policy.model_validate(doc.data)
    except ValidationError as exc:
        found += explain(doc, Policy, exc)
    if found:
        raise SpecError(found)
    return LoadedPolicy(doc.file, policy)
