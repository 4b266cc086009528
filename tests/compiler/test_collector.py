"""`collection_paused` pauses the garbage collector and restores it as it was, also when the block raises; with
`freeze` it freezes what is alive; `validate` imports it without the renderer."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mlform.compiler.collector import collection_paused


@pytest.fixture
def collector() -> Iterator[None]:
    """Restore the collector's state and freeze count after the test, whatever it did."""
    was = gc.isenabled()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


@pytest.mark.usefixtures("collector")
@pytest.mark.parametrize("freeze", [False, True])
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_restored_after_an_exception(enabled: bool, freeze: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    inside = None
    with pytest.raises(KeyError, match="boom"), collection_paused(freeze=freeze):
        inside = gc.isenabled()
        raise KeyError("boom")
    assert (inside, gc.isenabled()) == (False, enabled)
    assert (gc.get_freeze_count() > 0) is freeze


@pytest.mark.usefixtures("collector")
def test_freeze_moves_what_is_alive_out_of_the_collectors_sight() -> None:
    gc.enable()
    with collection_paused(freeze=True):
        assert gc.get_freeze_count() == 0  # frozen on the way out, not before
        alive = [[] for _ in range(100)]
    assert gc.get_freeze_count() >= len(alive)
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_as_a_decorator_it_pauses_each_call_and_freezes_nothing_by_default() -> None:
    @collection_paused()
    def state() -> bool:
        return gc.isenabled()

    gc.enable()
    assert (state(), state(), gc.isenabled(), gc.get_freeze_count()) == (False, False, True, 0)


def test_validate_imports_it_without_the_renderer() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import mlform.compiler.commands.validate"],
                          capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "mlform.compiler.collector" in imported
    assert not {"jinja2", "mlform.compiler.artifacts.output", "mlform.compiler.artifacts"} & imported
