"""A section a spec omits gets the value validating its defaults would give, though built without validating."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel

from mlform.specs.model.pipeline import Pipeline


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    """Every model reachable from `model`'s fields into `seen`."""
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        stack: list[Any] = [field.annotation]
        while stack:
            found = stack.pop()
            if isinstance(found, type) and issubclass(found, BaseModel):
                _models(found, seen)
            stack.extend(typing.get_args(found))


def _section_defaults() -> list[tuple[str, Any]]:
    seen: set[type[BaseModel]] = set()
    _models(Pipeline, seen)
    return sorted(((f"{model.__name__}.{name}", field) for model in seen for name, field in model.model_fields.items()
                   if getattr(field.default_factory, "__qualname__", "").startswith("section_default.")),
                  key=lambda item: item[0])


def test_the_sections_with_built_defaults_are_found() -> None:
    assert [name for name, _ in _section_defaults()] == [
        "KubernetesTarget.ui", "Pipeline.governance", "Pipeline.runtime", "Pipeline.state", "Pipeline.tracking",
        "StateSettings.backend"]


@pytest.mark.parametrize(("name", "field"), _section_defaults())
def test_a_built_default_is_the_validated_one(name: str, field: Any) -> None:
    built = field.default_factory()
    model = type(built)
    validated = model.model_validate({key: getattr(built, key) for key in built.model_fields_set})
    assert built == validated, name
    assert built.model_dump(mode="json") == validated.model_dump(mode="json"), name
    assert built.model_fields_set == validated.model_fields_set, name
