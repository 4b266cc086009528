"""Kubernetes quantities: parsing, and how YAML numbers become quantity text."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from mlform.specs.model.base import Quantity, parse_quantity

QUANTITY = TypeAdapter(Quantity)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("+1", 1.0),
        ("500m", 0.5),
        ("100u", 1e-4),
        ("3n", 3e-9),
        ("1k", 1_000.0),
        ("1M", 1e6),
        ("2G", 2e9),
        ("1T", 1e12),
        ("1P", 1e15),
        ("1E", 1e18),
        ("1Ki", 1024.0),
        ("512Mi", 512 * 2**20),
        ("1.5Gi", 1.5 * 2**30),
        ("1Ti", 2.0**40),
        ("1Pi", 2.0**50),
        ("2Ei", 2 * 2.0**60),
        ("1e3", 1000.0),
        ("12E-1", 1.2),
        ("1E3", 1000.0),
    ],
)
def test_parse_quantity(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "-", "1 Gi", "12XB", "1.5.2", "Mi", "1mi", "1Gi\n", "1KiB", "0x10"])
def test_text_that_is_not_a_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)
    with pytest.raises(ValidationError):
        QUANTITY.validate_python(text)


def test_comparisons_across_units() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1000Mi") > parse_quantity("1G")
    assert parse_quantity("1500m") < parse_quantity("2")


@pytest.mark.parametrize(("value", "text"), [(2, "2"), (0.5, "0.5"), (1e20, "1e+20"), ("250m", "250m")])
def test_yaml_numbers_become_quantity_text(value: object, text: str) -> None:
    assert QUANTITY.validate_python(value) == text


def test_a_boolean_is_not_a_quantity() -> None:
    with pytest.raises(ValidationError, match="string_type|Input should be a valid string"):
        QUANTITY.validate_python(True)
