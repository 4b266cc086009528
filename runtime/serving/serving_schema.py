"""What `/predict` accepts: a request checked against the model's input signature, and its OpenAPI 3.1 document.

A request holds `records` (one object per row) or `columns` (one array per column) and optionally
`probabilities`. Rows may carry the spec's id columns (`data.id_columns`): never given to the model,
they come back as `ids`, one object per row, so callers can join predictions back. Every check raises
HttpError naming the offending key in backticks; nothing here touches the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .httperror import HttpError

__all__ = ["Column", "Parsed", "Signature", "Where", "openapi_document"]

# JSON Schema counts 2.0 as an integer, so integer columns take integral floats too
_KINDS = {"number": (int, float), "integer": (int, float), "boolean": (bool,), "string": (str,),
          "any": (int, float, bool, str)}
_EXPECTS = {"number": "a number", "integer": "an integer", "boolean": "a boolean", "string": "a string",
            "any": "a number, a boolean or a string"}
_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
               dict: "an object", type(None): "null"}
_ID_TYPES = (str, int, float, bool, type(None))
Where = Callable[[str, int], str]


def _kind(dtype: str) -> str:
    """The JSON kind of values a pandas dtype name accepts."""
    low = dtype.lower()
    if low.startswith("float"):
        return "number"
    if low.startswith(("int", "uint")):
        return "integer"
    if low in ("bool", "boolean"):
        return "boolean"
    if low in ("object", "str", "category") or low.startswith("string"):
        return "string"
    return "any"


def _json_type(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class Column:
    """One signature column: its name, dtype, the JSON kind it accepts, and whether null is allowed."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name, self.dtype = str(spec["name"]), str(spec["dtype"])
        self.kind, self.nullable = _kind(self.dtype), bool(spec.get("nullable", False))
        self.types = frozenset(_KINDS[self.kind] + ((type(None),) if self.nullable else ()))

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of one value."""
        base: dict[str, Any] = {"description": f"dtype `{self.dtype}`"}
        types = ["number", "boolean", "string"] if self.kind == "any" else [self.kind]
        if self.kind == "integer":
            base.update(minimum=-(2**63), maximum=2**63 - 1)
        types += ["null"] if self.nullable else []
        return {**base, "type": types[0] if len(types) == 1 else types}

    def check(self, values: list[Any], where: Where) -> None:
        """Refuse the first value of the wrong JSON type, a null where none is allowed, or a non-int64 integer."""
        if not set(map(type, values)) <= self.types:
            i, bad = next((i, v) for i, v in enumerate(values) if type(v) not in self.types)
            if bad is None:
                raise HttpError(422, f"{where(self.name, i)} is null; column `{self.name}` needs a value")
            raise HttpError(422, f"{where(self.name, i)} is {_json_type(bad)}; column `{self.name}` "
                                 f"(dtype `{self.dtype}`) expects {_EXPECTS[self.kind]}")
        if self.kind == "integer":
            bad_int = next((i for i, v in enumerate(values) if v is not None
                            and not (-(2**63) <= v < 2**63 and (type(v) is int or v.is_integer()))), None)
            if bad_int is not None:
                raise HttpError(422, f"{where(self.name, bad_int)} is not an integer in the int64 range")

    def array(self, values: list[Any]) -> Any:
        """Checked `values` as an array of the column's dtype."""
        if self.kind == "number" or (self.kind == "integer" and self.nullable):
            # orjson refuses NaN and infinities, so the only NaN here is a null in a nullable column
            return np.array(values, dtype=np.float64)
        if self.kind == "integer":
            return np.array(values, dtype=np.int64)
        if self.nullable:
            # a null read from CSV or Parquet is NaN, which imputers and encoders treat as missing (None is a category)
            values = [np.nan if v is None else v for v in values]
        if self.dtype == "category":
            return pd.Categorical(values)
        return np.array(values, dtype=bool if self.kind == "boolean" and not self.nullable else object)


class Parsed(NamedTuple):
    """A checked request: the model's input per column, its row count, the probabilities flag, the ids, and how
    to name a value in it (`records[1].length`, `columns.length[1]`: 0-based, as JSON indexes arrays)."""

    values: dict[str, list[Any]]
    rows: int
    proba: bool
    ids: list[dict[str, Any]] | None
    where: Where


class Signature:
    """The model's input columns, the id columns and the row limit; turns a parsed request into checked values."""

    def __init__(self, signature: list[dict[str, Any]], max_batch_size: int, has_probabilities: bool,
                 id_columns: Sequence[str] = ()) -> None:
        self.columns = [Column(c) for c in signature]
        self.names = frozenset(c.name for c in self.columns)
        self.ids = [name for name in id_columns if name not in self.names]
        self.with_ids = self.names | frozenset(self.ids)
        self.max_batch_size, self.has_probabilities = max_batch_size, has_probabilities

    def parse(self, request: Any) -> Parsed:
        """Checked values per column, the row count, whether probabilities were asked for, and the rows' ids."""
        if type(request) is not dict:
            raise HttpError(422, "the body must be a JSON object with `records` or `columns`")
        unknown = [k for k in request if k not in ("records", "columns", "probabilities")]
        if unknown:
            raise HttpError(422, f"unknown key `{unknown[0]}`; expected `records` or `columns`, and optionally "
                                 "`probabilities` or `explain`")
        if ("records" in request) == ("columns" in request):
            raise HttpError(422, "give exactly one of `records` or `columns`")
        want_proba = request.get("probabilities", False)
        if type(want_proba) is not bool:
            raise HttpError(422, "`probabilities` must be true or false")
        if want_proba and not self.has_probabilities:
            raise HttpError(422, "`probabilities`: the model has no `predict_proba`")
        if "records" in request:
            values, rows, where = self._records(request["records"])
        else:
            values, rows, where = self._by_column(request["columns"])
        for column in self.columns:
            column.check(values[column.name], where)
        if self.ids and self.ids[0] in values:  # every id column is there, or the row check refused it
            return Parsed(values, rows, want_proba, self._ids(values, rows, where), where)
        return Parsed(values, rows, want_proba, None, where)

    def _ids(self, values: dict[str, list[Any]], rows: int, where: Where) -> list[dict[str, Any]]:
        """One object of id values per row; ids are echoed, so only JSON scalars."""
        for name in self.ids:
            bad = next((i for i, v in enumerate(values[name]) if type(v) not in _ID_TYPES), None)
            if bad is not None:
                raise HttpError(422, f"{where(name, bad)} is {_json_type(values[name][bad])}; id column `{name}` "
                                     "takes a string, a number, a boolean or null")
        return [{name: values[name][i] for name in self.ids} for i in range(rows)]

    def _rows(self, count: int, key: str) -> None:
        if count == 0:
            raise HttpError(422, f"`{key}` has no rows")
        if count > self.max_batch_size:
            raise HttpError(413, f"`{key}` has {count} rows; the limit (`max_batch_size`) is {self.max_batch_size}")

    def _wanted(self, first: Any) -> frozenset[str]:
        """The keys every row needs: the model's columns, plus every id column when the first row has any."""
        return self.with_ids if any(name in first for name in self.ids) else self.names

    def _columns_of(self, keys: Any, where: str, first: Any) -> None:
        missing = [c.name for c in self.columns if c.name not in keys]
        if missing:
            raise HttpError(422, f"{where} is missing column `{missing[0]}`")
        wanted = self._wanted(first)
        missing = [name for name in self.ids if name in wanted and name not in keys]
        if missing:
            shown = ", ".join(f"`{n}`" for n in self.ids)
            raise HttpError(422, f"{where} is missing id column `{missing[0]}`; give every id column ({shown}) or none")
        extra = next(k for k in keys if k not in wanted)
        if extra in self.ids:
            raise HttpError(422, f"{where} has id column `{extra}` but `records[0]` has none; give the id columns "
                                 "in every record or in none")
        raise HttpError(422, f"{where} has unknown column `{extra}`")

    def _records(self, records: Any) -> tuple[dict[str, list[Any]], int, Where]:
        if type(records) is not list:
            raise HttpError(422, "`records` must be an array of objects")
        self._rows(len(records), "records")
        first = records[0] if type(records[0]) is dict else {}
        wanted = self._wanted(first)
        for i, record in enumerate(records):
            if type(record) is not dict:
                raise HttpError(422, f"`records[{i}]` must be an object, not {_json_type(record)}")
            if len(record) != len(wanted) or record.keys() != wanted:
                self._columns_of(record, f"`records[{i}]`", first)
        values = {name: [r[name] for r in records] for name in wanted}
        return values, len(records), lambda c, i: f"`records[{i}].{c}`"

    def _by_column(self, columns: Any) -> tuple[dict[str, list[Any]], int, Where]:
        if type(columns) is not dict:
            raise HttpError(422, "`columns` must be an object of arrays")
        if columns.keys() != self._wanted(columns):
            self._columns_of(columns, "`columns`", columns)
        lengths: dict[str, int] = {}
        for name, values in columns.items():
            if type(values) is not list:
                raise HttpError(422, f"`columns.{name}` must be an array, not {_json_type(values)}")
            lengths[name] = len(values)
        (first, rows), *rest = lengths.items()
        odd = next(((name, size) for name, size in rest if size != rows), None)
        if odd is not None:
            raise HttpError(422, f"`columns.{odd[0]}` has {odd[1]} values but `columns.{first}` has {rows}: the arrays "
                                 "in `columns` differ in length")
        self._rows(rows, "columns")
        return columns, rows, lambda c, i: f"`columns.{c}[{i}]`"


def openapi_document(name: str, version: int | str, signature: list[dict[str, Any]], max_batch_size: int,
                     has_probabilities: bool, id_columns: Sequence[str] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server for one model's signature and id columns."""
    columns = [Column(c) for c in signature]
    names = [c.name for c in columns]
    ids = [i for i in id_columns if i not in names]
    id_value = {"type": ["string", "number", "boolean", "null"], "description": "An id column: echoed in `ids`, "
                                                                                "never given to the model."}
    all_or_none = {"dependentRequired": {i: [o for o in ids if o != i] for i in ids}} if len(ids) > 1 else {}
    record = {"type": "object", "properties": {**{c.name: c.schema() for c in columns}, **{i: id_value for i in ids}},
              "required": names, "additionalProperties": False, **all_or_none}
    by_column = {"type": "object", "required": names, "additionalProperties": False, **all_or_none,
                 "properties": {**{c.name: {"type": "array", "items": c.schema(), "minItems": 1,
                                            "maxItems": max_batch_size} for c in columns},
                                **{i: {"type": "array", "items": id_value, "minItems": 1, "maxItems": max_batch_size}
                                   for i in ids}}}
    request = {
        "type": "object", "additionalProperties": False,
        "oneOf": [{"required": ["records"], "not": {"required": ["columns"]}},
                  {"required": ["columns"], "not": {"required": ["records"]}}],
        "properties": {
            "records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}, "minItems": 1,
                        "maxItems": max_batch_size, "description": "One object per row."},
            "columns": {**by_column, "description": "One array per column, all of the same length."},
            "probabilities": {"type": "boolean", "default": False, "description": "Also return class probabilities."}
            if has_probabilities else {"const": False, "description": "The model has no class probabilities."},
            "explain": {"type": "boolean", "default": False,
                        "description": "Also return each row's transformed feature values and contributions."}}}
    response = {"type": "object", "required": ["predictions", "model"], "properties": {
        "predictions": {"type": "array", "items": {}},
        "model": {"type": "object", "required": ["name", "version"],
                  "properties": {"name": {"type": "string"}, "version": {"type": ["integer", "string"]}}},
        **({"classes": {"type": "array"}, "probabilities": {"type": "array", "items": {
            "type": "array", "items": {"type": "number"}}}} if has_probabilities else {}),
        "explanations": {"type": "array", "description": "Per row, when asked: `features`, and `contributions` with "
                                                         "`base` for linear and tree models.",
                         "items": {"type": "object", "required": ["features"]}},
        **({"ids": {"type": "array", "description": "The id columns of each row, when the request gave them.",
                    "items": {"type": "object", "required": ids, "additionalProperties": False,
                              "properties": {i: id_value for i in ids}}}} if ids else {})}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    status = {"type": "object", "properties": {"status": {"type": "string"}}}

    def answer(description: str, schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
        return {"description": description, "content": {media: {"schema": schema}}}

    def get(operation: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"operationId": operation, "summary": summary, "responses": responses}}

    fails = {code: answer(text, {"$ref": "#/components/schemas/Error"}) for code, text in (
        ("400", "The body is not valid JSON."), ("413", "The body or the number of rows is over the limit."),
        ("415", "The body is not `application/json`."), ("422", "The rows do not fit the model's input signature."))}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{name} model server", "version": str(version),
                 "description": f"Serves version {version} of model `{name}`."},
        "paths": {
            "/predict": {"post": {
                "operationId": "predict", "summary": "Score rows with the model.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
                "responses": {"200": answer("Predictions, one per row.",
                                            {"$ref": "#/components/schemas/PredictResponse"}), **fails}}},
            "/health": get("health", "Liveness.", {"200": answer("The process serves requests.", status)}),
            "/ready": get("ready", "Readiness.", {"200": answer("The model is loaded.", status),
                                                  "503": answer("The server is shutting down.", status)}),
            "/metrics": get("metrics", "Prometheus metrics.", {"200": answer(
                "Metrics in the Prometheus text format.", {"type": "string"}, "text/plain")}),
            "/openapi.json": get("openapi", "This document.", {"200": answer("The OpenAPI document.",
                                                                             {"type": "object"})}),
        },
        "components": {"schemas": {"Record": record, "PredictRequest": request, "PredictResponse": response,
                                   "Error": error}},
    }
