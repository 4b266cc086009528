"""The `data` and `validation` sections: where data comes from, how it splits, what it must satisfy."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator, model_validator

from .base import Identifier, NonEmptyStr, SecretUse, SpecModel

__all__ = [
    "ColumnRule",
    "CsvSource",
    "Data",
    "DType",
    "ParquetSource",
    "RowCount",
    "Source",
    "Split",
    "SqlSource",
    "SqliteSource",
    "TableRules",
    "Validation",
]

DType = Literal["int", "float", "bool", "string", "category", "datetime"]
Number = StrictInt | StrictFloat


class _FileSource(SpecModel):
    path: NonEmptyStr = Field(description="File path, relative to the spec file.")
    dtypes: dict[str, DType] = Field(default_factory=dict, description="Column dtypes to enforce on read.")


class CsvSource(_FileSource):
    """A CSV file."""

    type: Literal["csv"]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: NonEmptyStr = "utf-8"


class ParquetSource(_FileSource):
    """A Parquet file."""

    type: Literal["parquet"]


class _QuerySource(SpecModel):
    table: NonEmptyStr | None = Field(default=None, description="Table to read whole.")
    query: NonEmptyStr | None = Field(default=None, description="SQL query to run instead of `table`.")

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> _QuerySource:
        if (self.table is None) == (self.query is None):
            msg = "set exactly one of `table` or `query`"
            raise ValueError(msg)
        return self


class SqliteSource(_QuerySource):
    """A table or query in a local SQLite file."""

    type: Literal["sqlite"]
    path: NonEmptyStr = Field(description="SQLite file, relative to the spec file.")


class SqlSource(_QuerySource):
    """A table or query in any SQLAlchemy database; the URL is a secret reference."""

    type: Literal["sql"]
    url: SecretUse = Field(description="SQLAlchemy URL, given as `{secret: NAME}`.")


Source = Annotated[CsvSource | ParquetSource | SqliteSource | SqlSource, Field(discriminator="type")]


class Split(SpecModel):
    """How rows divide into train and test sets."""

    method: Literal["random", "stratified", "time"] = "random"
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.2
    seed: StrictInt = 0
    time_column: NonEmptyStr | None = Field(default=None, description="Required for `method: time`.")

    @model_validator(mode="after")
    def _time_needs_column(self) -> Split:
        if self.method == "time" and self.time_column is None:
            msg = "`method: time` needs `time_column`"
            raise ValueError(msg)
        if self.method != "time" and self.time_column is not None:
            msg = f"`time_column` only applies to `method: time`, not `{self.method}`"
            raise ValueError(msg)
        return self


class Data(SpecModel):
    """Sources, the training source, target and features, and the split."""

    sources: Annotated[dict[Identifier, Source], Field(min_length=1)]
    train_source: Identifier | None = Field(
        default=None, description="Source to train on; may be omitted when there is one source.")
    target: NonEmptyStr
    features: Annotated[list[NonEmptyStr], Field(min_length=1)]
    id_columns: list[NonEmptyStr] = Field(default_factory=list, description="Identifier columns, never features.")
    split: Split = Field(default_factory=Split)

    @field_validator("features")
    @classmethod
    def _unique_features(cls, features: list[str]) -> list[str]:
        seen = [f for i, f in enumerate(features) if f in features[:i]]
        if seen:
            msg = f"feature `{seen[0]}` is listed twice"
            raise ValueError(msg)
        return features

    @property
    def training_source(self) -> str:
        """The name of the source the model trains on."""
        return self.train_source or next(iter(self.sources))


class RowCount(SpecModel):
    """Bounds on the number of rows."""

    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounds_in_order(self) -> RowCount:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        return self


class TableRules(SpecModel):
    """Rules on the whole table."""

    row_count: RowCount | None = None
    duplicate_rows: Literal["allow", "forbid"] = "allow"


class ColumnRule(SpecModel):
    """Rules on one column."""

    dtype: DType | None = None
    nullable: StrictBool = True
    min: Number | None = None
    max: Number | None = None
    allowed: list[StrictStr | StrictInt | StrictFloat | StrictBool] | None = None
    regex: StrictStr | None = None
    unique: StrictBool = False
    max_null_fraction: Annotated[float, Field(ge=0, le=1)] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str | None) -> str | None:
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                msg = f"`{regex}` is not a valid regular expression: {exc}"
                raise ValueError(msg) from None
        return regex

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        if not self.nullable and self.max_null_fraction not in (None, 0):
            msg = "`max_null_fraction` contradicts `nullable: false`"
            raise ValueError(msg)
        return self


class Validation(SpecModel):
    """Data validation rules for the training source; `on_failure` decides whether a breach stops the run."""

    on_failure: Literal["fail", "warn"] = "fail"
    table: TableRules = Field(default_factory=TableRules)
    columns: dict[NonEmptyStr, ColumnRule] = Field(default_factory=dict)
