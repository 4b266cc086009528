"""`mlform validate` pauses the garbage collector while it builds the spec models, and restores it as it was;
only the console script's own process freezes what was built."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlform.compiler.cli import cli

IRIS = Path(__file__).parents[3] / "examples" / "iris"


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize(("text", "code"), [(None, 0), ("metadata: {name: x}\nunknown: 1\n", 1)])
def test_validate_leaves_the_collector_as_it_found_it(tmp_path: Path, enabled: bool, text: str | None,
                                                       code: int) -> None:
    spec = IRIS
    if text is not None:  # a spec with errors: validate exits through SystemExit
        spec = tmp_path / "mlform.yaml"
        spec.write_text(text)
    was, frozen = gc.isenabled(), gc.get_freeze_count()
    (gc.enable if enabled else gc.disable)()
    try:
        result = CliRunner().invoke(cli, ["validate", str(spec)])
        after = gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
    assert result.exit_code == code, result.output
    assert after is enabled
    assert gc.get_freeze_count() == frozen  # nothing of the caller's process is frozen


CONSOLE = """
import gc, sys
from mlform.compiler.cli import main
sys.argv = ["mlform", "validate", sys.argv[1]]
try:
    main(%s)
except SystemExit:
    pass
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("argv", "expected"), [("", "True True"), ("sys.argv[1:]", "True False")])
def test_only_the_console_script_freezes_what_validate_built(argv: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", CONSOLE % argv, str(IRIS)], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines()[-1] == expected
