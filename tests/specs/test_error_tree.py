"""Every exception mlform defines derives from MlformError through its stage, and specs/errors.py draws them all."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import mlform
from mlform.specs import errors
from mlform.specs.errors import MlformError

_DRAWN = re.compile(r"^(?P<indent>[│ ]*[├└]── )(?P<name>\w+)")


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(mlform.__path__, "mlform."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def _drawn_parents() -> dict[str, str]:
    """Each class the docstring draws, mapped to the class drawn as its parent."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = [(0, "MlformError")]
    for line in (errors.__doc__ or "").splitlines():
        match = _DRAWN.match(line)
        if not match:
            continue
        depth = len(match.group("indent"))
        while stack[-1][0] >= depth:
            stack.pop()
        parents[match.group("name")] = stack[-1][1]
        stack.append((depth, match.group("name")))
    return parents


def test_every_exception_is_an_mlform_error_drawn_under_its_parent() -> None:
    classes = _exception_classes()
    drawn = _drawn_parents()
    assert len(classes) > len(errors.__all__)  # the walk reached the stage modules
    wrong = {where: [base.__name__ for base in cls.__bases__] for where, cls in classes.items()
             if not issubclass(cls, MlformError) and cls is not MlformError}
    assert wrong == {}
    misnamed = sorted(where for where, cls in classes.items() if not cls.__name__.endswith("Error"))
    assert misnamed == []
    undrawn = sorted(where for where, cls in classes.items() if cls is not MlformError
                     and drawn.get(cls.__name__) != cls.__bases__[0].__name__)
    assert undrawn == []
