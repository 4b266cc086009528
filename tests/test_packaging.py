"""Packaging: the wheel holds exactly the `mlform.*` packages and templates; the source folders never leak."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
SOURCES = sorted(PACKAGE_DIRS.values())
DIST_INFO = f"mlform-{PYPROJECT['project']['version']}.dist-info"


def _package(folder: Path) -> str:
    """The dotted package a source folder installs as, e.g. `compiler/commands` -> `mlform.compiler.commands`."""
    relative = folder.relative_to(REPO)
    top = next(name for name, source in PACKAGE_DIRS.items() if source == relative.parts[0])
    return ".".join([top, *relative.parts[1:]])


def _wheel_name(source: Path) -> str:
    """Where a source file lands in the wheel."""
    return f"{_package(source.parent).replace('.', '/')}/{source.name}"


def _source_files(pattern: str) -> list[Path]:
    return sorted(p for folder in SOURCES for p in (REPO / folder).rglob(pattern) if "__pycache__" not in p.parts)


def test_every_package_folder_is_declared_in_pyproject() -> None:
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert {_package(init.parent) for init in _source_files("__init__.py")} == declared


def test_the_templates_package_ships_its_jinja_files_and_the_ui_assets() -> None:
    assert PYPROJECT["tool"]["setuptools"]["package-data"]["mlform.templates"] == ["**/*.j2", "ui/*.css", "ui/*.js"]
    assert (REPO / PACKAGE_DIRS["mlform.templates"] / "__init__.py").is_file()


def test_source_folders_are_not_importable_as_top_level_packages(tmp_path: Path) -> None:
    script = (
        "import importlib.util, mlform.compiler, mlform.specs, mlform.runtime, mlform.templates\n"
        "print([name for name in ('compiler', 'runtime', 'specs', 'templates') "
        "if importlib.util.find_spec(name) is not None])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a clean copy of the project (the build never writes into the working tree)."""
    copy = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, copy / name)
    for folder in SOURCES:
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(copy)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (built,) = out.glob("mlform-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.integration
def test_wheel_holds_every_module_and_template_under_mlform(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    shipped = [*_source_files("*.py"), *_source_files("*.j2"), *_source_files("*.css"), *_source_files("*.js")]
    expected = {_wheel_name(p) for p in shipped}
    assert expected <= names
    assert {n for n in names if n.endswith((".py", ".j2", ".css", ".js"))} == expected
    assert "mlform/specs/py.typed" in names


@pytest.mark.integration
def test_wheel_has_no_top_level_source_packages(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops == {"mlform", DIST_INFO}
    assert "mlform/__init__.py" not in wheel.namelist()


@pytest.mark.integration
def test_wheel_declares_the_console_script(wheel: zipfile.ZipFile) -> None:
    entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "mlform = mlform.compiler.cli:main" in entry_points.splitlines()
