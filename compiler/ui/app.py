"""The read-only ASGI app of `mlform ui`: each page and its JSON twin under `/api/...`, plus its own static files.

Safe by default: GET and HEAD only (anything else 405), a strict Content-Security-Policy (scripts and styles only
from this app; drift reports and model cards, which carry their own inline style, get one that allows no script
at all), no framing, no sniffing. URLs name specs, models and reports by key, looked up in what the UI found:
no path from a URL ever reaches the file system, and encoded dots or slashes are refused outright.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from mlform.runtime.htmlpage import escape
from mlform.runtime.serving.httperror import HttpError  # the one "server refuses a request" error

from . import PROBE_PATH, data, pages, pages_runs, runsdata
from .sources import Sources

__all__ = ["API", "CSP", "UiApp", "create_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
_STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
# a raw path holding an encoded dot, slash or backslash, or a `..` segment, is refused before routing
_TRAVERSAL = re.compile(rb"%2e|%2f|%5c|\\|(^|/)\.\.(/|$)", re.IGNORECASE)
_LOG = logging.getLogger("mlform.ui")

# page path -> (its JSON twin, what it shows); the README documents the same table
API = {"/": ("/api/pipelines", "each spec and environment: state, last apply, step graph, each step's last result"),
       "/runs": ("/api/runs", "one page of runs: `sort`, `q`, `spec`, `env`, `status`, `page`, `per`"),
       "/compare": ("/api/compare", "runs side by side (`run=ID` twice or more) and the keys that differ"),
       "/models": ("/api/models", "versions, sha256, lineage, aliases per environment, gates, champion"),
       "/plans": ("/api/plans", "saved plan files and the last plan per environment"),
       "/monitoring": ("/api/monitoring", "drift reports per environment in time order"),
       "/audit": ("/api/audit", "each audit log, every entry checked against the one before")}


class UiApp:
    """The ASGI callable over the specs under one folder."""

    def __init__(self, root: Path) -> None:
        self.sources = Sources(root)
        folder = resources.files("mlform.templates") / "ui"
        self.static = {name: (folder / name).read_bytes() for name in _STATIC}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].removeprefix("lifespan.")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        csp, headers = CSP, [(b"content-type", b"text/html; charset=utf-8")]
        try:
            if scope["method"] not in ("GET", "HEAD"):
                headers.append((b"allow", b"GET, HEAD"))
                raise HttpError(405, "the UI is read-only: GET and HEAD only")
            raw = scope.get("raw_path") or scope["path"].encode()
            if _TRAVERSAL.search(raw.split(b"?")[0]):
                raise HttpError(400, "refused: the path holds `..` or an encoded dot, slash or backslash")
            status, body, content_type, csp = self.route(scope["path"], parse_qs(scope.get("query_string", b"")
                                                                                   .decode("latin-1")))
            headers = [(b"content-type", content_type.encode())]
        except HttpError as exc:
            status, body = exc.status, self._error(exc, scope["path"])
        except Exception:  # noqa: BLE001 - a page that fails answers 500 and the UI keeps serving
            _LOG.exception("unexpected error on %s", scope["path"])
            status, body = 500, self._error(HttpError(500, "internal error (see the server's log)"), scope["path"])
        headers += [(b"content-length", str(len(body)).encode()), (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    @staticmethod
    def _error(exc: HttpError, path: str) -> bytes:
        if path.startswith("/api/"):
            return orjson.dumps({"error": exc.message, "status": exc.status})
        return pages.layout(f"{exc.status}", "", f'<p class="note">{escape(exc.message)}</p>', "/api").encode()

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str, str]:
        """Status, body, content type and Content-Security-Policy of GET `path`."""
        single = {k: v[-1] for k, v in query.items()}
        if path.startswith("/static/"):
            name = path.removeprefix("/static/")
            if name not in self.static:
                raise HttpError(404, f"no static file `{name}`")
            return 200, self.static[name], _STATIC[name], CSP
        if path in (PROBE_PATH, f"{PROBE_PATH}/"):
            return self._json({"endpoints": [{"page": page, "api": api, "shows": shows}
                                             for page, (api, shows) in API.items()]})
        if path.startswith("/report/"):
            return self._report(path.removeprefix("/report/"))
        if path.startswith("/card/"):
            return self._card(path.removeprefix("/card/"))
        gathered = self._gather(path.removeprefix("/api") if path.startswith("/api/") else path, single, query)
        if path.startswith("/api/"):
            return self._json(gathered)
        render = {"/": pages.pipelines_page, "/runs": pages_runs.runs_page, "/models": pages.models_page,
                  "/plans": pages_runs.plans_page, "/monitoring": pages_runs.monitoring_page,
                  "/audit": pages.audit_page}
        if path == "/compare":
            api = "/api/compare?" + "&".join(f"run={r}" for r in query.get("run", []))
            return 200, pages_runs.compare_page(gathered, api).encode(), "text/html; charset=utf-8", CSP
        return 200, render[path](gathered).encode(), "text/html; charset=utf-8", CSP

    def _gather(self, page: str, single: dict[str, str], query: dict[str, list[str]]) -> dict[str, Any]:
        page = "/" if page == "/pipelines" else page
        if page == "/runs":
            return runsdata.runs_data(self.sources, single)
        if page == "/compare":
            return runsdata.compare_data(self.sources, query.get("run", []))
        gather = {"/": data.pipelines_data, "/models": data.models_data, "/plans": data.plans_data,
                  "/monitoring": runsdata.monitoring_data, "/audit": data.audit_data}.get(page)
        if gather is None:
            raise HttpError(404, f"no page `{page}`")
        return gather(self.sources)

    @staticmethod
    def _json(payload: Any) -> tuple[int, bytes, str, str]:
        body = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
        return 200, body, "application/json", CSP

    def _entry(self, key: str) -> Any:
        try:
            return self.sources.entry(key)
        except KeyError:
            raise HttpError(404, f"no spec `{key}`") from None

    def _report(self, rest: str) -> tuple[int, bytes, str, str]:
        """`/report/<spec>/<env>/<fingerprint>[.json]`: a drift report the monitor step wrote."""
        key, _, tail = rest.rpartition("/")
        key, _, env = key.rpartition("/")
        fingerprint, is_json = tail.removesuffix(".json"), tail.endswith(".json")
        found = runsdata.report_file(self.sources, self._entry(key), env, fingerprint, "json" if is_json else "html")
        if found is None:
            raise HttpError(404, f"no drift report `{fingerprint}` for `{key}` in `{env}`")
        if is_json:
            return 200, found.read_bytes(), "application/json", CSP
        return 200, found.read_bytes(), "text/html; charset=utf-8", _REPORT_CSP

    def _card(self, rest: str) -> tuple[int, bytes, str, str]:
        """`/card/<spec>/<model>/<version>`: the model card of a registered version, as HTML."""
        from mlform.compiler.governance.card import Subject, gather
        from mlform.compiler.governance.cardviews import render_card
        from mlform.specs.errors import StateError

        key, _, number = rest.rpartition("/")
        key, _, model = key.rpartition("/")
        entry = self._entry(key)
        registry = self.sources.registry(entry)
        if registry is None or not number.isdigit():
            raise HttpError(404, f"no version `{number}` of `{model}`")
        try:
            version = registry.resolve(model, int(number))
        except StateError:
            raise HttpError(404, f"no version `{number}` of `{model}`") from None
        spec = entry.specs.get(str(version.lineage.get("env")), next(iter(entry.specs.values())))
        card = render_card(gather(Subject(version, registry, spec)), "html")
        return 200, card.encode(), "text/html; charset=utf-8", _REPORT_CSP


def create_app(root: Path, *, warm: bool = False) -> UiApp:
    """The UI over the specs under `root`; `warm` loads every spec and step graph now, not on the first request."""
    app = UiApp(root)
    if warm:
        data.pipelines_data(app.sources)
    return app
