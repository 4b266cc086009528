"""Examples of a preprocessing step (`model.preprocessing[i].examples`): rows in, rows out, run by `mlform validate`."""

from typing import Annotated, Any

from pydantic import Field

from .base import SpecModel

__all__ = ["TransformerExample"]


class TransformerExample(SpecModel):
    """One unit test of a preprocessing step: the output columns it must produce for an input row."""

    input: Annotated[dict[str, Any], Field(min_length=1)] = Field(
        description="Values of the step's columns, e.g. `{amount: 10.0}`; a list per column gives several rows.")
    output: Annotated[dict[str, Any], Field(min_length=1)] = Field(
        description="Expected output columns by the step's output names (`get_feature_names_out`), e.g. "
                    "`{country_FR: 1.0}`; listed columns only, numbers compared to 1e-6.")
    fit: list[dict[str, Any]] | None = Field(
        None, description="Rows the step is fitted on before transforming `input`; `input` itself when omitted.")
