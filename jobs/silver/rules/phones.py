"""Phone numbers: mainland mobile numbers to 11 digits; landlines kept as sent and flagged.

Mobile numbers follow the MIIT numbering plan (电信网编号计划): 11 digits ``1[3-9]\\d{9}``, written
with or without the country code (``+86``, ``0086``, ``86``), spaces, hyphens, brackets, full-width
digits. A landline (area code ``0`` + 2-3 digits + 7-8 digit number, a bare 7-8 digit local number,
``400`` / ``800`` service numbers, optionally with the country code) is not rewritten: it is returned
trimmed, as sent, with ``phone_type`` LANDLINE and reason NOT_MOBILE. Anything else (two numbers in
one field, too few digits, a ``12...`` number) is BAD_PHONE.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.silver.rules._expr import let, lit
from jobs.silver.rules.reasons import Reason
from jobs.silver.rules.text import WS_CHARS, clean_spaces, fold_fullwidth

MOBILE = "MOBILE"
LANDLINE = "LANDLINE"

PHONE_TYPE = "struct<phone:string,is_mobile:boolean,phone_type:string,invalid_reason:string>"

_COUNTRY = r"(?:(?:\+|00)?86)"
MOBILE_PATTERN = rf"^{_COUNTRY}?(1[3-9]\d{{9}})$"
# 0 + area code + number (10-12 digits); with the country code the 0 may go; a bare local number;
# 400 / 800 service numbers.
LANDLINE_PATTERN = rf"^0[1-9]\d{{8,10}}$|^{_COUNTRY}0?[1-9]\d{{8,10}}$|^[2-9]\d{{6,7}}$|^[48]00\d{{7}}$"
# Separators deleted before matching: whitespace, hyphens, brackets, dots.
_SEPARATORS = WS_CHARS + "-()."


def phone(col: Column) -> Column:
    """Standardize a phone number; returns :data:`PHONE_TYPE`.

    ``phone`` is the 11-digit mobile number, or for anything else the value as sent (trimmed);
    ``is_mobile`` / ``phone_type`` (MOBILE, LANDLINE or NULL); ``invalid_reason`` NULL for a mobile
    number, else NOT_MOBILE (a landline shape), BAD_PHONE, or MISSING.
    """
    return let(F.struct(clean_spaces(col).alias("raw"), fold_fullwidth(col).alias("folded")), _phone)


def _phone(t: Column) -> Column:
    raw = t["raw"]
    digits = F.translate(t["folded"], _SEPARATORS, "")
    mobile = F.nullif(F.regexp_extract(digits, MOBILE_PATTERN, 1), F.lit(""))
    kind = F.when(mobile.isNotNull(), F.lit(MOBILE)).when(digits.rlike(LANDLINE_PATTERN), F.lit(LANDLINE))
    return let(
        F.struct(raw.alias("raw"), mobile.alias("mobile"), kind.alias("kind")),
        lambda p: F.struct(
            F.coalesce(p["mobile"], p["raw"]).alias("phone"),
            F.when(p["raw"].isNotNull(), p["mobile"].isNotNull()).alias("is_mobile"),
            p["kind"].alias("phone_type"),
            F.when(p["raw"].isNull(), lit(Reason.MISSING))
            .when(p["kind"] == LANDLINE, lit(Reason.NOT_MOBILE))
            .when(p["kind"].isNull(), lit(Reason.BAD_PHONE))
            .alias("invalid_reason"),
        ),
    )


__all__ = ["LANDLINE", "LANDLINE_PATTERN", "MOBILE", "MOBILE_PATTERN", "PHONE_TYPE", "phone"]
