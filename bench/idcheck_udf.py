"""The citizen-ID rule (``jobs.silver.rules.identity.citizen_id``) written as a plain Python UDF.

Benchmark tooling only: the pipeline uses the built-in Spark SQL rule. This is the same rule, check
for check and in the same order, so the two can be timed on the same rows and compared row by row
(:mod:`bench.pipeline`, ratio "native vs Python UDF").
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from jobs.silver.rules.identity import (
    CHECK_CHARS,
    CITIZEN_ID_TYPE,
    PROVINCE_CODES,
    SEX_FEMALE,
    SEX_MALE,
    WEIGHTS,
)
from jobs.silver.rules.reasons import Reason
from jobs.silver.rules.text import WS_CHARS

# Full-width digits / letters -> ASCII, x -> X, every whitespace character deleted (one translate,
# as clean_citizen_id does).
_CLEAN: dict[int, int | None] = {
    c: (ord("X") if chr(c - 0xFEE0) == "x" else c - 0xFEE0) for c in range(0xFF01, 0xFF5F)
}
_CLEAN[ord("x")] = ord("X")
for _ws in WS_CHARS:
    _CLEAN.setdefault(ord(_ws), None)

_ALLOWED = re.compile(r"[0-9X]+")
_DIGITS15 = re.compile(r"[0-9]{15}")
_SHAPE18 = re.compile(r"[0-9]{17}[0-9X]")
_PROVINCES = frozenset(PROVINCE_CODES)


def _check_char(body17: str) -> str:
    return CHECK_CHARS[sum((ord(ch) - 48) * w for ch, w in zip(body17, WEIGHTS, strict=False)) % 11]


def _birth(digits: str) -> dt.date | None:
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def citizen_id_py(value: str | None) -> tuple[Any, ...]:
    """(id, is_valid, invalid_reason, birth_date, sex, admin_code, upgraded_from_15) for one value."""
    s = value.translate(_CLEAN) if value is not None else None
    if s == "":
        s = None
    if s is None:
        return (None, False, Reason.MISSING.value, None, None, None, False)
    is15 = _DIGITS15.fullmatch(s) is not None
    body17 = s[:6] + "19" + s[6:15] if is15 else s[:17]
    reason: Reason | None = None
    full = s
    birth = None
    if not _ALLOWED.fullmatch(s):
        reason = Reason.BAD_CHARS
    elif len(s) not in (15, 18):
        reason = Reason.BAD_LENGTH
    elif not (is15 or _SHAPE18.fullmatch(s)):
        reason = Reason.BAD_CHARS
    elif s[:2] not in _PROVINCES:
        reason = Reason.BAD_REGION
    else:
        check = _check_char(body17)
        full = body17 + check if is15 else s
        birth = _birth(body17[6:14])
        if birth is None or birth > dt.date.today():
            reason = Reason.BAD_DATE
        elif full[17:18] != check:
            reason = Reason.BAD_CHECKSUM
    if reason is not None:
        return (s, False, reason.value, None, None, None, False)
    sex = SEX_MALE if (ord(full[16]) - 48) % 2 == 1 else SEX_FEMALE
    return (full, True, None, birth, sex, full[:6], is15)


def citizen_id_udf() -> Any:  # -> a pyspark UserDefinedFunction
    """``citizen_id_py`` as a row-at-a-time Python UDF (pickled rows, no Arrow) of CITIZEN_ID_TYPE."""
    from pyspark.sql import functions as F

    return F.udf(citizen_id_py, CITIZEN_ID_TYPE, useArrow=False)
