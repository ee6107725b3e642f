"""Citizen identity numbers (GB 11643-1999 公民身份号码) and the cross-checks that lean on them.

An 18-character number is: 6-digit birthplace admin code (GB/T 2260), 8-digit birth date yyyyMMdd,
3-digit sequence (odd for men, even for women), check character. The check is ISO 7064 MOD 11-2:
weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 (2^(17-i) mod 11) over the first 17 digits, the sum mod
11 indexes ``1 0 X 9 8 7 6 5 4 3 2``. Legacy 15-digit numbers (GB 11643-1989) have a 2-digit year and
no check; they are upgraded by inserting ``19`` before the yymmdd and computing the check.

Everything is built-in Spark SQL (``translate``, ``regexp``, ``ascii``, ``try_to_date``): the 17-term
weighted sum is unrolled into one arithmetic expression so whole-stage codegen keeps it in the JVM.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.silver.rules._expr import let, lit
from jobs.silver.rules.reasons import Reason
from jobs.silver.rules.text import WS_CHARS, fold_fullwidth

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
#: GB/T 2260 province-level codes (31 provinces, 71 Taiwan, 81 Hong Kong, 82 Macao) and 83, the
#: code residence permits for Taiwan residents carry; 81 / 82 also head HK / Macao residence permits.
PROVINCE_CODES: tuple[str, ...] = (
    *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"),
    *("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"),
    *("71", "81", "82", "83"),
)

#: GB/T 2261.1-2003 sex codes, used for both the derived and the normalized stated sex.
SEX_MALE = "1"
SEX_FEMALE = "2"
SEX_UNKNOWN = "0"
SEX_UNSTATED = "9"

CITIZEN_ID_TYPE = (
    "struct<id:string,is_valid:boolean,invalid_reason:string,birth_date:date,sex:string,"
    "admin_code:string,upgraded_from_15:boolean>"
)


def _digit(col: Column, pos: int) -> Column:
    """The digit at 1-based ``pos`` as an int (via its code point: never raises on a non-digit)."""
    return F.ascii(F.substring(col, pos, 1)) - 48


def gb11643_check_char(body17: Column) -> Column:
    """The ISO 7064 MOD 11-2 check character for a 17-digit body (GB 11643-1999, 5.2)."""
    total = sum((_digit(body17, i + 1) * w for i, w in enumerate(WEIGHTS)), F.lit(0))
    return F.substr(F.lit(CHECK_CHARS), total % 11 + 1, F.lit(1))


# One translate: full-width digits / letters -> ASCII, x -> X, every whitespace character deleted.
_FW = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
_ID_FROM = _FW + "x" + WS_CHARS
_ID_TO = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)).replace("x", "X") + "X"


def clean_citizen_id(col: Column) -> Column:
    """Full-width -> ASCII, every whitespace removed, ``x`` upper-cased; '' -> NULL."""
    return F.nullif(F.translate(col, _ID_FROM, _ID_TO), F.lit(""))


def citizen_id(col: Column) -> Column:
    """Validate and standardize a citizen ID number (GB 11643-1999); returns :data:`CITIZEN_ID_TYPE`.

    Fields: ``id`` the cleaned number (18 characters when valid, 15-digit numbers upgraded; otherwise
    the cleaned input as sent), ``is_valid``, ``invalid_reason`` (first failing check, in this order:
    MISSING, BAD_CHARS: not ``\\d{17}[\\dX]`` / ``\\d{15}``, BAD_LENGTH, BAD_REGION: first two digits
    no province code, BAD_DATE: digits 7-14 no calendar date or after today, BAD_CHECKSUM), and, for
    valid numbers only, ``birth_date``, ``sex`` (17th digit odd -> "1" male, even -> "2" female, GB/T
    2261.1) and ``admin_code`` (first 6 digits, the birthplace / first-registration district).

    Throughput: ~60 k rows per CPU-second (see :mod:`jobs.silver.rules` for how it was measured); the
    stages are bound with :func:`~jobs.silver.rules._expr.let`, which runs interpreted.
    """
    return let(clean_citizen_id(col), _stage_body)


def _stage_body(s: Column) -> Column:
    is15 = s.rlike(r"^\d{15}$")
    # 15 -> 18: area(6) + "19" + yymmdd(6) + sequence(3), then the check character.
    body17 = F.when(is15, F.concat(F.substring(s, 1, 6), F.lit("19"), F.substring(s, 7, 9))).otherwise(
        F.substring(s, 1, 17)
    )
    return let(F.struct(s.alias("s"), is15.alias("is15"), body17.alias("body17")), _stage_check)


def _stage_check(t: Column) -> Column:
    s, is15, body17 = t["s"], t["is15"], t["body17"]
    return let(
        F.struct(
            s.alias("s"),
            is15.alias("is15"),
            body17.alias("body17"),
            gb11643_check_char(body17).alias("check"),
        ),
        _stage_reason,
    )


def _stage_reason(t: Column) -> Column:
    s, is15, body17, check = t["s"], t["is15"], t["body17"], t["check"]
    full = F.when(is15, F.concat(body17, check)).otherwise(s)
    birth = F.try_to_date(F.substring(body17, 7, 8), "yyyyMMdd")
    reason = (
        F.when(s.isNull(), lit(Reason.MISSING))
        .when(~s.rlike(r"^[0-9X]+$"), lit(Reason.BAD_CHARS))
        .when(~F.length(s).isin(15, 18), lit(Reason.BAD_LENGTH))
        .when(~(is15 | s.rlike(r"^\d{17}[\dX]$")), lit(Reason.BAD_CHARS))
        .when(~F.substring(s, 1, 2).isin(*PROVINCE_CODES), lit(Reason.BAD_REGION))
        .when(birth.isNull() | (birth > F.current_date()), lit(Reason.BAD_DATE))
        .when(F.substring(full, 18, 1) != check, lit(Reason.BAD_CHECKSUM))
    )
    return let(
        F.struct(
            s.alias("s"), is15.alias("is15"), full.alias("full"), birth.alias("birth"), reason.alias("reason")
        ),
        _stage_result,
    )


def _stage_result(t: Column) -> Column:
    s, is15, full, birth, reason = t["s"], t["is15"], t["full"], t["birth"], t["reason"]
    valid = reason.isNull()
    return F.struct(
        F.when(valid, full).otherwise(s).alias("id"),
        valid.alias("is_valid"),
        reason.alias("invalid_reason"),
        F.when(valid, birth).alias("birth_date"),
        F.when(valid, F.when(_digit(full, 17) % 2 == 1, SEX_MALE).otherwise(SEX_FEMALE)).alias("sex"),
        F.when(valid, F.substring(full, 1, 6)).alias("admin_code"),
        (valid & is15).alias("upgraded_from_15"),
    )


def normalize_sex(col: Column) -> Column:
    """A stated sex as sent (男/女, 1/2, M/F, male/female, 未知, 未说明) -> GB/T 2261.1 code or NULL.

    ``"1"`` male, ``"2"`` female, ``"0"`` unknown, ``"9"`` unstated; anything else -> NULL.
    """
    s = F.lower(F.translate(fold_fullwidth(col), WS_CHARS, ""))
    return (
        F.when(s.isin("1", "男", "男性", "m", "male"), F.lit(SEX_MALE))
        .when(s.isin("2", "女", "女性", "f", "female"), F.lit(SEX_FEMALE))
        .when(s.isin("0", "未知", "未知的性别", "u", "unknown"), F.lit(SEX_UNKNOWN))
        .when(s.isin("9", "未说明", "未说明的性别"), F.lit(SEX_UNSTATED))
    )


def birth_date_conflict(stated: Column, derived: Column) -> Column:
    """True when a stated birth date differs from the one in the ID number, False when equal, NULL when
    either is unknown. Both are DATE columns (parse the stated one with :func:`dates.parse_date`)."""
    return F.when(stated.isNotNull() & derived.isNotNull(), stated != derived)


def sex_conflict(stated: Column, derived: Column) -> Column:
    """True when a stated sex (any spelling, see :func:`normalize_sex`) contradicts the ID-derived one,
    False when it agrees, NULL when either is unknown ("0" / "9" / unrecognized count as unknown)."""
    s = normalize_sex(stated)
    known = s.isin(SEX_MALE, SEX_FEMALE) & derived.isNotNull()
    return F.when(known, s != derived)


def id_cross_checks(id_struct: Column, stated_birth_date: Column, stated_sex: Column) -> Column:
    """struct<birth_date_conflict:boolean, sex_conflict:boolean> for a :func:`citizen_id` result.

    Flags only: the stated values and the ID stay as they are, so survivorship and data-quality reports
    see the conflict instead of a silently corrected value.
    """
    return let(
        id_struct,
        lambda i: F.struct(
            birth_date_conflict(stated_birth_date, i["birth_date"]).alias("birth_date_conflict"),
            sex_conflict(stated_sex, i["sex"]).alias("sex_conflict"),
        ),
    )


__all__ = [
    "CHECK_CHARS",
    "CITIZEN_ID_TYPE",
    "PROVINCE_CODES",
    "SEX_FEMALE",
    "SEX_MALE",
    "SEX_UNKNOWN",
    "SEX_UNSTATED",
    "WEIGHTS",
    "birth_date_conflict",
    "citizen_id",
    "clean_citizen_id",
    "gb11643_check_char",
    "id_cross_checks",
    "normalize_sex",
    "sex_conflict",
]
