"""Cron schedules: five fields or a macro, each field in range, with clear reasons when not."""

from __future__ import annotations

import pytest

from mlform.specs.model.cron import MACROS, check_cron


@pytest.mark.parametrize(
    "expression",
    ["* * * * *", "0 6 * * *", "*/15 * * * *", "0 0 1-31/2 jan,FEB *", "30 4 * * MON-FRI", "0 0 * * 7",
     "5,10,15 0-23/6 1 1 0", *sorted(MACROS)],
)
def test_valid_schedules_are_returned_unchanged(expression: str) -> None:
    assert check_cron(expression) == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 6 * *", "`0 6 * *` is not a cron expression: expected 5 fields "
                    "(minute hour day-of-month month day-of-week) or a macro like `@daily`, got 4"),
        ("0 6 * * * *", "`0 6 * * * *` is not a cron expression: expected 5 fields "
                        "(minute hour day-of-month month day-of-week) or a macro like `@daily`, got 6"),
        ("@reboot", "unknown schedule macro `@reboot`; expected one of `@annually`, `@daily`, `@hourly`, "
                    "`@midnight`, `@monthly`, `@weekly`, `@yearly`"),
        ("60 * * * *", "minute `60` is out of range 0-59"),
        ("0 24 * * *", "hour `24` is out of range 0-23"),
        ("0 0 0 * *", "day of month `0` is out of range 1-31"),
        ("0 0 * 13 *", "month `13` is out of range 1-12"),
        ("0 0 * * 8", "day of week `8` is out of range 0-7"),
        ("0 0 * foo *", "month `foo` is not a number or a name like `jan`"),
        ("0 0 * * xyz", "day of week `xyz` is not a number or a name like `sun`"),
        ("*/0 * * * *", "minute step `0` must be a positive number"),
        ("*/x * * * *", "minute step `x` must be a positive number"),
        ("30-10 * * * *", "minute range `30-10` runs backwards"),
        ("1,,2 * * * *", "minute `1,,2` has an empty list item"),
        ("-5 * * * *", "minute `-5` is missing a number"),
        ("1- * * * *", "minute `1-` is missing a number"),
        ("/5 * * * *", "minute `/5` is missing a number"),
    ],
)
def test_invalid_schedules_say_why(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_cron(expression)
    assert str(caught.value) == message
