"""The sampled request log: features and predictions of a share of scored rows, written as JSON Lines.

The request only samples rows and hands them to a bounded queue (a full queue drops the row and counts
it); a writer thread drains the queue in batches into a sink, so I/O never sits on a request's critical
path. The folder sink appends to `<path>/<YYYYMMDD>-<pid>.jsonl` (UTC date): one file per process and day,
so workers never share a file, and monitoring reads every `*.jsonl` of the folder; the backend sink
(`logsink.py`) stores each batch as one object. PII columns are dropped before sampling. A failing sink
only counts the rows it lost.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from .guard import counter_lines

__all__ = ["FLUSH_SECONDS", "BatchSink", "FolderSink", "RequestLog", "log_file"]

FLUSH_SECONDS = 0.5
_STOP = object()
_LOG = logging.getLogger("mlform.serving")


def log_file(folder: Path, when: datetime, pid: int | None = None) -> Path:
    """The file rows logged at `when` (UTC) by process `pid` go to."""
    return folder / f"{when.strftime('%Y%m%d')}-{os.getpid() if pid is None else pid}.jsonl"


class BatchSink(Protocol):
    """Where the writer thread puts each batch of JSON Lines, gathering rows for `linger` seconds first."""

    linger: float

    def prepare(self) -> None:
        """Get ready before the first batch (called on the thread that starts the log)."""

    def write(self, lines: bytes) -> None:
        """Store one batch; any exception counts its rows as lost."""

    def describe(self) -> str:
        """Where batches go, for messages: no secret."""


class FolderSink:
    """Append batches to the day's `<YYYYMMDD>-<pid>.jsonl` of a folder."""

    linger = 0.0  # appending is cheap: write what is there

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def prepare(self) -> None:
        """Create the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, lines: bytes) -> None:
        """Append `lines` to this process's file of the day."""
        with log_file(self.folder, datetime.now(UTC)).open("ab") as handle:  # one appending process per file
            handle.write(lines)

    def describe(self) -> str:
        """The folder."""
        return str(self.folder)


class RequestLog:
    """Sample scored rows into a bounded buffer; a background thread writes them in batches to a sink."""

    def __init__(self, sink: Path | BatchSink, *, sample: float, buffer_rows: int, model: str, version: int,
                 columns: Sequence[str], exclude: Sequence[str] = ()) -> None:
        self.sink = FolderSink(sink) if isinstance(sink, Path) else sink
        self.sample, self.model, self.version = sample, model, version
        hidden = set(exclude)
        self.columns = [c for c in columns if c not in hidden]
        self.dropped = self.written = self.unwritten = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=buffer_rows)
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self.sink.prepare()
            self._thread = threading.Thread(target=self._run, name="mlform-request-log", daemon=True)
            self._thread.start()

    def offer(self, values: dict[str, list[Any]], predictions: Sequence[Any], skip: set[int] | None = None) -> None:
        """Sample rows of one scored batch (but those in `skip`) into the buffer; never blocks or raises when full."""
        rows = len(predictions)
        if self.sample >= 1:
            picked: Sequence[int] = range(rows)
        else:
            draw = self._random.random
            picked = [i for i in range(rows) if draw() < self.sample]
        if skip:
            picked = [i for i in picked if i not in skip]
        if not picked:
            return
        ts = datetime.now(UTC)
        for i in picked:
            row = {"ts": ts.isoformat().replace("+00:00", "Z"), "model": self.model, "version": self.version,
                   "features": {c: values[c][i] for c in self.columns}, "prediction": predictions[i]}
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is buffered and stop the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def metric_lines(self) -> list[str]:
        """The `mlform_serving_log_dropped_total` and `mlform_serving_log_rows_total` counters."""
        return [*counter_lines("mlform_serving_log_dropped_total",
                               "Sampled rows not logged: the buffer was full or a write failed.",
                               {(): self.dropped + self.unwritten}),
                *counter_lines("mlform_serving_log_rows_total", "Sampled rows written to the serving log.",
                               {(): self.written})]

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                continue
            batch, stop = [], first is _STOP
            if not stop:
                batch.append(first)
            deadline = time.monotonic() + self.sink.linger
            while not stop:
                wait = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                stop = item is _STOP
                if not stop:
                    batch.append(item)
            if batch:
                self._write(batch)
            if stop:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            self.sink.write(b"".join(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for row in rows))
            self.written += len(rows)
        except Exception:  # noqa: BLE001 - whatever the sink raises, serving goes on and the loss is counted
            self.unwritten += len(rows)  # counted apart: only this thread writes it
            _LOG.exception("could not write the serving log to %s", self.sink.describe())
