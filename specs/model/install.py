"""The `runtime` section: where generated images and workflows install mlform from."""

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, StrictStr, field_validator

from .base import GrownSpecModel

__all__ = ["MlformSource", "Runtime", "parse_source"]

_VERSION = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$")
# a path is copied into an image build with Dockerfile COPY, which expands `$`: keep to plain file-name characters
_PATH = re.compile(r"^[A-Za-z0-9._+/-]+$")
_ARCHIVES = (".whl", ".tar.gz", ".zip")
_EXPECTED = ("expected a version (`0.5.0`), a URL (`git+https://github.com/ORG/mlform@REF`) or a path relative "
             "to the spec's folder (`dist/mlform-0.5.0-py3-none-any.whl`, `./vendor/mlform`)")


@dataclass(frozen=True)
class MlformSource:
    """Where mlform is installed from: a release version, a pip URL, or a path inside the spec's folder."""

    kind: Literal["version", "url", "path"]
    value: str


def parse_source(text: str) -> MlformSource:
    """The install source `text` names; ValueError saying what is wrong."""
    if not text.isprintable():
        raise ValueError("the value holds a line break or another control character")
    if _VERSION.fullmatch(text):
        return MlformSource("version", text)
    if "://" in text:
        if not _URL.fullmatch(text):
            raise ValueError(f"`{text}` is not a URL as RFC 3986 writes it (percent-encode spaces and other "
                             "characters)")
        return MlformSource("url", text)
    if not (text.startswith("./") or text.endswith(_ARCHIVES)):
        raise ValueError(f"`{text}`: {_EXPECTED}")
    if not _PATH.fullmatch(text):
        raise ValueError(f"`{text}`: a path may hold only letters, digits, `.`, `_`, `+`, `-` and `/`")
    normal = posixpath.normpath(text)
    if text.startswith("/") or normal == ".." or normal.startswith("../"):
        raise ValueError(f"`{text}` is outside the spec's folder; images are built from that folder, "
                         "so the path must stay inside it")
    return MlformSource("path", normal)


class Runtime(GrownSpecModel):
    """How the generated images and workflows get mlform."""

    omit_when_default = frozenset({"mlform"})
    mlform: StrictStr | None = Field(
        None, description="What the generated Dockerfiles and workflows install mlform from: a version (`0.5.0`), "
                          "a pip URL (`git+https://github.com/ORG/mlform@REF`), or a wheel or source folder "
                          "inside the spec's folder (`dist/mlform-0.5.0-py3-none-any.whl`, `./vendor/mlform`). "
                          "Default: the version of mlform that compiles the spec.")

    @field_validator("mlform")
    @classmethod
    def _mlform(cls, value: str | None) -> str | None:
        if value is not None:
            parse_source(value)
        return value
