"""Legal-person identifiers: USCC (GB 32100-2015), organization codes (GB 11714-1997), GS15 numbers.

* USCC 统一社会信用代码, 18 characters over ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I O S V Z):
  registration authority (1), entity type (1), admin code (6 digits, GB/T 2260), the organization's
  GB 11714 code (9, its own check included), check character. Check: weights 3^i mod 31 = 1 3 9 27
  19 26 16 17 20 29 25 13 8 24 10 30 28 over the character values (index in the alphabet),
  check = (31 - sum mod 31) mod 31 as an alphabet character.
* Organization code 组织机构代码, 8 body characters (digits, upper-case letters) + check: weights
  3 7 9 10 5 8 4 2 over values (0-9, A=10 .. Z=35), check = 11 - sum mod 11 with 10 -> X, 11 -> 0.
  Written ``XXXXXXXX-X`` on certificates; stored here without the hyphen, as it sits in a USCC.
* 15-digit business registration numbers 注册号 (SAIC GS15-2006): 6-digit admin code, 8-digit
  sequence, ISO 7064 MOD 11,10 check digit.

All checks are built-in Spark SQL: the weighted sums are unrolled arithmetic over ``position()`` of
each character in the alphabet, the MOD 11,10 recurrence an ``aggregate`` over the digits.

Mistyped USCCs. A clerk reading a USCC off paper writes the letters the code never uses for the
digits they look like (O for 0, I for 1, Z for 2, S for 5). :func:`repaired_uscc` undoes exactly
that and keeps the result only if the check character then holds; :func:`embedded_org_code` takes
the organization code out of an invalid 18-character USCC when that code passes its *own* GB 11714
check (typo outside characters 9-17), so the record can still be linked by it — flagged by the
link method, never taken as a valid USCC.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.silver.rules._expr import let, lit, translation
from jobs.silver.rules.reasons import Reason
from jobs.silver.rules.text import WS_CHARS

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_CHAR = "[0-9A-HJ-NP-RTUW-Y]"
USCC_PATTERN = rf"^{_USCC_CHAR}{{2}}\d{{6}}{_USCC_CHAR}{{10}}$"

ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CHECK_CHARS = "0X987654321"  # indexed by (weighted sum mod 11): 11 - m, with 10 -> X, 11 -> 0
ORG_CODE_PATTERN = r"^[0-9A-Z]{8}[0-9X]$"

USCC_TYPE = (
    "struct<uscc:string,is_valid:boolean,invalid_reason:string,org_code:string,"
    "org_code_valid:boolean,admin_code:string>"
)
ORG_CODE_TYPE = "struct<org_code:string,is_valid:boolean,invalid_reason:string>"
GS15_TYPE = "struct<registration_no:string,is_valid:boolean,invalid_reason:string>"
LEGAL_ID_TYPE = "struct<kind:string,id:string,is_valid:boolean,invalid_reason:string,org_code:string>"

#: ``legal_id`` kinds.
KIND_USCC = "USCC"
KIND_REGISTRATION_NO = "REGISTRATION_NO"  # GS15
KIND_TAX_ID_15 = "TAX_ID_15"  # old taxpayer number: admin code (6) + organization code (9)
KIND_ORG_CODE = "ORG_CODE"
KIND_UNKNOWN = "UNKNOWN"

# Full-width -> ASCII, lower -> upper case, whitespace and hyphens (separators) deleted.
_CLEAN = translation(
    {chr(c): chr(c - 0xFEE0).upper() for c in range(0xFF01, 0xFF5F)}
    | {c: c.upper() for c in "abcdefghijklmnopqrstuvwxyz"}
    | dict.fromkeys(WS_CHARS + "-\uff0d", "")
)


def clean_code(col: Column) -> Column:
    """Full-width -> ASCII, upper case, every whitespace and hyphen removed; '' -> NULL."""
    return F.nullif(F.translate(col, *_CLEAN), F.lit(""))


def _values(code: Column, alphabet: str, n: int, start: int = 1) -> list[Column]:
    """Value (index in ``alphabet``) of the characters ``start .. start+n-1``; -1 for a stranger."""
    return [F.position(F.substring(code, start + i, 1), F.lit(alphabet)) - 1 for i in range(n)]


def _weighted(values: list[Column], weights: tuple[int, ...]) -> Column:
    return sum((v * w for v, w in zip(values, weights, strict=True)), F.lit(0))


def uscc_check_char(body17: Column) -> Column:
    """GB 32100-2015 check character for the first 17 characters of a USCC."""
    total = _weighted(_values(body17, USCC_ALPHABET, 17), USCC_WEIGHTS)
    return F.substr(F.lit(USCC_ALPHABET), (F.lit(31) - total % 31) % 31 + 1, F.lit(1))


def org_code_check_char(body8: Column) -> Column:
    """GB 11714-1997 check character for the 8 body characters of an organization code."""
    total = _weighted(_values(body8, ORG_ALPHABET, 8), ORG_WEIGHTS)
    return F.substr(F.lit(ORG_CHECK_CHARS), total % 11 + 1, F.lit(1))


def _org_code_ok(code9: Column) -> Column:
    return code9.rlike(ORG_CODE_PATTERN) & (F.substring(code9, 9, 1) == org_code_check_char(code9))


def uscc(col: Column) -> Column:
    """Validate a unified social credit code (GB 32100-2015); returns :data:`USCC_TYPE`.

    ``uscc`` is the cleaned code (:func:`clean_code`), ``invalid_reason`` the first failing check:
    MISSING, BAD_CHARS (a character outside ``0-9A-Z``), BAD_LENGTH (not 18), BAD_CHARS (positions
    1-2 and 9-18 outside the USCC alphabet, or 3-8 not digits), BAD_CHECKSUM. For a valid code,
    ``org_code`` is characters 9-17 (the GB 11714 organization code, the key old records carry) and
    ``admin_code`` characters 3-8. ``org_code_valid`` reports the embedded code's own GB 11714 check;
    it is a separate flag, not part of ``is_valid``: GB 32100 defines the code's validity by its own
    check character, which is also what python-stdnum's ``cn.uscc`` checks.
    """
    return let(
        clean_code(col),
        lambda s: let(F.struct(s.alias("s"), uscc_check_char(s).alias("check")), _uscc_result),
    )


def _uscc_result(t: Column) -> Column:
    s, check = t["s"], t["check"]
    reason = (
        F.when(s.isNull(), lit(Reason.MISSING))
        .when(~s.rlike("^[0-9A-Z]+$"), lit(Reason.BAD_CHARS))
        .when(F.length(s) != 18, lit(Reason.BAD_LENGTH))
        .when(~s.rlike(USCC_PATTERN), lit(Reason.BAD_CHARS))
        .when(F.substring(s, 18, 1) != check, lit(Reason.BAD_CHECKSUM))
    )
    org = F.substring(s, 9, 9)
    return let(
        F.struct(s.alias("s"), reason.alias("reason")),
        lambda r: F.struct(
            r["s"].alias("uscc"),
            r["reason"].isNull().alias("is_valid"),
            r["reason"].alias("invalid_reason"),
            F.when(r["reason"].isNull(), org).alias("org_code"),
            F.when(r["reason"].isNull(), _org_code_ok(org)).alias("org_code_valid"),
            F.when(r["reason"].isNull(), F.substring(s, 3, 6)).alias("admin_code"),
        ),
    )


#: Letters a USCC never contains, as the digits they are mistaken for.
LOOKALIKES = ("OIZS", "0125")


def repaired_uscc(col: Column) -> Column:
    """An invalid USCC whose look-alike letters (:data:`LOOKALIKES`) written back as digits make
    a valid one: that valid code; else NULL (also for a code that was valid already)."""
    return let(
        clean_code(col),
        lambda s: let(
            F.translate(s, *LOOKALIKES),
            lambda fixed: F.when(
                (F.length(s) == 18) & (fixed != s) & uscc(fixed)["is_valid"] & ~uscc(s)["is_valid"], fixed
            ),
        ),
    )


def embedded_org_code(col: Column) -> Column:
    """The organization code (characters 9-17) of an 18-character code that is *not* a valid USCC,
    when it passes its own GB 11714 check (as written, or with look-alikes written back as
    digits); else NULL. The link of last resort from a mistyped USCC to its legal person."""
    return let(
        clean_code(col),
        lambda s: let(
            F.substring(s, 9, 9),
            lambda org: F.when(
                (F.length(s) == 18) & ~uscc(s)["is_valid"],
                F.when(_org_code_ok(org), org).when(
                    _org_code_ok(F.translate(org, *LOOKALIKES)), F.translate(org, *LOOKALIKES)
                ),
            ),
        ),
    )


def uscc_org_code(col: Column) -> Column:
    """The organization code inside a valid USCC (characters 9-17), else NULL: the join key from
    old records (organization code, old tax number) to the USCC that replaced them."""
    return uscc(col)["org_code"]


def org_code(col: Column) -> Column:
    """Validate a standalone organization code (GB 11714-1997), with or without the hyphen
    (``XXXXXXXX-X``); returns :data:`ORG_CODE_TYPE` with the code stored as 9 characters, no hyphen.

    Reasons, first failing: MISSING, BAD_CHARS (outside ``0-9A-Z``), BAD_LENGTH (not 9), BAD_CHARS
    (check character not a digit or X), BAD_CHECKSUM.
    """
    return let(clean_code(col), _org_code_result)


def _org_code_result(s: Column) -> Column:
    reason = (
        F.when(s.isNull(), lit(Reason.MISSING))
        .when(~s.rlike("^[0-9A-Z]+$"), lit(Reason.BAD_CHARS))
        .when(F.length(s) != 9, lit(Reason.BAD_LENGTH))
        .when(~s.rlike(ORG_CODE_PATTERN), lit(Reason.BAD_CHARS))
        .when(F.substring(s, 9, 1) != org_code_check_char(s), lit(Reason.BAD_CHECKSUM))
    )
    return let(
        reason,
        lambda r: F.struct(s.alias("org_code"), r.isNull().alias("is_valid"), r.alias("invalid_reason")),
    )


def _mod_11_10(digits: Column, n: int) -> Column:
    """ISO 7064 MOD 11,10 running value over the first ``n`` digits (start 5 as in the standard's
    pure-system form: p = ((p or 10) * 2 mod 11 + d) mod 10)."""
    return F.aggregate(
        F.sequence(F.lit(1), F.lit(n)),
        F.lit(5),
        lambda acc, i: (
            ((F.when(acc == 0, 10).otherwise(acc) * 2) % 11 + F.ascii(F.substr(digits, i, F.lit(1))) - 48)
            % 10
        ),
    )


def gs15_check_digit(body14: Column) -> Column:
    """ISO 7064 MOD 11,10 check digit for the first 14 digits of a GS15 registration number."""
    acc = _mod_11_10(body14, 14)
    return F.pmod(F.lit(1) - (F.when(acc == 0, 10).otherwise(acc) * 2) % 11, F.lit(10)).cast("string")


def registration_no(col: Column) -> Column:
    """Validate a 15-digit business registration number (GS15-2006); returns :data:`GS15_TYPE`.

    Reasons, first failing: MISSING, BAD_CHARS (not all digits), BAD_LENGTH (not 15), BAD_CHECKSUM
    (ISO 7064 MOD 11,10 over all 15 digits does not come out at 1).
    """
    return let(clean_code(col), _registration_no_result)


def _registration_no_result(s: Column) -> Column:
    reason = (
        F.when(s.isNull(), lit(Reason.MISSING))
        .when(~s.rlike(r"^\d+$"), lit(Reason.BAD_CHARS))
        .when(F.length(s) != 15, lit(Reason.BAD_LENGTH))
        .when(_mod_11_10(s, 15) != 1, lit(Reason.BAD_CHECKSUM))
    )
    return let(
        reason,
        lambda r: F.struct(
            s.alias("registration_no"), r.isNull().alias("is_valid"), r.alias("invalid_reason")
        ),
    )


def legal_id(col: Column) -> Column:
    """Classify and validate an identifier that may be any of the legal-person codes (the tax bureau's
    ``taxpayer_id``); returns :data:`LEGAL_ID_TYPE`.

    By cleaned length: 18 -> USCC; 15 -> a GS15 registration number if its MOD 11,10 check holds,
    else an old taxpayer number (``TAX_ID_15``: 6-digit admin code + organization code) if that
    organization code's check holds, else an invalid GS15 number; 9 -> organization code; anything
    else -> UNKNOWN / BAD_LENGTH. ``org_code`` is the organization code the identifier carries (valid
    USCC, valid TAX_ID_15 or valid organization code), the key for linking old and new codes.
    """
    return let(clean_code(col), _legal_id_result)


def _legal_id_result(s: Column) -> Column:
    tax_org = F.substring(s, 7, 9)
    parts = F.struct(
        s.alias("s"),
        uscc(s).alias("u"),
        org_code(s).alias("o"),
        registration_no(s).alias("g"),
        (s.rlike(r"^\d{6}[0-9A-Z]{8}[0-9X]$") & _org_code_ok(tax_org)).alias("tax_ok"),
    )
    return let(parts, _legal_id_kind)


def _legal_id_kind(t: Column) -> Column:
    s, g = t["s"], t["g"]
    n = F.length(s)
    kind = (
        F.when(s.isNull(), F.lit(None).cast("string"))
        .when(n == 18, F.lit(KIND_USCC))
        .when((n == 15) & ~g["is_valid"] & t["tax_ok"], F.lit(KIND_TAX_ID_15))
        .when(n == 15, F.lit(KIND_REGISTRATION_NO))
        .when(n == 9, F.lit(KIND_ORG_CODE))
        .otherwise(F.lit(KIND_UNKNOWN))
    )
    return let(kind, lambda k: _legal_id_struct(t, k))


def _legal_id_struct(t: Column, k: Column) -> Column:
    s, u, o, g = t["s"], t["u"], t["o"], t["g"]
    is_valid = (
        F.when(k == KIND_USCC, u["is_valid"])
        .when(k == KIND_REGISTRATION_NO, g["is_valid"])
        .when(k == KIND_TAX_ID_15, F.lit(True))
        .when(k == KIND_ORG_CODE, o["is_valid"])
        .otherwise(F.lit(False))
    )
    reason = (
        F.when(k.isNull(), lit(Reason.MISSING))
        .when(k == KIND_USCC, u["invalid_reason"])
        .when(k == KIND_REGISTRATION_NO, g["invalid_reason"])
        .when(k == KIND_ORG_CODE, o["invalid_reason"])
        .when(k == KIND_UNKNOWN, lit(Reason.BAD_LENGTH))
    )
    org = (
        F.when(k == KIND_USCC, u["org_code"])
        .when(k == KIND_TAX_ID_15, F.substring(s, 7, 9))
        .when((k == KIND_ORG_CODE) & o["is_valid"], s)
    )
    return F.struct(
        k.alias("kind"),
        s.alias("id"),
        is_valid.alias("is_valid"),
        reason.alias("invalid_reason"),
        org.alias("org_code"),
    )


__all__ = [
    "GS15_TYPE",
    "KIND_ORG_CODE",
    "KIND_REGISTRATION_NO",
    "KIND_TAX_ID_15",
    "KIND_UNKNOWN",
    "KIND_USCC",
    "LEGAL_ID_TYPE",
    "LOOKALIKES",
    "ORG_CODE_TYPE",
    "USCC_ALPHABET",
    "USCC_TYPE",
    "USCC_WEIGHTS",
    "clean_code",
    "embedded_org_code",
    "gs15_check_digit",
    "legal_id",
    "org_code",
    "org_code_check_char",
    "registration_no",
    "repaired_uscc",
    "uscc",
    "uscc_check_char",
    "uscc_org_code",
]
