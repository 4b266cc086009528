"""`data.pii` at read time: personal-data columns dropped or hashed before a frame reaches any step or store."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from mlform.runtime.secretref import read_secret
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.model.privacy import HASH_HEX_CHARS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["hash_value", "protect_pii"]


def hash_value(value: object, key: bytes | None) -> str:
    """The documented hash of one value: HMAC-SHA256 keyed with `key` (SHA-256 without), hex, first 16 characters."""
    data = str(value).encode()
    digest = hmac.new(key, data, hashlib.sha256).hexdigest() if key else hashlib.sha256(data).hexdigest()
    return digest[:HASH_HEX_CHARS]


def protect_pii(frame: pd.DataFrame, pipeline: Pipeline) -> pd.DataFrame:
    """`frame` with the spec's PII columns it has dropped or hashed (missing values stay missing)."""
    pii = pipeline.data.pii
    present = [c for c in pii.columns if c in frame.columns] if pii else []
    if not pii or not present:
        return frame
    if pii.action == "drop":
        return frame.drop(columns=present)
    key = read_secret(pipeline, pii.salt.secret).value.encode() if pii.salt else None
    frame = frame.copy()
    for column in present:
        frame[column] = frame[column].map(lambda v: hash_value(v, key), na_action="ignore")
    return frame
