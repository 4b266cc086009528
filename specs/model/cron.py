"""Validate five-field cron expressions (and the `@daily`-style macros) without a dependency."""

from __future__ import annotations

__all__ = ["MACROS", "check_cron"]

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)


def _number(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            named = f" or a name like `{next(iter(names))}`" if names else ""
            msg = f"{field} `{text}` is not a number{named}"
            raise ValueError(msg)
        value = int(text)
    if not low <= value <= high:
        msg = f"{field} `{text}` is out of range {low}-{high}"
        raise ValueError(msg)
    return value


def _check_part(part: str, low: int, high: int, names: dict[str, int], field: str) -> None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        msg = f"{field} step `{step}` must be a positive number"
        raise ValueError(msg)
    if base == "*":
        return
    start, dash, end = base.partition("-")
    if not start or (dash and not end):
        msg = f"{field} `{part}` is missing a number"
        raise ValueError(msg)
    first = _number(start, low, high, names, field)
    if dash and _number(end, low, high, names, field) < first:
        msg = f"{field} range `{base}` runs backwards"
        raise ValueError(msg)


def check_cron(expression: str) -> str:
    """Return `expression` if it is a valid cron schedule, else raise ValueError saying why."""
    if expression in MACROS:
        return expression
    if expression.startswith("@"):
        listed = ", ".join(f"`{m}`" for m in sorted(MACROS))
        msg = f"unknown schedule macro `{expression}`; expected one of {listed}"
        raise ValueError(msg)
    fields = expression.split()
    if len(fields) != 5:
        msg = (f"`{expression}` is not a cron expression: expected 5 fields "
               f"(minute hour day-of-month month day-of-week) or a macro like `@daily`, got {len(fields)}")
        raise ValueError(msg)
    for text, (field, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            if not part:
                msg = f"{field} `{text}` has an empty list item"
                raise ValueError(msg)
            _check_part(part, low, high, names, field)
    return expression
