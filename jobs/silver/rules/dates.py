"""Dates sent as text: try Spark datetime patterns in order, reject impossible and implausible dates.

Bronze keeps every value as the department sent it; a source's patterns come from its registry entry
(``Source.date_formats``). Parsing is ``try_to_date`` per pattern under a ``coalesce`` (first pattern
that parses wins); Spark 4's parser is strict (``2023-02-30`` and ``2023-01-05x`` parse under no
pattern) and ``M`` / ``d`` accept one or two digits, so ``yyyy-M-d`` covers ``2023-1-5`` and
``2023-01-05``. Before parsing, full-width digits and punctuation are folded (``２０２３－０１－０５``),
whitespace trimmed, and a trailing time of day (``12:30:00``, ``T12:30:00.000``) is also tried
removed, so database-export timestamps parse with date-only patterns.

Not handled: Excel serial day numbers, 2-digit years, Chinese numerals (二〇二三年).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.silver.rules._expr import let, lit
from jobs.silver.rules.reasons import Reason
from jobs.silver.rules.text import clean_spaces, fold_fullwidth

#: Patterns tried when a source declares none, most specific first.
DEFAULT_DATE_PATTERNS: tuple[str, ...] = (
    "yyyyMMdd",
    "yyyy-M-d",
    "yyyy/M/d",
    "yyyy.M.d",
    "yyyy年M月d日",
)
DEFAULT_MIN_DATE = dt.date(1900, 1, 1)

PARSED_DATE_TYPE = "struct<date:date,invalid_reason:string>"

# Year, month, day with the separators the patterns use: what an impossible date looks like.
_DATE_SHAPE = r"^\d{4}([-/.年]?)\d{1,2}\1\d{1,2}日?$|^\d{4}年\d{1,2}月\d{1,2}日$"
_TIME_OF_DAY = r"(?:\s+|T)\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?$"


def _bound(value: dt.date | str | Column | None, default: Column) -> Column:
    if value is None:
        return default
    if isinstance(value, Column):
        return value
    return F.lit(dt.date.fromisoformat(value) if isinstance(value, str) else value)


def parse_date(
    col: Column,
    patterns: Sequence[str] = DEFAULT_DATE_PATTERNS,
    min_date: dt.date | str | Column | None = DEFAULT_MIN_DATE,
    max_date: dt.date | str | Column | None = None,
) -> Column:
    """Parse a date string; returns :data:`PARSED_DATE_TYPE` (``date`` NULL whenever a reason is set).

    Reasons, first failing: MISSING (NULL / blank), UNPARSEABLE (no pattern parses and it does not look
    like a date), IMPOSSIBLE_DATE (shaped like year-month-day but no calendar date: 2023-02-30,
    20231301), BEFORE_MIN (before ``min_date``, default 1900-01-01), AFTER_MAX (after ``max_date``,
    default today: no record dates lie in the future).
    """
    if not patterns:
        raise ValueError("parse_date needs at least one pattern")
    lo = _bound(min_date, F.lit(DEFAULT_MIN_DATE))
    hi = _bound(max_date, F.current_date())

    def parse(s: Column) -> Column:
        return F.coalesce(*[F.try_to_date(s, p) for p in patterns])

    def result(s: Column) -> Column:
        date_only = F.regexp_replace(s, _TIME_OF_DAY, "")
        return let(
            F.struct(F.coalesce(parse(s), parse(date_only)).alias("d"), date_only.alias("s")),
            lambda t: _result(t["d"], t["s"], lo, hi),
        )

    return let(clean_spaces(fold_fullwidth(col)), result)


def _result(d: Column, s: Column, lo: Column, hi: Column) -> Column:
    reason = (
        F.when(s.isNull(), lit(Reason.MISSING))
        .when(d.isNull() & s.rlike(_DATE_SHAPE), lit(Reason.IMPOSSIBLE_DATE))
        .when(d.isNull(), lit(Reason.UNPARSEABLE))
        .when(d < lo, lit(Reason.BEFORE_MIN))
        .when(d > hi, lit(Reason.AFTER_MAX))
    )
    return let(reason, lambda r: F.struct(F.when(r.isNull(), d).alias("date"), r.alias("invalid_reason")))


__all__ = ["DEFAULT_DATE_PATTERNS", "DEFAULT_MIN_DATE", "PARSED_DATE_TYPE", "parse_date"]
