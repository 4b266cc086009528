"""Resolve declared secrets at run time, and keep their values out of every message."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlform.specs.errors import StepPartError
from mlform.specs.model.pipeline import Pipeline

__all__ = ["Secret", "SecretMissingError", "read_secret"]


class SecretMissingError(StepPartError):
    """A secret's environment variable is not set (the message names the variable, never a value)."""


@dataclass(frozen=True)
class Secret:
    """A secret's value with where it came from; `redact` removes the value from any text."""

    name: str
    variable: str
    value: str

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, variable={self.variable!r}, value='***')"

    def redact(self, text: str) -> str:
        """`text` with the value, and the password inside it if it is a URL, replaced by `***`."""
        for fragment in sorted(self._fragments(), key=len, reverse=True):
            text = text.replace(fragment, "***")
        return text

    def _fragments(self) -> set[str]:
        found = {self.value}
        _, sep, rest = self.value.partition("://")
        if sep and "@" in rest:
            userinfo = rest.rsplit("@", 1)[0]
            found.add(userinfo)
            password = userinfo.partition(":")[2]
            if password:
                found.add(password)
        return {f for f in found if len(f) >= 3}


def read_secret(pipeline: Pipeline, name: str) -> Secret:
    """The value of secret `name` from its environment variable; SecretMissingError names what is missing."""
    ref = pipeline.secrets.get(name)
    if ref is None:
        raise SecretMissingError(f"secret `{name}` is not declared under `secrets`")
    if ref.env is None:
        raise SecretMissingError(f"secret `{name}` has no `env` variable to read locally "
                                 "(it is only a Kubernetes secret)")
    value = os.environ.get(ref.env)
    if not value:
        raise SecretMissingError(f"secret `{name}` is read from environment variable `{ref.env}`, which is not set")
    return Secret(name, ref.env, value)
