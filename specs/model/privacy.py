"""Column metadata (`data.columns_meta`) and personal data (`data.pii`): who owns a column, what is never stored."""

from typing import Literal, Self

from pydantic import Field, StrictBool, model_validator

from .base import NonEmptyStr, SecretUse, SpecModel, empty_list

__all__ = ["HASH_HEX_CHARS", "ColumnMeta", "Pii"]

HASH_HEX_CHARS = 16  # hex characters kept of a hashed value: 64 bits, enough to join on, short in reports


class ColumnMeta(SpecModel):
    """What a column is and who answers for it; policy rules can require any of it per feature."""

    owner: NonEmptyStr | None = Field(None, description="Who answers for the column's data, e.g. `payments-data`.")
    pii: StrictBool = Field(
        False, description="`true` when the column holds personal data; it must then be listed in `data.pii.columns`.")
    status: Literal["approved", "proposed", "deprecated"] = Field(
        "proposed", description="`approved` for use, `proposed` under review, `deprecated` (a warning as a feature).")
    description: str = Field("", description="What the column means, in a sentence.")


class Pii(SpecModel):
    """Columns of personal data, dropped or hashed as each source is read, before anything is stored."""

    columns: list[NonEmptyStr] = Field(
        description="Columns holding personal data, e.g. `[card_id, email]`; a source without them is left as is. "
                    "`[]` declares that the data holds none.")
    action: Literal["drop", "hash"] = Field(
        "drop", description="`drop` removes the columns; `hash` replaces each value by the first 16 hex characters of "
                            "its HMAC-SHA256 keyed with `salt` (plain SHA-256 without one), missing values kept.")
    salt: SecretUse | None = Field(
        None, description="Secret keying the hash, as `{secret: NAME}`; only with `action: hash`. Without it the "
                          "hash is stable across projects, so short values can be guessed back.")
    allow_as_feature: list[NonEmptyStr] = Field(
        default_factory=empty_list,
        description="PII columns the model may still use as features (hashed: needs `action: hash`); any other PII "
                    "column among `data.features` is an error.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.salt is not None and self.action != "hash":
            msg = "`salt` only applies to `action: hash`"
            raise ValueError(msg)
        return self
