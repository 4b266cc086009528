"""Hyperparameter search (`model.tuning`) and batch scoring (`scoring`): the spec sections."""

from typing import Annotated, Any, Literal, Self

from pydantic import Discriminator, Field, StrictFloat, StrictInt, Tag, model_validator

from .base import ALIAS, Identifier, NonEmptyStr, SpecModel

__all__ = ["DISTRIBUTIONS", "Distribution", "Scoring", "ScoringOutput", "Tuning"]

Number = StrictInt | StrictFloat
# name -> what it draws, for help texts and messages
DISTRIBUTIONS = {
    "uniform": "a number between `low` and `high`",
    "loguniform": "a number between `low` and `high` (both above 0), uniform on a log scale",
    "randint": "an integer from `low` up to, not including, `high`",
    "quniform": "`round(uniform(low, high) / q) * q`: an integer when `low`, `high` and `q` are integers",
}


class Distribution(SpecModel):
    """Values a random search draws for one parameter."""

    distribution: Literal["uniform", "loguniform", "randint", "quniform"] = Field(
        description="; ".join(f"`{name}`: {gloss}" for name, gloss in DISTRIBUTIONS.items()) + ".")
    low: Number = Field(description="Lower bound (included).")
    high: Number = Field(description="Upper bound.")
    q: Annotated[Number, Field(gt=0)] | None = Field(None, description="Step of `quniform`, e.g. `1` or `0.05`.")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        kind = self.distribution
        if self.low >= self.high:
            msg = f"`low` ({self.low}) must be below `high` ({self.high})"
            raise ValueError(msg)
        if kind == "loguniform" and self.low <= 0:
            msg = f"`loguniform` needs `low` above 0; got {self.low}"
            raise ValueError(msg)
        if kind == "randint" and not (isinstance(self.low, int) and isinstance(self.high, int)):
            msg = "`randint` needs integer `low` and `high`"
            raise ValueError(msg)
        if (kind == "quniform") != (self.q is not None):
            msg = "`q` is the step of `quniform`, and `quniform` needs it" if kind == "quniform" else \
                f"`q` applies only to `quniform`, not `{kind}`"
            raise ValueError(msg)
        return self


# a list is a choice, anything else is read as a distribution (so its errors are about the distribution)
Searched = Annotated[
    Annotated[Annotated[list[Any], Field(min_length=1)], Tag("choice")] | Annotated[Distribution, Tag("drawn")],
    Discriminator(lambda value: "choice" if isinstance(value, list) else "drawn"),
]


class Tuning(SpecModel):
    """A hyperparameter search on the training rows, by cross-validation; the best params train the model."""

    method: Literal["random", "grid"] = Field(
        "random", description="`random`: `trials` draws from `params`; `grid`: every combination of the listed values.")
    trials: Annotated[int, Field(ge=1, le=10000)] | None = Field(
        None, description="Candidates a `random` search tries (default 10); a grid tries every combination.")
    metric: NonEmptyStr | None = Field(
        None, description="Metric the search maximises or minimises (by its direction); the first of "
                          "`evaluation.metrics` if omitted. Custom metrics work too.")
    cv: Annotated[int, Field(ge=2, le=100)] = Field(3, description="Cross-validation folds of the training rows.")
    seed: Annotated[int, Field(ge=0)] = Field(0, description="Seed of the draws and of the folds' shuffle.")
    params: dict[NonEmptyStr, Searched] = Field(
        min_length=1, description="Per estimator parameter: a list of values to choose from, or "
                                  "`{distribution: uniform|loguniform|randint|quniform, low, high, q}`. "
                                  "Each candidate's params override `model.params`.")

    @model_validator(mode="after")
    def _method_fits(self) -> Self:
        if self.method == "grid":
            if self.trials is not None:
                msg = "`trials` applies to `method: random`; a grid tries every combination"
                raise ValueError(msg)
            drawn = [name for name, values in self.params.items() if isinstance(values, Distribution)]
            if drawn:
                msg = f"`method: grid` needs a list of values per parameter; `{drawn[0]}` has a distribution"
                raise ValueError(msg)
        return self

    @property
    def candidates(self) -> int:
        """How many candidates the search tries."""
        if self.method == "random":
            return self.trials or 10
        count = 1
        for values in self.params.values():
            count *= len(values) if isinstance(values, list) else 1
        return count


class ScoringOutput(SpecModel):
    """Where batch predictions are written."""

    path: NonEmptyStr = Field(description="Output file, relative to the spec, e.g. `predictions/scores.parquet`.")
    format: Literal["parquet", "csv"] | None = Field(
        None, description="`parquet` or `csv`; from the file's suffix if omitted.")

    @model_validator(mode="after")
    def _known_format(self) -> Self:
        if self.format is None and not self.path.endswith((".parquet", ".csv")):
            msg = f"cannot tell the format of `{self.path}` from its suffix; set `format: parquet` or `format: csv`"
            raise ValueError(msg)
        return self

    @property
    def kind(self) -> str:
        """The output's format, as declared or by suffix."""
        return self.format or ("csv" if self.path.endswith(".csv") else "parquet")


class Scoring(SpecModel):
    """A batch scoring step: the registered model scores a data source; predictions go to a file."""

    source: Identifier = Field(description="The data source to score, e.g. `scoring`; it needs the features.")
    output: ScoringOutput = Field(description="Where the predictions go, with the source's id columns.")
    model: Annotated[str, Field(pattern=ALIAS, max_length=63)] | Annotated[int, Field(ge=1)] | None = Field(
        None, description="The version to score with: an alias (`staging`, `production`) or a version number; "
                          "`registry.promote_to` if omitted.")
