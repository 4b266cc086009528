"""User functions named in a spec (`steps.train:estimator_fn`): where their source lives and whether they exist.

A module is looked up under the spec's folder first (`steps/train.py` or `steps/train/__init__.py`), and read
with `ast` only: validating a spec never runs user code. A module not in the project is imported, like an
estimator.
"""

from __future__ import annotations

import ast
import functools
import glob
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mlform.specs.read.source import KeyPath

from .explain import did_you_mean
from .finding import Finding

__all__ = ["code_files", "forget_stale", "function_findings", "location_files", "module_file", "split_ref",
           "use_project"]


def split_ref(ref: str) -> tuple[str, str]:
    """(module, function) of `module:function`, or of `module.function` as MLflow Recipes wrote them."""
    module, sep, function = ref.partition(":")
    if sep:
        return module, function
    module, _, function = ref.rpartition(".")
    return module, function


def use_project(root: Path) -> None:
    """Put the spec folder `root` first on `sys.path`, so its modules (and models pickled with them) import."""
    entry = str(root.resolve())
    if sys.path[:1] != [entry]:
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def _under(module: object, root: Path) -> bool:
    """Whether the loaded `module` (a file, or a namespace package's folders) comes from the folder `root`."""
    origin = getattr(module, "__file__", None)
    places = [origin] if origin else list(getattr(module, "__path__", []))
    return bool(places) and all(Path(p).resolve().is_relative_to(root.resolve()) for p in places)


def forget_stale(module: str, file: Path, root: Path) -> bool:
    """Drop `module`, its packages and submodules from `sys.modules` when they come from another file or an older
    version of this one (True when it did). Modules of the same package already loaded from `root` stay, so a class
    a model holds is the one pickling finds."""
    loaded = sys.modules.get(module)
    top = module.split(".")[0]
    if loaded is None:
        package = sys.modules.get(top)
        if package is None or _under(package, root):
            return False
    elif _under(loaded, root) and Path(loaded.__file__ or "").resolve() == file.resolve() and \
            getattr(loaded, "__mlform_stamp__", file.stat().st_mtime_ns) == file.stat().st_mtime_ns:
        return False
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return True


def module_file(root: Path, module: str) -> Path | None:
    """The source file of `module` under the folder `root`, or None when the project has no such module."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=256)
def _parse(path: Path, stamp: tuple[int, int]) -> ast.Module | SyntaxError:
    """The syntax tree of `path` (cached per size and mtime), or the SyntaxError parsing it raised."""
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return exc


def _tree(path: Path) -> ast.Module | SyntaxError:
    stat = path.stat()
    return _parse(path, (stat.st_size, stat.st_mtime_ns))


def _top_level_names(tree: ast.Module) -> dict[str, str]:
    """Name -> what binds it at module level (`function`, `class`, `assignment` or `import`)."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = "function"
        elif isinstance(node, ast.ClassDef):
            names[node.name] = "class"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update({t.id: "assignment" for t in targets if isinstance(t, ast.Name)})
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update({(a.asname or a.name).split(".")[0]: "import" for a in node.names})
    return names


def _shown(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def function_findings(path: KeyPath, ref: str, root: Path) -> Iterator[Finding]:
    """Findings on the user function `ref` named at `path`: a missing module file, a syntax error, no such name."""
    module, function = split_ref(ref)
    file = module_file(root, module)
    if file is None:
        if root.joinpath(module.split(".")[0]).exists() or root.joinpath(module.split(".")[0] + ".py").exists():
            wanted = module.replace(".", "/") + ".py"
            yield Finding(path, f"module `{module}` has no file `{wanted}` under the spec's folder")
            return
        from .estimators import import_object

        try:
            import_object(f"{module}.{function}")
        except ImportError as exc:
            yield Finding(path, f"{exc} (nor is there a file `{module.replace('.', '/')}.py` "
                                "under the spec's folder)")
        return
    tree = _tree(file)
    if isinstance(tree, SyntaxError):
        yield Finding(path, f"`{_shown(file, root)}:{tree.lineno}:{tree.offset}`: {tree.msg}")
        return
    names = _top_level_names(tree)
    if function not in names:
        hint = did_you_mean(function, [n for n, kind in names.items() if kind == "function"])
        yield Finding(path, f"`{_shown(file, root)}` defines no function `{function}`{hint}")


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """The absolute names of the modules `tree` (the source of `module`) imports, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if base)


def code_files(root: Path, ref: str) -> tuple[Path, ...]:
    """The project files whose code `ref` runs: its module's file and the project modules it imports, in turn."""
    found: dict[Path, None] = {}
    todo = [split_ref(ref)[0]]
    while todo:
        module = todo.pop()
        file = module_file(root, module)
        if file is None or file in found:
            continue
        found[file] = None
        tree = _tree(file)
        if isinstance(tree, ast.Module):
            todo.extend(_imported_modules(tree, module, file.name == "__init__.py"))
    return tuple(sorted(found))


def location_files(root: Path, location: str) -> list[Path]:
    """The files a loader reads, in order: `location` itself, each file of a folder, or each match of a glob."""
    path = root / location
    if glob.has_magic(location):
        return sorted(root / match for match in glob.glob(location, root_dir=root) if (root / match).is_file())
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]
