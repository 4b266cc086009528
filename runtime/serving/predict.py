"""Batch scoring: stream a CSV or Parquet file through a registered model, checked against its signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.registry.models import ModelVersion, Registry
from mlform.specs.errors import StepPartError
from mlform.specs.fsutil import write_atomic_with
from mlform.specs.read.overlays import BASE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHUNK_ROWS", "PredictError", "check_signature", "parse_model_ref", "predict_file", "write_chunks"]

CHUNK_ROWS = 100_000
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class PredictError(StepPartError):
    """Input that cannot be scored: a bad model reference, file format or a signature mismatch."""


def parse_model_ref(text: str) -> tuple[str, int | str]:
    """`NAME@ALIAS` or `NAME@VERSION` -> (name, alias or version number)."""
    name, sep, ref = text.partition("@")
    if not sep or not name or not ref:
        raise PredictError(f"`--model {text}`: expected NAME@ALIAS or NAME@VERSION, e.g. `iris-classifier@staging`")
    return name, int(ref) if ref.isdigit() else ref


def _format(path: Path, option: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PredictError(f"`{option} {path}`: unknown file type; use .csv or .parquet")
    return fmt


def _chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    if _format(path, "--input") == "csv":
        yield from pd.read_csv(path, chunksize=rows)
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        yield batch.to_pandas()


def check_signature(frame: pd.DataFrame, version: ModelVersion) -> pd.DataFrame:
    """The signature's columns of `frame`, in order and cast to their registered dtypes."""
    names = [column["name"] for column in version.signature]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        shown = ", ".join(f"`{m}`" for m in missing)
        raise PredictError(f"input lacks column{'s' if len(missing) > 1 else ''} {shown} of the signature of "
                           f"`{version.name}` version {version.version}")
    features = frame[names]
    for column in version.signature:
        name, dtype = column["name"], column["dtype"]
        if str(features[name].dtype) != dtype:
            try:
                features = features.astype({name: dtype})
            except (ValueError, TypeError):
                raise PredictError(f"input column `{name}` has dtype `{features[name].dtype}` and does not convert "
                                   f"to the signature's `{dtype}`") from None
    return features


def write_chunks(chunks: Iterator[pd.DataFrame], path: Path, fmt: str) -> int:
    """Write the frames `chunks` to `path` as one `csv` or `parquet` file; returns the rows written."""
    rows = 0
    writer: Any = None
    with path.open("wb") as handle:
        for chunk in chunks:
            rows += len(chunk)
            if fmt == "csv":
                chunk.to_csv(handle, index=False, header=writer is None)
                writer = True
                continue
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(handle, table.schema)
            writer.write_table(table.cast(writer.schema))
        if fmt == "parquet" and writer is not None:
            writer.close()
    return rows


def _predicted(model: Any, features: pd.DataFrame, version: ModelVersion, source: Path, root: Path | None) -> Any:
    """The model's predictions; PredictError, naming the project's line it raised at (under `root`), if it raises."""
    from mlform.runtime.steps.usercode import raised_at

    try:
        return model.predict(features)
    except (Exception, SystemExit) as exc:  # the model runs the project's code too (a transformer class)
        text = (str(exc).strip().splitlines() or [""])[0]
        where = raised_at(exc, root) if root is not None else ""
        raise PredictError(f"`{version.name}` version {version.version} cannot score `{source}`: predict raised "
                           f"{type(exc).__name__}{': ' + text if text else ''}{where}") from exc


def predict_file(registry: Registry, name: str, ref: int | str, source: Path, target: Path,
                 chunk_rows: int = CHUNK_ROWS, env: str = BASE, *, explain: bool = False,
                 root: Path | None = None) -> tuple[ModelVersion, int]:
    """Score `source` into `target` (input columns plus `prediction`, and a JSON `explanation` with `explain`), chunk
    by chunk, with version `ref` (a number or an alias of environment `env`); returns (version, rows). A model
    that raises is a PredictError naming the line of the project folder `root` it raised at."""
    _format(source, "--input")
    out_fmt = _format(target, "--output")
    if not source.is_file():
        raise PredictError(f"`--input {source}`: no such file")
    loaded = registry.load(name, ref, env)

    def scored() -> Iterator[pd.DataFrame]:
        for chunk in _chunks(source, chunk_rows):
            features = check_signature(chunk, loaded.version)
            out = chunk.assign(prediction=_predicted(loaded.model, features, loaded.version, source, root))
            if explain:
                import orjson

                from .explain import explain_rows

                out["explanation"] = [orjson.dumps(row).decode() for row in explain_rows(loaded.model, features)]
            yield out

    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        rows = write_chunks(scored(), tmp, out_fmt)

    write_atomic_with(target, write)
    return loaded.version, rows
