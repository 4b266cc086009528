"""The `s3` backend: every document and file an object under `s3://bucket/prefix`, on any S3 API.

The endpoint, credentials and region come from boto3's standard chain (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance or OIDC roles), never from the URL.
A document's version is its ETag; writes are conditional (`If-None-Match: *` for "must not exist",
`If-Match: <etag>` for "unchanged since read"), so two writers never lose an update. A lock is the object
`<prefix>/<name>.lock`, created with `If-None-Match: *` and holding the holder's record, as Terraform's S3
backend does: nothing on the server notices its holder dying, so a dead holder's lock stays until
`force_unlock` with its ID removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mlform.specs.fsutil import file_sha256, write_atomic_with

from .base import ABSENT, ANY, Backend, BackendError, ConflictError, Doc, Expect, LockHeldError, LockInfo, check_key

__all__ = ["S3Backend"]

_LOCK_SUFFIX = ".lock"
_POLL = 0.2
_READERS = 16  # concurrent GETs of one read_many: a 1,000-spec plan reads its states in parallel
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_REFUSED = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_BUCKET_REFUSED = {  # HEAD replies have no body: say what the status means
    "404": "bucket `{bucket}` does not exist",
    "403": "access to bucket `{bucket}` is denied: check the AWS credentials (AWS_ACCESS_KEY_ID and "
           "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role) and the bucket's policy",
    "400": "bucket `{bucket}` refused the request: check the region (AWS_REGION) and the endpoint "
           "(AWS_ENDPOINT_URL)",
}
_SESSIONS: dict[tuple[tuple[str, str], ...], Any] = {}
_SESSIONS_LOCK = threading.Lock()
_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                 max_pool_connections=_READERS)


def _code(exc: ClientError) -> str:
    """The S3 error code (`NoSuchKey`, `PreconditionFailed`, or the HTTP status for bodiless replies)."""
    return str(exc.response.get("Error", {}).get("Code") or exc.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", ""))


def _detail(exc: Exception) -> str:
    """A client error on one line, without the request details botocore prefixes."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = error.get("Message") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return " ".join(f"{_code(exc)}: {message}".split())
    return " ".join(str(exc).split()) or type(exc).__name__


def _client() -> Any:
    """A new S3 client; clients share a boto3 session per set of AWS variables (a new session loads S3's model)."""
    aws = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
    with _SESSIONS_LOCK:  # sessions are not thread-safe, their clients are
        session = _SESSIONS.get(aws) or _SESSIONS.setdefault(aws, boto3.session.Session())
        return session.client("s3", config=_CONFIG)


class S3Backend(Backend):
    """State as objects under one bucket prefix; files there too, or in `artifacts` (a folder or S3 backend)."""

    kind = "s3"

    def __init__(self, url: str, *, artifacts: Backend | None = None) -> None:
        """Check that the bucket of `s3://bucket/prefix` answers with the configured credentials."""
        super().__init__()
        parts = urlsplit(url)
        self.shown, self.artifacts = f"s3://{parts.netloc}{parts.path}", artifacts
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        if not self.bucket:
            raise BackendError(f"s3 backend {url}: no bucket: expected s3://bucket/prefix")
        with self._calling("reach the bucket"):
            self._client = _client()
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) not in _BUCKET_REFUSED:
                    raise
                problem = _BUCKET_REFUSED[_code(exc)].format(bucket=self.bucket)
                raise BackendError(f"s3 backend {self.shown}: {problem}") from None

    def describe(self) -> str:
        """The bucket and prefix, and where files go."""
        files = f", files in {self.artifacts.describe()}" if self.artifacts else ""
        return f"s3 backend {self.shown}{files}"

    def _object(self, key: str) -> str:
        """The object name of `key`."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _calling(self, action: str, key: str = "", expect: Expect = ANY) -> Iterator[None]:
        """Turn a client error into ConflictError (a refused precondition) or one BackendError line."""
        try:
            yield
        except ClientError as exc:
            code = _code(exc)
            if expect is not ANY and (code in _REFUSED or (expect is not ABSENT and code in _MISSING)):
                what = f"already exists in {self.shown}" if expect is ABSENT else \
                    f"changed in {self.shown} since it was read"
                raise ConflictError(f"{key} {what}") from None
            raise BackendError(f"s3 backend {self.shown}: cannot {action}: {_detail(exc)}") from None
        except BotoCoreError as exc:  # no endpoint, no credentials, a timeout
            raise BackendError(f"s3 backend {self.shown}: cannot {action}: {_detail(exc)}") from None

    def read(self, key: str) -> Doc | None:
        """The object's bytes and ETag."""
        with self._calling(f"read {key}"):
            try:
                reply = self._client.get_object(Bucket=self.bucket, Key=self._object(key))
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            return Doc(reply["Body"].read(), str(reply["ETag"]))

    def _exists(self, key: str) -> bool:
        """Whether an object `key` exists."""
        with self._calling(f"look up {key}"):
            try:
                self._client.head_object(Bucket=self.bucket, Key=self._object(key))
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return False
                raise
            return True

    def read_many(self, keys: Sequence[str]) -> dict[str, Doc]:
        """The documents among `keys`, fetched by a small pool of concurrent GETs."""
        if len(keys) <= 1:
            return super().read_many(keys)
        with ThreadPoolExecutor(max_workers=min(_READERS, len(keys))) as pool:
            found = dict(zip(keys, pool.map(self.read, keys), strict=True))
        return {key: doc for key, doc in found.items() if doc is not None}

    def _put(self, key: str, data: bytes, expect: Expect) -> str:
        """A conditional PUT of `data` at `key`; the new ETag."""
        condition = {} if expect is ANY else {"IfNoneMatch": "*"} if expect is ABSENT else {"IfMatch": expect}
        with self._calling(f"write {key}", key, expect):
            reply = self._client.put_object(Bucket=self.bucket, Key=self._object(key), Body=data, **condition)
        return str(reply["ETag"])

    def write(self, key: str, data: bytes, *, expect: Expect = ANY) -> str:
        """PUT with `If-None-Match: *` or `If-Match: <etag>` as `expect` says."""
        return self._put(key, data, expect)

    def delete(self, key: str, *, expect: Expect = ANY) -> None:
        """DELETE, with `If-Match` when a version is expected."""
        if expect is ABSENT:
            if self.read(key) is not None:
                raise ConflictError(f"{key} already exists in {self.shown}")
            return
        condition = {} if expect is ANY else {"IfMatch": expect}
        with self._calling(f"delete {key}", key, expect):
            self._client.delete_object(Bucket=self.bucket, Key=self._object(key), **condition)

    def keys(self, prefix: str) -> list[str]:
        """Objects under the prefix, listed page by page, without lock objects."""
        base = f"{self.prefix}/" if self.prefix else ""
        found: set[str] = set()
        with self._calling("list keys"):
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                                 Prefix=base + prefix):
                found.update(item["Key"][len(base):] for item in page.get("Contents", [])
                             if not item["Key"].endswith(_LOCK_SUFFIX))
        if self.artifacts is not None:
            found.update(self.artifacts.keys(prefix))
        return sorted(found)

    def put_file(self, key: str, source: Path) -> str:
        """Upload `source` (multipart when large), its sha256 kept in the object's metadata."""
        if self.artifacts is not None:
            return self.artifacts.put_file(key, source)
        sha256 = file_sha256(source)
        with self._calling(f"upload {key}"):
            self._client.upload_file(str(source), self.bucket, self._object(key), Config=TransferConfig(),
                                     ExtraArgs={"Metadata": {"sha256": sha256}})
        return sha256

    def get_file(self, key: str, dest: Path, sha256: str) -> None:
        """Download to a temp file beside `dest`, check the digest, then rename it into place."""
        if self.artifacts is not None:
            self.artifacts.get_file(key, dest, sha256)
            return
        if not self._exists(key):
            raise BackendError(f"{key} is missing from {self.describe()}")

        def fill(tmp: Path) -> None:
            with self._calling(f"download {key}"):
                self._client.download_file(self.bucket, self._object(key), str(tmp), Config=TransferConfig())
            actual = file_sha256(tmp)
            if actual != sha256:
                raise BackendError(f"{key} in {self.describe()} has {actual}, expected {sha256}: it was changed "
                                   "or damaged")

        write_atomic_with(dest, fill)

    def _holder_doc(self, name: str) -> tuple[LockInfo, str] | None:
        """The holder record in the lock object of `name`, and the object's ETag."""
        doc = self.read(name + _LOCK_SUFFIX)
        if doc is None:
            return None
        try:
            return LockInfo(**json.loads(doc.data)), doc.version
        except (ValueError, TypeError):
            raise BackendError(f"the lock object of {name} in {self.shown} is not a holder record") from None

    def holder(self, name: str) -> LockInfo | None:
        """The record in the lock object, if there is one."""
        found = self._holder_doc(name)
        return found[0] if found else None

    @contextlib.contextmanager
    def lock(self, name: str, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Create the lock object with `If-None-Match: *`, polling until `timeout`; delete it (if still ours)."""
        deadline = time.monotonic() + timeout
        while True:
            info = LockInfo.mine(operation)
            try:
                etag = self._put(name + _LOCK_SUFFIX, json.dumps(asdict(info), sort_keys=True).encode(), ABSENT)
                break
            except ConflictError:
                found = self._holder_doc(name)
                if found is not None and found[0].id == info.id:  # a retried PUT whose first attempt succeeded
                    etag = found[1]
                    break
                if time.monotonic() >= deadline:
                    raise LockHeldError(self._held(name)) from None
                time.sleep(_POLL)
        try:
            yield info
        finally:
            try:
                self.delete(name + _LOCK_SUFFIX, expect=etag)
            except ConflictError:
                self.notes.append(f"the lock {name} was force-unlocked while this run held it")

    def _held(self, name: str) -> str:
        """Who holds `name`, and how to clear the lock if that run is gone."""
        who = self.holder(name)
        if who is None:
            return f"{name} is locked by another run"
        return f"{name} is locked: {who.describe()}; if that run is gone, clear it with `mlform force-unlock {who.id}`"

    def force_unlock(self, name: str, lock_id: str) -> LockInfo:
        """Delete the lock object if its holder's ID is `lock_id` (and it did not change meanwhile)."""
        found = self._holder_doc(name)
        if found is None:
            raise BackendError(f"{name} is not locked")
        info, etag = found
        if info.id != lock_id:
            raise BackendError(f"lock ID `{lock_id}` does not match the holder's ID `{info.id}`")
        self.delete(name + _LOCK_SUFFIX, expect=etag)
        return info

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()
        if self.artifacts is not None:
            self.artifacts.close()
