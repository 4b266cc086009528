"""Print each step's outcome, time and reasons; show a live spinner with elapsed time on a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from .outcome import RunResult, StepRun
from .reasons import CACHED

__all__ = ["ConsoleReporter", "summary_line"]


class ConsoleReporter:
    """Writes one line per step to `out`; while a step runs, a transient spinner on stderr if it is a TTY."""

    def __init__(self, out: TextIO | None = None, live: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.live = sys.stderr.isatty() if live is None else live
        self._progress: Any = None

    def start(self, step_id: str, reasons: list[str]) -> None:
        """A step begins."""
        if not self.live:
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        self._progress.add_task(f"{step_id}: {'; '.join(reasons)}", total=None)

    def finish(self, outcome: StepRun) -> None:
        """A step ended (or was found cached, or blocked)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        why = CACHED if outcome.status == "cached" else "; ".join(outcome.reasons)
        label = "FAILED" if outcome.status == "failed" else outcome.status
        click.echo(f"{outcome.id:<18} {label:<7} {outcome.seconds:7.2f}s  {why}", file=self.out)
        if outcome.status == "ran":
            for note in outcome.values.get("notes", []):
                click.echo(f"{'':<18}   {note}", file=self.out)


def summary_line(result: RunResult) -> str:
    """`run ID: N ran, M cached in T s`."""
    counts: dict[str, int] = {}
    for step in result.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"run {result.run_id}: {parts or 'nothing to do'} in {result.seconds:.2f}s"
