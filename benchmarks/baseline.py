"""An earlier revision of mlform's sources, importable beside the installed one, for before/after in one run.

`checkout(ref, into)` extracts the four source folders of `ref` (git archive) and lays them out as the `mlform`
package; `command(path, args)` runs `mlform ARGS` from that tree with this interpreter and its installed
dependencies, so both sides share Python, packages and machine load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["REPO", "checkout", "command", "resolve"]

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("specs", "compiler", "runtime", "templates")


def resolve(ref: str) -> str:
    """The commit `ref` names, for the report."""
    done = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def checkout(ref: str, into: Path) -> Path:
    """The sources of `ref` under `into`/mlform (one folder per package part); returns the folder to import from."""
    source = into / "src"
    source.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, *FOLDERS], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    package = into / "path" / "mlform"
    package.mkdir(parents=True)
    for folder in FOLDERS:
        (package / folder).symlink_to(source / folder, target_is_directory=True)
    return into / "path"


def command(path: Path | None, args: list[str]) -> list[str]:
    """argv running `mlform ARGS`: the installed one when `path` is None, else the sources under `path`."""
    if path is None:
        return [str(Path(sys.executable).with_name("mlform")), *args]
    code = "import sys; from mlform.compiler.cli import main; sys.argv[0] = 'mlform'; main()"
    return ["env", f"PYTHONPATH={path}", sys.executable, "-c", code, *args]
