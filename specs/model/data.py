"""The `data` and `validation` sections: where data comes from, how it splits, what it must satisfy."""

import re
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator, model_validator

from .base import FunctionRef, GrownSpecModel, Identifier, NonEmptyStr, SecretUse, SpecModel, empty_list
from .privacy import ColumnMeta, Pii

__all__ = [
    "ColumnRule",
    "CsvSource",
    "Data",
    "DType",
    "ParquetSource",
    "PythonSource",
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
    path: NonEmptyStr = Field(description="File path, relative to the spec file, e.g. `data/train.csv`.")
    dtypes: dict[str, DType] = Field(
        default_factory=dict,
        description="Column -> dtype to convert to on read, e.g. `{zip: string}`; "
                    "other columns keep the dtype inferred from the file.")


class CsvSource(_FileSource):
    """A CSV file."""

    type: Literal["csv"] = Field(description="Source kind: `csv`, a delimited text file with a header row.")
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = Field(
        ",", description="The one-character field separator, e.g. `;` or `|`.")
    encoding: NonEmptyStr = Field("utf-8", description="Text encoding of the file, e.g. `utf-8` or `latin-1`.")


class ParquetSource(_FileSource):
    """A Parquet file."""

    type: Literal["parquet"] = Field(description="Source kind: `parquet`, an Apache Parquet file.")


class _QuerySource(SpecModel):
    table: NonEmptyStr | None = Field(default=None, description="Table to read whole; set this or `query`.")
    query: NonEmptyStr | None = Field(
        default=None, description="SQL query whose result is the data; set this or `table`.")

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> Self:
        if (self.table is None) == (self.query is None):
            msg = "set exactly one of `table` or `query`"
            raise ValueError(msg)
        return self


class SqliteSource(_QuerySource):
    """A table or query in a local SQLite file."""

    type: Literal["sqlite"] = Field(description="Source kind: `sqlite`, a table or query in a local SQLite file.")
    path: NonEmptyStr = Field(description="SQLite database file, relative to the spec file, e.g. `data/warehouse.db`.")


class SqlSource(_QuerySource, GrownSpecModel):
    """A table or query in any SQLAlchemy database; the URL is a secret reference."""

    omit_when_default = frozenset({"fingerprint", "statistic"})
    type: Literal["sql"] = Field(description="Source kind: `sql`, a table or query in any SQLAlchemy database.")
    url: SecretUse = Field(
        description="SQLAlchemy URL (it may hold a password), given as `{secret: NAME}`, never inline.")
    fingerprint: Literal["statistic", "result"] = Field(
        "statistic",
        description="How a plan tells whether the data changed: `statistic` (the default) runs one cheap query "
                    "whose one-row result, with the normalized query, is the fingerprint (the rows are fetched "
                    "only when ingest runs); `result` fetches the whole result and hashes it.")
    statistic: NonEmptyStr | None = Field(
        default=None,
        description="The statistic query for `fingerprint: statistic`, returning one row that changes whenever "
                    "the data does, e.g. `SELECT max(updated_at), count(*) FROM orders`; by default "
                    "`count(*)` over the source (SQLite adds `max(rowid)` for a table, PostgreSQL a checksum "
                    "of every row).")

    @model_validator(mode="after")
    def _statistic_needs_statistic_fingerprint(self) -> Self:
        if self.statistic is not None and self.fingerprint != "statistic":
            msg = f"`statistic` only applies to `fingerprint: statistic`, not `{self.fingerprint}`"
            raise ValueError(msg)
        return self


class PythonSource(SpecModel):
    """Rows a user function returns: called once per file of `path` (a file, a glob or a folder), or once."""

    type: Literal["python"] = Field(description="Source kind: `python`, a DataFrame returned by a user function.")
    function: FunctionRef = Field(
        description="The loader, `module:function` relative to the spec's folder, e.g. "
                    "`steps.ingest:load_file_as_dataframe`; its source file is part of the fingerprint.")
    path: NonEmptyStr | None = Field(
        default=None,
        description="A file, a glob (`data/*.csv`) or a folder, relative to the spec file: the function is called "
                    "with each file's path (and `format`, when it takes two arguments) and the frames are "
                    "concatenated. Without it the function is called once.")
    format: NonEmptyStr | None = Field(
        default=None, description="Passed as the loader's second argument, e.g. `csv`; the file suffix if omitted.")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of every call.")
    dtypes: dict[str, DType] = Field(
        default_factory=dict, description="Column -> dtype to convert to after loading, e.g. `{zip: string}`.")


Source = Annotated[CsvSource | ParquetSource | SqliteSource | SqlSource | PythonSource, Field(discriminator="type")]


class Split(GrownSpecModel):
    """How rows divide into train and test sets."""

    omit_when_default = frozenset({"filter"})
    method: Literal["random", "stratified", "time"] = Field(
        "random", description="`random` shuffles rows; `stratified` keeps the target's class shares in both sets; "
                              "`time` tests on the latest rows by `time_column`.")
    test_size: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.2, description="Share of rows held out for testing, between 0 and 1 exclusive; `0.2` is 20%.")
    seed: StrictInt = Field(0, description="Random seed of the `random` and `stratified` splits, for repeatable runs.")
    time_column: NonEmptyStr | None = Field(
        default=None, description="Column that orders rows in time; required by `method: time` and only allowed there.")
    filter: FunctionRef | None = Field(
        default=None,
        description="A user function `(frame) -> bool Series` applied to the train and test rows after the split; "
                    "rows where it is false are dropped, e.g. `steps.split:create_dataset_filter`.")

    @model_validator(mode="after")
    def _time_needs_column(self) -> Self:
        if self.method == "time" and self.time_column is None:
            msg = "`method: time` needs `time_column`"
            raise ValueError(msg)
        if self.method != "time" and self.time_column is not None:
            msg = f"`time_column` only applies to `method: time`, not `{self.method}`"
            raise ValueError(msg)
        return self


class Data(GrownSpecModel):
    """Sources, the training source, target and features, and the split."""

    omit_when_default = frozenset({"columns_meta", "pii"})
    sources: Annotated[dict[Identifier, Source], Field(min_length=1)] = Field(
        description="Named data sources, e.g. `{train: {type: csv, path: data/train.csv}}`; "
                    "`type` selects csv, parquet, sqlite, sql or python.")
    train_source: Identifier | None = Field(
        default=None, description="Source to train on; may be omitted when there is one source.")
    target: NonEmptyStr = Field(description="Column the model predicts, e.g. `species`.")
    features: Annotated[list[NonEmptyStr], Field(min_length=1)] = Field(
        description="Input columns of the model, in order; the target and id columns may not be among them.")
    id_columns: list[NonEmptyStr] = Field(
        default_factory=empty_list,
        description="Identifier columns kept for joins and reports, never used as features.")
    split: Split = Field(default_factory=Split, description="Train/test split; a seeded random 80/20 split by default.")
    columns_meta: dict[NonEmptyStr, ColumnMeta] = Field(
        default_factory=dict, description="Per column of the data: `owner`, `pii`, `status`, `description`.")
    pii: Pii | None = Field(None, description="Personal-data columns, dropped or hashed before anything is stored.")

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

    min: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Fewest rows allowed (inclusive); no lower bound when omitted.")
    max: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Most rows allowed (inclusive); no upper bound when omitted.")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        return self


class TableRules(SpecModel):
    """Rules on the whole table."""

    row_count: RowCount | None = Field(None, description="Bounds on the number of rows, e.g. `{min: 100}`.")
    duplicate_rows: Literal["allow", "forbid"] = Field(
        "allow", description="`forbid` fails when two rows are identical in every column.")


class ColumnRule(SpecModel):
    """Rules on one column."""

    dtype: DType | None = Field(None, description="Dtype the column must have as read; any dtype when omitted.")
    nullable: StrictBool = Field(True, description="`false` fails on any missing value.")
    min: Number | None = Field(None, description="Smallest allowed value (inclusive); needs a numeric column.")
    max: Number | None = Field(None, description="Largest allowed value (inclusive); needs a numeric column.")
    allowed: list[StrictStr | StrictInt | StrictFloat | StrictBool] | None = Field(
        None, description="The only values allowed, e.g. `[setosa, versicolor]`; missing values are not checked.")
    regex: StrictStr | None = Field(
        None, description="Regular expression every non-missing value must match whole, e.g. `^tx-[0-9]{6}$`.")
    unique: StrictBool = Field(False, description="`true` fails when two rows share a value.")
    max_null_fraction: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Largest share of missing values allowed, from 0 to 1; `0.05` allows 5%.")

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
    def _bounds_in_order(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        if not self.nullable and self.max_null_fraction not in (None, 0):
            msg = "`max_null_fraction` contradicts `nullable: false`"
            raise ValueError(msg)
        return self


class Validation(SpecModel):
    """Data validation rules for the training source; `on_failure` decides whether a breach stops the run."""

    on_failure: Literal["fail", "warn"] = Field(
        "fail", description="`fail` stops the run when a rule is broken; `warn` reports it and goes on.")
    table: TableRules = Field(
        default_factory=TableRules, description="Rules on the whole table: row count, duplicate rows.")
    columns: dict[NonEmptyStr, ColumnRule] = Field(
        default_factory=dict, description="Rules per column: a feature, the target, an id column or the time column.")
