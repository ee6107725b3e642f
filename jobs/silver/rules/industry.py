"""Industry codes (GB/T 4754-2017 国民经济行业分类): validate, and complete the section letter.

A code is a section letter ``A``-``T`` and/or 2-4 digits (division, group, class): ``C3670``,
``3670``, ``C36``, ``C``. Departments often send the digits alone (market regulation's ``hydm``
does); the section follows from the division (:mod:`govlake.reference.industry`), so the standardized
code always carries it: ``3670`` -> ``C3670``. Checks, in order (the first failure is the reason):

``MISSING``           NULL, empty or only whitespace / hyphens
``BAD_CHARS``         anything but one leading letter A-T and digits (full-width folded, case ignored)
``BAD_LENGTH``        1 or more than 4 digits
``BAD_DIVISION``      division 00, 98 or 99 (no section has it)
``SECTION_MISMATCH``  a letter was sent and it is not the division's section (``A3670``)

Built-in Spark SQL only: the section is a ``CASE`` over the 20 division ranges.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from govlake.reference.industry import SECTIONS
from jobs.silver.rules._expr import let, lit
from jobs.silver.rules.legal_identity import clean_code
from jobs.silver.rules.reasons import Reason

INDUSTRY_CODE_TYPE = (
    "struct<code:string,section:string,division:string,is_valid:boolean,invalid_reason:string>"
)
_SHAPE = r"^[A-T]?\d*$"


def sections_fingerprint() -> str:
    """SHA-256 of the GB/T 4754 sections :func:`industry_code` checks against."""
    import hashlib

    return hashlib.sha256(repr(SECTIONS).encode("utf-8")).hexdigest()


def section_of(division: Column) -> Column:
    """The GB/T 4754-2017 section letter of an integer division number; NULL when none has it."""
    out = F.lit(None).cast("string")
    for section in reversed(SECTIONS):
        out = F.when(
            division.between(section.first_division, section.last_division), section.letter
        ).otherwise(out)
    return out


def industry_code(col: Column) -> Column:
    """Struct ``code`` (section letter + digits, NULL unless valid), ``section``, ``division``,
    ``is_valid``, ``invalid_reason`` (see the module docstring)."""

    def parts(s: Column) -> Column:
        digits = F.regexp_extract(s, r"^[A-Z]?(\d*)$", 1)
        return F.struct(
            s.alias("s"),
            F.regexp_extract(s, r"^([A-Z]?)", 1).alias("letter"),
            digits.alias("digits"),
            section_of(F.substring(digits, 1, 2).try_cast("int")).alias("derived"),
        )

    def verdict(p: Column) -> Column:
        s, letter, digits, derived = p["s"], p["letter"], p["digits"], p["derived"]
        reason = (
            F.when(s.isNull(), lit(Reason.MISSING))
            .when(~s.rlike(_SHAPE), lit(Reason.BAD_CHARS))
            .when((F.length(digits) == 1) | (F.length(digits) > 4), lit(Reason.BAD_LENGTH))
            .when((digits != "") & derived.isNull(), lit(Reason.BAD_DIVISION))
            .when((digits != "") & (letter != "") & (letter != derived), lit(Reason.SECTION_MISMATCH))
        )
        return let(F.struct(p.alias("p"), reason.alias("reason")), finish)

    def finish(v: Column) -> Column:
        p, reason = v["p"], v["reason"]
        valid = reason.isNull()
        digits = p["digits"]
        section = F.when(valid, F.coalesce(F.when(digits != "", p["derived"]), p["letter"]))
        return F.struct(
            F.when(valid, F.concat(section, digits)).alias("code"),
            section.alias("section"),
            F.when(valid & (digits != ""), F.substring(digits, 1, 2)).alias("division"),
            valid.alias("is_valid"),
            reason.alias("invalid_reason"),
        )

    return let(let(clean_code(col), parts), verdict)


__all__ = ["INDUSTRY_CODE_TYPE", "industry_code", "section_of"]
