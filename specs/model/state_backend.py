"""`state.backend`: where a project's state, locks, records, registry, runs and audit log live."""

from typing import Annotated, Literal

from pydantic import Field

from .base import NonEmptyStr, SecretUse, SpecModel, section_default

__all__ = ["BUCKET", "LocalStateBackend", "PostgresStateBackend", "S3StateBackend", "StateBackend", "StateSettings"]

BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_PREFIX = r"^([A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*)?$"


class LocalStateBackend(SpecModel):
    """Files in a folder: the default, `.mlform/` beside the spec (or `$MLFORM_HOME`)."""

    kind: Literal["local"] = Field(description="Backend kind: `local`, files in a folder.")
    path: NonEmptyStr | None = Field(
        None, description="Folder relative to the spec file, e.g. a shared mount; `.mlform/` when omitted.")


class PostgresStateBackend(SpecModel):
    """One PostgreSQL database; the lock is released by the server when its holder dies."""

    kind: Literal["postgres"] = Field(description="Backend kind: `postgres`, one PostgreSQL database.")
    url: SecretUse = Field(
        description="`postgresql://user:password@host:port/db`, given as `{secret: NAME}`, never inline.")


class S3StateBackend(SpecModel):
    """Objects under a prefix of any S3 API; the endpoint and credentials come from the standard AWS variables."""

    kind: Literal["s3"] = Field(description="Backend kind: `s3`, objects in a bucket of any S3 API.")
    bucket: Annotated[str, Field(pattern=BUCKET)] = Field(description="Bucket name, e.g. `ml-state`.")
    prefix: Annotated[str, Field(pattern=_PREFIX)] = Field(
        "", description="Key prefix inside the bucket, e.g. `teams/risk`; the bucket's root if empty.")


StateBackend = Annotated[LocalStateBackend | PostgresStateBackend | S3StateBackend, Field(discriminator="kind")]


class StateSettings(SpecModel):
    """Where mlform keeps what it knows between commands."""

    backend: StateBackend = Field(
        default_factory=section_default(LocalStateBackend, kind="local"),
        description="`{kind: local}` (default), `{kind: postgres, url: {secret: NAME}}` or "
                    "`{kind: s3, bucket: NAME, prefix: PATH}`; `$MLFORM_BACKEND` overrides it.")
