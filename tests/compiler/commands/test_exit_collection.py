"""Only the console script's own process skips the interpreter's final garbage collection."""

from __future__ import annotations

import subprocess
import sys

import pytest

AT_EXIT = """
import atexit, gc, sys
from mlform.compiler.cli import main
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))  # runs after those main registers
sys.argv = ["mlform", "--version"]
for _ in range(2):
    try:
        main(%s)
    except SystemExit:
        pass
"""


@pytest.mark.parametrize(("argv", "expected"), [("", "True"), ("['--version']", "False")])
def test_only_the_console_script_freezes_at_exit(argv: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", AT_EXIT % argv], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == f"frozen at exit: {expected}"
