"""A metric's bounds: `min`, `max` or both (gates, slices, monitoring performance)."""

from typing import Self

from pydantic import Field, StrictFloat, StrictInt, model_validator

from .base import SpecModel

__all__ = ["Gate"]

Number = StrictInt | StrictFloat


class Gate(SpecModel):
    """Bounds a metric must meet: `min`, `max` or both."""

    min: Number | None = Field(None, description="The metric must be at least this (inclusive), e.g. `0.9`.")
    max: Number | None = Field(None, description="The metric must be at most this (inclusive), e.g. an error bound.")

    @model_validator(mode="after")
    def _has_a_bound(self) -> Self:
        if self.min is None and self.max is None:
            msg = "a gate needs `min`, `max` or both"
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        return self
