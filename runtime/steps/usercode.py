"""Run user functions named in a spec (`steps.train:estimator_fn`), and put what they raise in words.

User functions run in the spec's folder. Project modules are imported with the spec's folder first on `sys.path`,
under their own names, so a model pickled with a user class loads again where that folder is on the path. A module
of another project (or an edited file) of the same name is imported afresh.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlform.specs.check.usercode import forget_stale, module_file, split_ref, use_project
from mlform.specs.errors import StepPartError

__all__ = ["UserCodeError", "call_user", "load_function", "raised_at", "use_project"]


class UserCodeError(StepPartError):
    """A user function cannot be imported, or raised."""


def _shown(file: str | Path, root: Path) -> str:
    path = Path(file)
    return os.path.relpath(path, root).replace(os.sep, "/") if path.is_relative_to(root) else str(path)


def load_function(ref: str, root: Path, where: str) -> Callable[..., Any]:
    """The function `ref` (`module:function`), its module looked up under `root` first; UserCodeError if it fails."""
    module_name, function = split_ref(ref)
    file = module_file(root, module_name)
    try:
        if file is not None:
            use_project(root)
            forget_stale(module_name, file, root)
            module = importlib.import_module(module_name)
            module.__mlform_stamp__ = file.stat().st_mtime_ns  # type: ignore[attr-defined]
        else:
            module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # user code may raise anything while it imports, or call sys.exit
        raise UserCodeError(f"`{where}: {ref}`: cannot import `{module_name}`: {_cause(exc, root)}",
                            key=where) from exc
    found = getattr(module, function, None)
    if not callable(found):
        shown = _shown(file, root) if file else module_name
        raise UserCodeError(f"`{where}: {ref}`: `{shown}` defines no function `{function}`", key=where)
    return found


def raised_at(exc: BaseException, root: Path) -> str:
    """` (at file:line)`, the innermost line of `exc`'s traceback in a file of the project `root`; else empty."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" (at {_shown(exc.filename, root)}:{exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(
        root.resolve())]
    return f" (at {_shown(frames[-1].filename, root.resolve())}:{frames[-1].lineno})" if frames else ""


def _cause(exc: BaseException, root: Path) -> str:
    """`Type: text (at file:line)`, the line being the innermost one in a file of the project."""
    text = str(exc).strip().splitlines()
    head = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return head + raised_at(exc, root)


def call_user(ref: str, root: Path, where: str, *args: Any, **kwargs: Any) -> Any:
    """Call the user function `ref` with the arguments, in the spec folder `root` (relative paths start there);
    UserCodeError names it, its file and line if it raises."""
    fn = load_function(ref, root, where)
    try:
        with contextlib.chdir(root):
            return fn(*args, **kwargs)
    except (Exception, SystemExit) as exc:  # user code may raise anything (sys.exit too): name it, where it raised
        code = getattr(fn, "__code__", None)
        defined = f" ({_shown(code.co_filename, root.resolve())}:{code.co_firstlineno})" if code else ""
        name = split_ref(ref)[1]
        raise UserCodeError(f"`{where}: {ref}`: `{name}`{defined} raised {_cause(exc, root)}", key=where) from exc
