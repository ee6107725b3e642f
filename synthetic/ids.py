"""Generate identifiers that follow the national standards (generation only; validation lives elsewhere).

=====================  ====================================================================
citizen ID, 18 chars   GB 11643-1999: 6-digit birthplace code (GB/T 2260) + yyyyMMdd + 3-digit
                       sequence (odd = male, even = female) + ISO 7064 MOD 11-2 check char
                       (weights 2^(17-i) mod 11; sum mod 11 indexes ``10X98765432``)
citizen ID, 15 digits  GB 11643-1989, the legacy number: birthplace + yyMMdd + sequence, no check
organization code      GB 11714-1997: 8 body chars (digits, upper-case letters) + check char:
                       weights 3 7 9 10 5 8 4 2, ``11 - sum mod 11`` with 10 -> X and 11 -> 0
USCC                   GB 32100-2015: registration authority (1 char) + entity type (1) + 6-digit
                       admin code + the 9-char organization code + check char: weights 3^i mod 31
                       over the charset ``0-9ABCDEFGHJKLMNPQRTUWXY`` (no I O Z S V), check =
                       ``(31 - sum mod 31) mod 31``
registration number    the legacy 15-digit business registration number (工商注册号): 6-digit
                       authority code + 8-digit sequence + ISO 7064 MOD 11,10 check digit
=====================  ====================================================================
"""

from __future__ import annotations

import datetime as dt
import random
from operator import mul

ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
ID_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
ID_CHARS = "0123456789X"

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28

#: GB 32100 registration authority ``9`` (market regulation) and its entity types.
USCC_ENTERPRISE = "91"  # 企业
USCC_INDIVIDUAL_BUSINESS = "92"  # 个体工商户
USCC_FARMERS_COOPERATIVE = "93"  # 农民专业合作社


def id_check_char(body17: str) -> str:
    """The GB 11643-1999 check character of a 17-digit body."""
    if len(body17) != 17:
        raise ValueError(f"a citizen ID body has 17 digits, got {body17!r}")
    return ID_CHECK_CHARS[sum(map(mul, map(int, body17), ID_WEIGHTS)) % 11]


def make_citizen_id(birthplace: str, birth_date: dt.date, sequence: int) -> str:
    """An 18-character citizen ID; ``sequence`` (0..999) must already have the sex parity."""
    body = f"{birthplace}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}{sequence:03d}"
    return body + id_check_char(body)


def sequence_for(rng: random.Random, male: bool) -> int:
    """A random 3-digit sequence with the sex parity: odd for men, even for women."""
    return int(rng.random() * 500) * 2 + (1 if male else 0)


def legacy_id15(id18: str) -> str:
    """The 15-digit number the same person held before 1999: century and check dropped."""
    return id18[:6] + id18[8:17]


def wrong_check_char(id18: str, rng: random.Random) -> str:
    """The same number with a check character that is wrong (but looks plausible)."""
    return id18[:17] + rng.choice([c for c in ID_CHARS if c != id18[17]])


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55  # A=10 ... Z=35


def org_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organization code body."""
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body8, ORG_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def make_org_code(rng: random.Random, *, new_style: bool) -> str:
    """A 9-character organization code (check included, no hyphen).

    Old codes (before the 2015 USCC reform) are 8 digits; codes assigned since begin ``MA`` and use
    the USCC charset, so they can be embedded in a USCC.
    """
    if new_style:
        body = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    code = body + org_check_char(body)
    if any(c not in USCC_VALUE for c in code):  # pragma: no cover - digits and MA... always are
        raise ValueError(code)
    return code


def uscc_check_char(body17: str) -> str:
    """The GB 32100 check character of a 17-character USCC body."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def make_uscc(kind: str, admin_code: str, org_code: str) -> str:
    """An 18-character USCC: ``kind`` is the 2-char authority + entity type, e.g. ``91``."""
    body = f"{kind}{admin_code}{org_code}"
    if len(body) != 17:
        raise ValueError(f"USCC body must have 17 chars, got {body!r}")
    return body + uscc_check_char(body)


def wrong_uscc_check(uscc: str, rng: random.Random) -> str:
    return uscc[:17] + rng.choice([c for c in USCC_CHARSET if c != uscc[17]])


def mod_11_10_check(digits: str) -> str:
    """ISO 7064 MOD 11,10 check digit (hybrid system) of a digit string."""
    product = 10
    for d in digits:
        total = (product + int(d)) % 10 or 10
        product = total * 2 % 11
    return str((11 - product) % 10)


def make_registration_no(rng: random.Random, authority_code: str) -> str:
    """A legacy 15-digit business registration number (工商注册号)."""
    body = authority_code + "".join(rng.choice("0123456789") for _ in range(8))
    return body + mod_11_10_check(body)


_FULLWIDTH = {i: i + 0xFEE0 for i in range(0x21, 0x7F)}


def to_fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (Ａ１２...)."""
    return text.translate(_FULLWIDTH)
