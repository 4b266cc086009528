"""A raw ASGI app serving one registered model: `/predict`, `/health`, `/ready`, `/metrics`, `/openapi.json`.

No web framework: routes are matched by path, the body is read against a size limit, JSON goes
through orjson, and each request is checked against the model's input signature before the model
sees it. Concurrent requests are scored together: each checked request joins a queue, and one task
calls the model once for everything queued (up to `max_batch_size` rows), so a busy server pays
the model's per-call overhead once per batch instead of once per request; an idle server scores a
request as soon as it arrives. Predictions run on the event loop, so one worker scores one batch
at a time: scale out with more workers. Metrics are kept per worker process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .explain import explain_rows
from .guard import InputGuard, counter_lines, nonfinite_rows
from .httperror import ROUTES, HttpError
from .requestlog import RequestLog
from .serving_schema import Signature, Where, openapi_document

__all__ = ["DEFAULT_MAX_BODY_BYTES", "LATENCY_BUCKETS", "HttpError", "ServingApp", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1 << 20
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
# what the model may raise about its input: the client's fault (422), not the server's
_REFUSALS = (ValueError, TypeError, KeyError)
_LOG = logging.getLogger("mlform.serving")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass
class _Job:
    """One checked request waiting for the model: its column values, row count, and where its answer goes."""

    values: dict[str, list[Any]]
    rows: int
    proba: bool
    ids: list[dict[str, Any]] | None
    where: Where
    answer: asyncio.Future[dict[str, Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Metrics:
    """Request counts by path and status, latency histograms by path, and rows scored."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, list[float]] = {}
        self.rows = self.batches = self.nonfinite = 0

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        key = (path, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(path)
        if hist is None:
            hist = self.latency[path] = [0.0] * (len(LATENCY_BUCKETS) + 3)
        hist[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        hist[-2] += seconds
        hist[-1] += 1

    def render(self, info: dict[str, str], extra: list[str]) -> bytes:
        """The Prometheus text exposition."""
        lines = ["# HELP mlform_requests_total HTTP requests served, by path and status.",
                 "# TYPE mlform_requests_total counter"]
        lines += [f'mlform_requests_total{{path="{_label(p)}",status="{s}"}} {n}'
                  for (p, s), n in sorted(self.requests.items())]
        lines += ["# HELP mlform_request_duration_seconds Time from the request's arrival to the response.",
                  "# TYPE mlform_request_duration_seconds histogram"]
        for path, hist in sorted(self.latency.items()):
            cumulative = 0.0
            for le, count in zip((*LATENCY_BUCKETS, math.inf), hist, strict=False):
                cumulative += count
                bound = "+Inf" if le == math.inf else repr(le)
                lines.append(f'mlform_request_duration_seconds_bucket{{path="{_label(path)}",le="{bound}"}} '
                             f"{int(cumulative)}")
            lines.append(f'mlform_request_duration_seconds_sum{{path="{_label(path)}"}} {hist[-2]!r}')
            lines.append(f'mlform_request_duration_seconds_count{{path="{_label(path)}"}} {int(hist[-1])}')
        labels = ",".join(f'{k}="{_label(v)}"' for k, v in info.items())
        lines += ["# HELP mlform_predicted_rows_total Rows scored.", "# TYPE mlform_predicted_rows_total counter",
                  f"mlform_predicted_rows_total {self.rows}",
                  "# HELP mlform_model_calls_total Calls of the model; concurrent requests share one call.",
                  "# TYPE mlform_model_calls_total counter", f"mlform_model_calls_total {self.batches}",
                  "# HELP mlform_model_info The served model.", "# TYPE mlform_model_info gauge",
                  f"mlform_model_info{{{labels}}} 1",
                  *counter_lines("mlform_nonfinite_predictions_total",
                                 "Predicted rows holding NaN or an infinity, answered with 500.", {(): self.nonfinite}),
                  *extra]
        return ("\n".join(lines) + "\n").encode()


class ServingApp:
    """The ASGI callable for one loaded model."""

    def __init__(self, loaded: Any, *, max_batch_size: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 id_columns: Sequence[str] = (), guard: InputGuard | None = None,
                 request_log: RequestLog | None = None) -> None:
        version = loaded.version
        self.guard = guard if guard is not None and guard.active else None
        self.request_log = request_log
        self.model, self.max_batch_size, self.max_body_bytes = loaded.model, max_batch_size, max_body_bytes
        has_probabilities = hasattr(self.model, "predict_proba")
        self.signature = Signature(version.signature, max_batch_size, has_probabilities, id_columns)
        self.model_json = {"name": version.name, "version": version.version}
        self.info = {"name": str(version.name), "version": str(version.version), "sha256": str(version.sha256)}
        self.openapi = orjson.dumps(openapi_document(version.name, version.version, version.signature,
                                                     max_batch_size, has_probabilities, id_columns))
        self.metrics, self.ready = _Metrics(), True
        self.sample_row = (getattr(version, "evaluation", None) or {}).get("sample_row")
        self.unready = "shutting down"
        self._queue: deque[_Job] = deque()
        self._batcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.request_log is not None:
                    self.request_log.start()
                failed = self._self_check()
                self.ready = failed is None
                self.unready = failed or self.unready
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self._batcher is not None:
                    self._batcher.cancel()
                if self.request_log is not None:
                    self.request_log.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        extra: list[tuple[bytes, bytes]] = []
        try:
            method = ROUTES.get(path)
            if method is None:
                raise HttpError(404, f"no route `{path}`; routes: {', '.join(f'`{r}`' for r in ROUTES)}")
            if scope["method"] != method:
                extra = [(b"allow", method.encode())]
                raise HttpError(405, f"`{path}` accepts {method} only")
            if path == "/predict":
                body = await self._body(scope, receive)
                if body is None:
                    return
                status, payload, headers = 200, await self.predict(body), _JSON
            else:
                status, payload, headers = self._get(path)
        except HttpError as exc:
            status, payload, headers = exc.status, orjson.dumps({"error": exc.message, **exc.details}), _JSON + extra
        except Exception:  # noqa: BLE001 - a server answers 500 and keeps serving, whatever the model raised
            _LOG.exception("unexpected error on %s", path)
            status, payload, headers = 500, orjson.dumps({"error": "internal error"}), _JSON
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        self.metrics.observe(path if path in ROUTES else "other", status, time.perf_counter() - started)

    def _get(self, path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if path == "/health":
            return 200, b'{"status":"ok"}', _JSON
        if path == "/ready":
            if self.ready:
                return 200, orjson.dumps({"status": "ready", "model": self.model_json}), _JSON
            return 503, orjson.dumps({"status": self.unready}), _JSON
        if path == "/metrics":
            extra = self.guard.metric_lines() if self.guard is not None else []
            extra += self.request_log.metric_lines() if self.request_log is not None else []
            return 200, self.metrics.render(self.info, extra), _TEXT
        return 200, self.openapi, _JSON

    def _self_check(self) -> str | None:
        """Score the sample row registered with the version; why the model is not fit to serve, or None."""
        if self.sample_row is None:
            return None
        try:
            values = self.signature.parse({"records": [self.sample_row]})[0]
            predicted = self.model.predict(self._frame_of(values))
        except Exception as exc:  # noqa: BLE001 - whatever the model raises, the server is not ready
            return f"the model failed on its sample row: {type(exc).__name__}: {exc}"
        if nonfinite_rows(predicted):
            return "the model predicted NaN or infinity for its sample row"
        return None

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body, refused with 413 as soon as it passes the limit; None if the client left."""
        limit = self.max_body_bytes
        too_big = HttpError(413, f"the body is larger than the limit of {limit} bytes")
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                raise too_big
            if key == b"content-type" and not value.split(b";")[0].strip().lower().endswith(b"json"):
                raise HttpError(415, "`Content-Type` must be `application/json`")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def predict(self, body: bytes) -> bytes:
        """Score a request body; raise HttpError for anything the signature or the model refuses."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HttpError(400, f"the body is not valid JSON: {exc}") from None
        explain = request.pop("explain", False) if type(request) is dict else False
        if type(explain) is not bool:
            raise HttpError(422, "`explain` must be true or false")
        job = _Job(*self.signature.parse(request))
        self._queue.append(job)
        if self._batcher is None or self._batcher.done():
            self._wake = asyncio.Event()
            self._batcher = asyncio.get_running_loop().create_task(self._batches())
        assert self._wake is not None
        self._wake.set()
        answer = await job.answer
        if explain:
            answer["explanations"] = explain_rows(self.model, self._frame([job]))
        return orjson.dumps({**answer, "model": self.model_json})

    async def _batches(self) -> None:
        """Score queued jobs in batches for as long as the app runs."""
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            # one turn of the loop lets requests that are already parsed join this batch
            await asyncio.sleep(0)
            while self._queue:
                batch = [self._queue.popleft()]
                rows = batch[0].rows
                while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
                    rows += self._queue[0].rows
                    batch.append(self._queue.popleft())
                self._score(batch)
                await asyncio.sleep(0)

    def _score(self, batch: list[_Job]) -> None:
        """Answer every job of `batch` from one model call; on a refusal, retry each alone to find whose rows."""
        try:
            arrays = self._arrays(self._values(batch))
            frame = pd.DataFrame(arrays, copy=False)
            if self.guard is not None and (failures := self.guard.check(frame, arrays)):
                if self.guard.mode == "reject" and len(batch) > 1:
                    for job in batch:
                        self._score([job])
                    return
                self.guard.count(failures)
                if self.guard.mode == "reject":
                    raise self.guard.refusal(failures, batch[0].where)  # a refused batch was split above
            answers: list[dict[str, Any] | BaseException] = list(self._call(batch, frame))
        except _REFUSALS as exc:
            if len(batch) > 1:
                for job in batch:
                    self._score([job])
                return
            answers = [HttpError(422, f"the model refused the input: {exc}")]
        except Exception as exc:  # noqa: BLE001 - handed to each waiting request, which answers 500
            answers = [exc] * len(batch)
        for job, answer in zip(batch, answers, strict=True):
            if job.answer.done():  # its request went away
                continue
            if isinstance(answer, BaseException):
                job.answer.set_exception(answer)
            else:
                job.answer.set_result(answer)

    def _values(self, batch: list[_Job]) -> dict[str, list[Any]]:
        if len(batch) == 1:
            return batch[0].values
        return {c.name: [v for job in batch for v in job.values[c.name]] for c in self.signature.columns}

    def _frame(self, batch: list[_Job]) -> pd.DataFrame:
        return self._frame_of(self._values(batch))

    def _frame_of(self, values: dict[str, list[Any]]) -> pd.DataFrame:
        return pd.DataFrame(self._arrays(values), copy=False)

    def _arrays(self, values: dict[str, list[Any]]) -> dict[str, Any]:
        return {c.name: c.array(values[c.name]) for c in self.signature.columns}

    def _call(self, batch: list[_Job], frame: pd.DataFrame) -> list[dict[str, Any] | BaseException]:
        raw = self.model.predict(frame)
        wanted = any(job.proba for job in batch)
        raw_proba = self.model.predict_proba(frame) if wanted else None
        bad = set(nonfinite_rows(raw)) | (set(nonfinite_rows(raw_proba)) if wanted else set())
        predictions, proba = raw.tolist(), raw_proba.tolist() if raw_proba is not None else []
        classes = np.asarray(self.model.classes_).tolist() if wanted else []
        self.metrics.rows += len(frame)
        self.metrics.batches += 1
        self.metrics.nonfinite += len(bad)
        if self.request_log is not None:
            self.request_log.offer(self._values(batch), predictions, skip=bad)
        answers: list[dict[str, Any] | BaseException] = []
        start = 0
        for job in batch:
            end = start + job.rows
            broken = sorted(i - start for i in bad if start <= i < end)
            if broken:
                answers.append(HttpError(500, f"the model predicted NaN or infinity for row {broken[0]}; such "
                                              "values are never returned as numbers", details={"rows": broken}))
                start = end
                continue
            answer: dict[str, Any] = {"predictions": predictions[start:end]}
            if job.proba:
                answer.update(classes=classes, probabilities=proba[start:end])
            if job.ids is not None:
                answer["ids"] = job.ids
            answers.append(answer)
            start = end
        return answers


def create_app(loaded: Any, *, max_batch_size: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               id_columns: Sequence[str] = (), guard: InputGuard | None = None,
               request_log: RequestLog | None = None) -> ServingApp:
    """The ASGI app serving `loaded` (a LoadedModel: `.model` and `.version` with its signature).

    Requests may carry `id_columns` (the spec's `data.id_columns`); they are echoed as `ids`, never scored.
    """
    if max_batch_size < 1 or max_body_bytes < 1:
        raise ValueError("`max_batch_size` and `max_body_bytes` must be at least 1")
    return ServingApp(loaded, max_batch_size=max_batch_size, max_body_bytes=max_body_bytes, id_columns=id_columns,
                      guard=guard, request_log=request_log)
