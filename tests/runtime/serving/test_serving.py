"""The model server under real uvicorn on loopback, driven by real HTTP requests, good and malformed."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn
from jsonschema import Draft202012Validator
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlform.runtime.registry.models import LoadedModel, Registry
from mlform.runtime.serving.app import ServingApp, create_app
from mlform.runtime.steps.train import signature_of

MAX_ROWS, MAX_BODY = 50, 8192


def training_frame(rows: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"length": rng.normal(5, 1, rows), "count": rng.integers(0, 10, rows),
                      "color": rng.choice(["red", "green", "blue"], rows), "flag": rng.random(rows) > 0.5})
    y = pd.Series(np.where(X["length"] > 5.3, "long", np.where(X["color"] == "red", "red", "other")))
    return X, y


def register(root: Path, name: str, model: Any, X: pd.DataFrame) -> LoadedModel:
    registry = Registry(root)
    version = registry.register(name, model, signature_of(X), {}, {}).version
    return registry.load(name, version.version)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    X, y = training_frame()
    model = Pipeline([("pre", ColumnTransformer([("onehot", OneHotEncoder(), ["color"])], remainder="passthrough")),
                      ("model", LogisticRegression(max_iter=1000))]).fit(X, y)
    return register(tmp_path_factory.mktemp("registry"), "toy", model, X)


class Server:
    """A uvicorn server on an ephemeral loopback port, in a thread of the test process."""

    def __init__(self, app: ServingApp) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)

    def request(self, method: str, path: str, body: bytes | Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            if body is not None and not isinstance(body, bytes):
                body = json.dumps(body).encode()
            sent = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers={**sent, **(headers or {})})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def predict(self, body: Any) -> tuple[int, Any]:
        status, _, raw = self.request("POST", "/predict", body)
        return status, json.loads(raw)


@pytest.fixture(scope="module")
def server(classifier: LoadedModel) -> Iterator[Server]:
    with Server(create_app(classifier, max_batch_size=MAX_ROWS, max_body_bytes=MAX_BODY)) as running:
        yield running


def records(X: pd.DataFrame) -> list[dict[str, Any]]:
    return X.to_dict(orient="records")


def test_records_and_columns_give_the_models_predictions(server: Server, classifier: LoadedModel) -> None:
    X, _ = training_frame()
    rows = X.iloc[:20]
    expected = classifier.model.predict(rows).tolist()
    status, body = server.predict({"records": records(rows)})
    assert status == 200
    assert body == {"predictions": expected, "model": {"name": "toy", "version": 1}}
    status, body = server.predict({"columns": rows.to_dict(orient="list")})
    assert (status, body["predictions"]) == (200, expected)


def test_probabilities_come_with_their_classes(server: Server, classifier: LoadedModel) -> None:
    X, _ = training_frame()
    status, body = server.predict({"records": records(X.iloc[:3]), "probabilities": True})
    assert status == 200
    assert body["classes"] == classifier.model.classes_.tolist()
    assert np.allclose(body["probabilities"], classifier.model.predict_proba(X.iloc[:3]))


ROW = {"length": 5.0, "count": 3, "color": "red", "flag": True}
BAD_BODIES = [
    (b"{bad", 400, "the body is not valid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)"),
    (b'{"records": [{"length": NaN}]}', 400, None),
    (b"[]", 422, "the body must be a JSON object with `records` or `columns`"),
    ({}, 422, "give exactly one of `records` or `columns`"),
    ({"records": [ROW], "columns": {}}, 422, "give exactly one of `records` or `columns`"),
    ({"rows": [ROW]}, 422, "unknown key `rows`; expected `records` or `columns`, and optionally `probabilities` or "
                           "`explain`"),
    ({"records": []}, 422, "`records` has no rows"),
    ({"records": {"length": 1}}, 422, "`records` must be an array of objects"),
    ({"records": [[5.0, 3, "red", True]]}, 422, "`records[0]` must be an object, not an array"),
    ({"records": [ROW, {k: v for k, v in ROW.items() if k != "flag"}]}, 422, "`records[1]` is missing column `flag`"),
    ({"records": [{**ROW, "size": 2}]}, 422, "`records[0]` has unknown column `size`"),
    ({"records": [{**ROW, "length": "5"}]}, 422,
     "`records[0].length` is a string; column `length` (dtype `float64`) expects a number"),
    ({"records": [ROW, {**ROW, "count": True}]}, 422,
     "`records[1].count` is a boolean; column `count` (dtype `int64`) expects an integer"),
    ({"records": [{**ROW, "count": 2.5}]}, 422, "`records[0].count` is not an integer in the int64 range"),
    ({"records": [{**ROW, "count": 2**63}]}, 422, "`records[0].count` is not an integer in the int64 range"),
    ({"records": [{**ROW, "count": 2**70}]}, 422, "`records[0].count` is not an integer in the int64 range"),
    ({"records": [{**ROW, "length": None}]}, 422, "`records[0].length` is null; column `length` needs a value"),
    ({"records": [{**ROW, "flag": "yes"}]}, 422,
     "`records[0].flag` is a string; column `flag` (dtype `bool`) expects a boolean"),
    ({"records": [ROW] * (MAX_ROWS + 1)}, 413, f"`records` has {MAX_ROWS + 1} rows; the limit (`max_batch_size`) is "
                                               f"{MAX_ROWS}"),
    ({"columns": {"length": [1.0, 2.0], "count": [1], "color": ["red"], "flag": [True]}}, 422,
     "`columns.count` has 1 values but `columns.length` has 2: the arrays in `columns` differ in length"),
    ({"columns": {"length": [1.0], "count": [1], "color": ["red"]}}, 422, "`columns` is missing column `flag`"),
    ({"columns": [[1.0, 1, "red", True]]}, 422, "`columns` must be an object of arrays"),
    ({"columns": {"length": 1.0, "count": [1], "color": ["red"], "flag": [True]}}, 422,
     "`columns.length` must be an array, not a number"),
    ({"columns": {"length": [1.0], "count": [1], "color": [3], "flag": [True]}}, 422,
     "`columns.color[0]` is an integer; column `color` (dtype `str`) expects a string"),
    ({"records": [ROW], "probabilities": "yes"}, 422, "`probabilities` must be true or false"),
    ({"records": [{**ROW, "color": "purple"}]}, 422, None),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_malformed_requests_get_a_clear_error(server: Server, body: Any, status: int, message: str | None) -> None:
    got_status, got = server.predict(body)
    assert got_status == status
    assert set(got) == {"error"}
    if message is not None:
        assert got["error"] == message


def test_the_model_refusing_input_is_a_422_naming_the_problem(server: Server) -> None:
    status, body = server.predict({"records": [{**ROW, "color": "purple"}]})
    assert status == 422 and body["error"].startswith("the model refused the input: ")
    assert "purple" in body["error"]


def test_body_limit_is_enforced_with_and_without_content_length(server: Server) -> None:
    big = json.dumps({"records": [ROW] * 200}).encode()
    assert len(big) > MAX_BODY
    status, _, raw = server.request("POST", "/predict", big)
    assert (status, json.loads(raw)) == (413, {"error": f"the body is larger than the limit of {MAX_BODY} bytes"})
    chunks = [big[i:i + 1024] for i in range(0, len(big), 1024)]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request("POST", "/predict", body=iter(chunks), encode_chunked=True,
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["error"]) == (
        413, f"the body is larger than the limit of {MAX_BODY} bytes")
    conn.close()


@pytest.mark.parametrize(("method", "path", "headers", "status", "message"), [
    ("GET", "/nope", {}, 404, "no route `/nope`; routes: `/predict`, `/health`, `/ready`, `/metrics`, `/openapi.json`"),
    ("GET", "/predict", {}, 405, "`/predict` accepts POST only"),
    ("POST", "/health", {}, 405, "`/health` accepts GET only"),
    ("POST", "/predict", {"Content-Type": "text/csv"}, 415, "`Content-Type` must be `application/json`"),
])
def test_routes_methods_and_media_types(server: Server, method: str, path: str, headers: dict[str, str],
                                        status: int, message: str) -> None:
    got_status, got_headers, raw = server.request(method, path, b"{}" if method == "POST" else None, headers)
    assert (got_status, json.loads(raw)) == (status, {"error": message})
    if status == 405:
        assert got_headers["allow"] == ("POST" if path == "/predict" else "GET")


def test_the_server_keeps_serving_after_garbage(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        reply = raw.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    assert server.request("GET", "/health")[:1] == (200,)
    status, body = server.predict({"records": [ROW]})
    assert status == 200 and len(body["predictions"]) == 1


def test_health_and_ready(server: Server) -> None:
    assert server.request("GET", "/health")[::2] == (200, b'{"status":"ok"}')
    status, _, raw = server.request("GET", "/ready")
    assert (status, json.loads(raw)) == (200, {"status": "ready", "model": {"name": "toy", "version": 1}})


def test_ready_turns_503_on_shutdown(classifier: LoadedModel) -> None:
    app = create_app(classifier, max_batch_size=1)
    sent: list[dict[str, Any]] = []

    async def lifespan_then_ready() -> None:
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(dict(message))

        await app({"type": "lifespan"}, receive, send)
        await app({"type": "http", "path": "/ready", "method": "GET", "headers": []}, receive, send)

    asyncio.run(lifespan_then_ready())
    assert [m["type"] for m in sent[:2]] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert (sent[2]["status"], sent[3]["body"]) == (503, b'{"status":"shutting down"}')


def metric(text: str, series: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(series)}{{{re.escape(wanted)}}} (\S+)$" if labels else
                      rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests_latency_and_name_the_model(server: Server, classifier: LoadedModel) -> None:
    before = server.request("GET", "/metrics")[2].decode()
    server.predict({"records": [ROW, ROW]})
    server.predict({"records": []})
    status, headers, raw = server.request("GET", "/metrics")
    after = raw.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    for code in ("200", "422"):
        delta = (metric(after, "mlform_requests_total", path="/predict", status=code)
                 - metric(before, "mlform_requests_total", path="/predict", status=code))
        assert delta == 1
    assert metric(after, "mlform_predicted_rows_total") - metric(before, "mlform_predicted_rows_total") == 2
    assert metric(after, "mlform_model_calls_total") - metric(before, "mlform_model_calls_total") == 1
    total = sum(float(v) for v in re.findall(r'^mlform_requests_total\{path="/predict",status="\d+"} (\S+)$',
                                             after, re.MULTILINE))
    assert metric(after, "mlform_request_duration_seconds_count", path="/predict") == total
    assert metric(after, "mlform_request_duration_seconds_bucket", path="/predict", le="+Inf") == total
    buckets = [float(v) for v in re.findall(r'^mlform_request_duration_seconds_bucket\{path="/predict",le="[^"]+"} '
                                            r"(\S+)$", after, re.MULTILINE)]
    assert buckets == sorted(buckets)
    assert metric(after, "mlform_model_info", name="toy", version="1", sha256=classifier.version.sha256) == 1


def openapi_validator(doc: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({"$ref": "#/components/schemas/PredictRequest", "components": doc["components"]})


def test_openapi_document_is_3_1_and_its_schema_agrees_with_the_server(server: Server) -> None:
    status, _, raw = server.request("GET", "/openapi.json")
    doc = json.loads(raw)
    assert status == 200 and doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/predict", "/health", "/ready", "/metrics", "/openapi.json"}
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert doc["components"]["schemas"]["Record"]["required"] == ["length", "count", "color", "flag"]
    validator = openapi_validator(doc)
    bodies = [{"records": [ROW]}, {"records": [ROW], "probabilities": True},
              {"columns": {k: [v] for k, v in ROW.items()}}, {"records": [{**ROW, "count": 2.0}]},
              # JSON Schema cannot say "arrays of equal length" nor know the model's categories
              *(b for b, _, m in BAD_BODIES if not isinstance(b, bytes) and "purple" not in json.dumps(b)
                and "differ in length" not in (m or ""))]
    for body in bodies:
        valid = validator.is_valid(body)
        status, answer = server.predict(body)
        assert valid == (status == 200), (body, status, answer)


def test_a_regressor_without_probabilities(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    loaded = register(tmp_path, "reg", LinearRegression().fit(X, 2 * X["a"] + X["b"]), X)
    with Server(create_app(loaded, max_batch_size=5)) as running:
        status, body = running.predict({"records": [{"a": 1.0, "b": 2}]})
        assert status == 200 and body["predictions"] == pytest.approx([4.0])
        status, body = running.predict({"records": [{"a": 1.0, "b": 2}], "probabilities": True})
        assert (status, body) == (422, {"error": "`probabilities`: the model has no `predict_proba`"})
        doc = json.loads(running.request("GET", "/openapi.json")[2])
        assert not openapi_validator(doc).is_valid({"records": [{"a": 1.0, "b": 2}], "probabilities": True})


def test_nullable_signature_columns_take_null(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=5).fit(X, X["b"])
    registry = Registry(tmp_path)
    signature = [{"name": "a", "dtype": "float64", "nullable": True}, {"name": "b", "dtype": "float64"}]
    registry.register("hgb", model, signature, {}, {})
    with Server(create_app(registry.load("hgb", 1), max_batch_size=5)) as running:
        status, body = running.predict({"records": [{"a": None, "b": 2.0}]})
        assert status == 200
        assert body["predictions"] == pytest.approx(model.predict(pd.DataFrame({"a": [np.nan], "b": [2.0]})).tolist())
        assert running.predict({"records": [{"a": 1.0, "b": None}]}) == (
            422, {"error": "`records[0].b` is null; column `b` needs a value"})


def test_columns_trained_with_nulls_take_null(tmp_path: Path) -> None:
    from sklearn.impute import SimpleImputer

    X = pd.DataFrame({"age": [1.0, np.nan, 3.0, 4.0], "size": [1.0, 2.0, 3.0, 4.0],
                      "kind": ["a", None, "b", "a"]})
    assert signature_of(X) == [{"name": "age", "dtype": "float64", "nullable": True},
                               {"name": "size", "dtype": "float64"},
                               {"name": "kind", "dtype": X["kind"].dtype.name, "nullable": True}]
    imputers = ColumnTransformer([("num", SimpleImputer(strategy="median"), ["age", "size"]),
                                  ("cat", Pipeline([("fill", SimpleImputer(strategy="most_frequent")),
                                                    ("onehot", OneHotEncoder())]), ["kind"])])
    model = Pipeline([("pre", imputers), ("lr", LinearRegression())]).fit(X, X["size"])
    loaded = register(tmp_path, "imputed", model, X)
    with Server(create_app(loaded, max_batch_size=5)) as running:
        status, body = running.predict({"records": [{"age": None, "size": 2.0, "kind": None}]})
        assert status == 200, body
        expected = model.predict(pd.DataFrame({"age": [np.nan], "size": [2.0], "kind": [np.nan]}))
        assert body["predictions"] == pytest.approx(expected.tolist())
        assert running.predict({"records": [{"age": 1.0, "size": None, "kind": "a"}]}) == (
            422, {"error": "`records[0].size` is null; column `size` needs a value"})


@pytest.mark.parametrize(("size", "rows"), [(0, 1), (1, 0)])
def test_limits_must_be_positive(classifier: LoadedModel, size: int, rows: int) -> None:
    with pytest.raises(ValueError, match=r"^`max_batch_size` and `max_body_bytes` must be at least 1$"):
        create_app(classifier, max_batch_size=rows, max_body_bytes=size)


async def asgi_predict(app: ServingApp, body: dict[str, Any]) -> tuple[int, Any]:
    """One POST /predict through the app's ASGI interface, without a server."""
    raw = json.dumps(body).encode()
    messages = iter([{"type": "http.request", "body": raw, "more_body": False}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "path": "/predict", "method": "POST",
             "headers": [(b"content-type", b"application/json")]}
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_concurrent_requests_share_one_model_call_and_keep_their_own_answers(classifier: LoadedModel) -> None:
    X, _ = training_frame()
    app = create_app(classifier, max_batch_size=MAX_ROWS)
    bodies: list[dict[str, Any]] = [
        {"records": records(X.iloc[i:i + 3])} if i % 2 else
        {"columns": X.iloc[i:i + 3].to_dict(orient="list"), "probabilities": True} for i in range(0, 24, 3)]

    async def all_at_once() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(asgi_predict(app, body) for body in bodies))

    answers = asyncio.run(all_at_once())
    assert app.metrics.batches == 1 and app.metrics.rows == 24
    for i, (status, answer) in zip(range(0, 24, 3), answers, strict=True):
        rows = X.iloc[i:i + 3]
        assert status == 200 and answer["predictions"] == classifier.model.predict(rows).tolist()
        if i % 2 == 0:
            assert np.allclose(answer["probabilities"], classifier.model.predict_proba(rows))
        else:
            assert "probabilities" not in answer


def test_a_batch_respects_max_batch_size(classifier: LoadedModel) -> None:
    X, _ = training_frame()
    app = create_app(classifier, max_batch_size=5)

    async def all_at_once() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(asgi_predict(app, {"records": records(X.iloc[i:i + 2])}) for i in range(6)))

    answers = asyncio.run(all_at_once())
    assert [status for status, _ in answers] == [200] * 6
    assert (app.metrics.batches, app.metrics.rows) == (3, 12)


def test_a_refused_request_does_not_fail_the_others_in_its_batch(classifier: LoadedModel) -> None:
    app = create_app(classifier, max_batch_size=MAX_ROWS)
    bodies = [{"records": [ROW]}, {"records": [{**ROW, "color": "purple"}]}, {"records": [ROW, ROW]}]

    async def all_at_once() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(asgi_predict(app, body) for body in bodies))

    (ok1, one), (refused, error), (ok2, two) = asyncio.run(all_at_once())
    expected = classifier.model.predict(pd.DataFrame([ROW])).tolist()
    assert (ok1, one["predictions"], ok2, two["predictions"]) == (200, expected, 200, expected * 2)
    assert refused == 422 and error["error"].startswith("the model refused the input: ")


def test_concurrent_http_clients_each_get_their_own_predictions(server: Server, classifier: LoadedModel) -> None:
    X, _ = training_frame()
    results: dict[int, tuple[int, Any]] = {}

    def client(i: int) -> None:
        results[i] = server.predict({"records": records(X.iloc[i * 5:i * 5 + 5])})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for i in range(16):
        status, body = results[i]
        assert status == 200
        assert body["predictions"] == classifier.model.predict(X.iloc[i * 5:i * 5 + 5]).tolist()


IDS = ("order_id", "shop")


@pytest.fixture(scope="module")
def id_server(classifier: LoadedModel) -> Iterator[Server]:
    """The classifier served with the spec's `data.id_columns`: `order_id` and `shop`."""
    with Server(create_app(classifier, max_batch_size=MAX_ROWS, max_body_bytes=MAX_BODY, id_columns=IDS)) as running:
        yield running


def test_id_columns_are_echoed_per_row_and_never_scored(id_server: Server, classifier: LoadedModel) -> None:
    X, _ = training_frame()
    rows = X.iloc[:4]
    ids = [{"order_id": f"o-{i}", "shop": i % 2} for i in range(4)]
    expected = classifier.model.predict(rows).tolist()
    status, body = id_server.predict({"records": [{**ids[i], **row} for i, row in enumerate(records(rows))],
                                      "probabilities": True})
    assert status == 200, body
    assert (body["predictions"], body["ids"]) == (expected, ids)
    assert np.allclose(body["probabilities"], classifier.model.predict_proba(rows))
    columns = {**rows.to_dict(orient="list"), "order_id": [i["order_id"] for i in ids], "shop": [None] * 4}
    status, body = id_server.predict({"columns": columns})
    assert (status, body["predictions"]) == (200, expected)
    assert body["ids"] == [{"order_id": i["order_id"], "shop": None} for i in ids]
    status, body = id_server.predict({"records": records(rows)})  # ids stay optional
    assert status == 200 and "ids" not in body and body["predictions"] == expected


ID_ROW = {**ROW, "order_id": "o-1", "shop": 7}
BAD_ID_BODIES = [
    ({"records": [{**ROW, "order_id": "o-1"}]}, 422,
     "`records[0]` is missing id column `shop`; give every id column (`order_id`, `shop`) or none"),
    ({"records": [ID_ROW, ROW]}, 422,
     "`records[1]` is missing id column `order_id`; give every id column (`order_id`, `shop`) or none"),
    ({"records": [ROW, ID_ROW]}, 422,
     "`records[1]` has id column `order_id` but `records[0]` has none; give the id columns in every record or in none"),
    ({"records": [{**ID_ROW, "size": 2}]}, 422, "`records[0]` has unknown column `size`"),
    ({"records": [{**ID_ROW, "shop": {"id": 7}}]}, 422,
     "`records[0].shop` is an object; id column `shop` takes a string, a number, a boolean or null"),
    ({"columns": {**{k: [v] for k, v in ROW.items()}, "shop": [1]}}, 422,
     "`columns` is missing id column `order_id`; give every id column (`order_id`, `shop`) or none"),
    ({"columns": {**{k: [v] for k, v in ROW.items()}, "order_id": [["o", 1]], "shop": [1]}}, 422,
     "`columns.order_id[0]` is an array; id column `order_id` takes a string, a number, a boolean or null"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_ID_BODIES)
def test_id_columns_all_or_none_and_only_scalars(id_server: Server, body: Any, status: int, message: str) -> None:
    assert id_server.predict(body) == (status, {"error": message})


def test_a_server_without_id_columns_still_refuses_them(server: Server) -> None:
    assert server.predict({"records": [ID_ROW]}) == (422, {"error": "`records[0]` has unknown column `order_id`"})


def test_openapi_describes_id_columns_and_agrees_with_the_server(id_server: Server) -> None:
    doc = json.loads(id_server.request("GET", "/openapi.json")[2])
    schemas = doc["components"]["schemas"]
    assert schemas["Record"]["required"] == ["length", "count", "color", "flag"]
    assert set(schemas["Record"]["properties"]) == {"length", "count", "color", "flag", *IDS}
    validator = openapi_validator(doc)
    # JSON Schema cannot compare one record's keys with another's
    bodies = [{"records": [ID_ROW]}, {"records": [ROW]}, {"columns": {k: [v] for k, v in ID_ROW.items()}},
              *(body for body, _, message in BAD_ID_BODIES if "records[0]` has none" not in message
                and "records[1]" not in message)]
    responses = Draft202012Validator({"$ref": "#/components/schemas/PredictResponse", "components": doc["components"]})
    for body in bodies:
        status, answer = id_server.predict(body)
        assert validator.is_valid(body) == (status == 200), (body, status, answer)
        if status == 200:
            responses.validate(answer)


def test_concurrent_requests_keep_their_own_ids(classifier: LoadedModel) -> None:
    app = create_app(classifier, max_batch_size=MAX_ROWS, id_columns=IDS)
    bodies = [{"records": [{**ROW, "order_id": f"o-{i}-{j}", "shop": i} for j in range(i + 1)]} for i in range(6)]

    async def all_at_once() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(asgi_predict(app, body) for body in bodies))

    answers = asyncio.run(all_at_once())
    assert app.metrics.batches == 1
    for i, (status, answer) in enumerate(answers):
        assert status == 200
        assert answer["ids"] == [{"order_id": f"o-{i}-{j}", "shop": i} for j in range(i + 1)]


def test_a_refused_request_in_a_batch_of_two_does_not_fail_the_other(classifier: LoadedModel) -> None:
    app = create_app(classifier, max_batch_size=MAX_ROWS)
    bodies = [{"records": [ROW]}, {"records": [{**ROW, "color": "purple"}]}]

    async def both_at_once() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(asgi_predict(app, body) for body in bodies))

    (ok, one), (refused, error) = asyncio.run(both_at_once())
    assert (ok, one["predictions"]) == (200, classifier.model.predict(pd.DataFrame([ROW])).tolist())
    assert refused == 422 and error["error"].startswith("the model refused the input: ")


def test_an_app_run_without_lifespan_events_is_ready(classifier: LoadedModel) -> None:
    app = create_app(classifier, max_batch_size=1)
    sent: list[dict[str, Any]] = []

    async def ready() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(dict(message))

        await app({"type": "http", "path": "/ready", "method": "GET", "headers": []}, receive, send)

    asyncio.run(ready())
    assert (sent[0]["status"], json.loads(sent[1]["body"])) == (200, {"status": "ready",
                                                                       "model": {"name": "toy", "version": 1}})
