"""USCC (GB 32100), organization codes (GB 11714), GS15 registration numbers, mixed taxpayer IDs."""

from __future__ import annotations

import random

from stdnum.cn import uscc as std_uscc
from stdnum.iso7064 import mod_11_10

from jobs.silver.rules import legal_identity as li
from jobs.silver.rules.reasons import Reason

ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ref_org_check(body8: str) -> str:
    """GB 11714-1997, written out independently of the rule."""
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    c = 11 - total % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def test_uscc_known_vectors(apply):
    got = apply(
        li.uscc,
        [
            "91110000600037341L",
            "91350100M000100Y43",
            " 9135 0100-m000 100y43 ",
            "９１１１００００６０００３７３４１Ｌ",
        ],
    )
    first = got[0].asDict()
    assert first == {
        "uscc": "91110000600037341L",
        "is_valid": True,
        "invalid_reason": None,
        "org_code": "600037341",
        "org_code_valid": True,
        "admin_code": "110000",
    }
    assert got[1]["is_valid"] and got[1]["org_code"] == "M000100Y4" and got[1]["org_code_valid"]
    assert got[2]["uscc"] == "91350100M000100Y43" and got[2]["is_valid"]
    assert got[3]["uscc"] == "91110000600037341L" and got[3]["is_valid"]


def test_uscc_check_char(apply):
    assert apply(li.uscc_check_char, ["91110000600037341", "91350100M000100Y4"]) == ["L", "3"]


def test_uscc_invalid_reasons(apply):
    cases = {
        None: Reason.MISSING,
        "": Reason.MISSING,
        "91110000600037341#": Reason.BAD_CHARS,
        "9111000060003734": Reason.BAD_LENGTH,
        "91110000600037341LL": Reason.BAD_LENGTH,
        "9111000060003734IL": Reason.BAD_CHARS,  # I is not in the USCC alphabet
        "911100A0600037341L": Reason.BAD_CHARS,  # admin code must be digits
        "91110000600037341M": Reason.BAD_CHECKSUM,
        "91110000600037342L": Reason.BAD_CHECKSUM,
    }
    got = apply(li.uscc, list(cases))
    assert [g["invalid_reason"] for g in got] == [r.value for r in cases.values()]
    assert not any(g["is_valid"] for g in got)
    assert all(g["org_code"] is None for g in got)


def test_uscc_letter_authority_codes_are_valid(apply):
    # GB 32100 registration-authority codes include letters (N agriculture, Y other); python-stdnum
    # wrongly requires digits in positions 1-8, so this is checked against the standard's arithmetic.
    body = "N2320102MA1XB3G4" + ref_org_check("MA1XB3G4")
    code = body + std_uscc.calc_check_digit(body + "0")
    assert not std_uscc.is_valid(code)
    got = apply(li.uscc, [code])[0]
    assert got["is_valid"] and got["org_code"] == "MA1XB3G4" + ref_org_check("MA1XB3G4")


def test_uscc_embedded_org_code_flag(apply):
    body = "91320102" + "MA1XB3G4" + ("0" if ref_org_check("MA1XB3G4") != "0" else "1")  # wrong org check
    code = body + std_uscc.calc_check_digit(body + "0")
    got = apply(li.uscc, [code])[0]
    assert got["is_valid"] is True and got["org_code_valid"] is False


def _random_usccs(rng: random.Random, n: int) -> list[str]:
    alphabet = li.USCC_ALPHABET
    out = []
    for _ in range(n):
        org_body = "".join(rng.choice(alphabet) for _ in range(8))
        head = f"{rng.randint(1, 9)}{rng.randint(1, 9)}32{rng.randint(0, 9999):04d}"
        body = head + org_body + ref_org_check(org_body)
        code = body + std_uscc.calc_check_digit(body + "0")
        roll = rng.random()
        if roll < 0.3:
            code = code[:-1] + rng.choice(alphabet)
        elif roll < 0.4:
            i = rng.randrange(17)
            code = code[:i] + rng.choice(alphabet) + code[i + 1 :]
        elif roll < 0.45:
            code = code[: rng.randrange(10, 18)]
        elif roll < 0.5:
            code = code.lower()
        out.append(code)
    return out


def test_uscc_property_against_python_stdnum(apply):
    codes = _random_usccs(random.Random(32100), 2000)
    got = apply(li.uscc, codes)
    n_valid = 0
    for code, res in zip(codes, got, strict=True):
        expected = std_uscc.is_valid(code)
        assert res["is_valid"] is expected, (code, res)
        if expected:
            n_valid += 1
            compact = std_uscc.compact(code)
            assert res["uscc"] == compact and res["org_code"] == compact[8:17]
            assert res["org_code_valid"] is (ref_org_check(compact[8:16]) == compact[16])
    assert 800 < n_valid < 1800


def test_org_code(apply):
    got = apply(
        li.org_code,
        [
            "60003734-1",
            "600037341",
            "６０００３７３４－１",
            "M000100Y-4",
            "60003734-2",
            "6000373-1",
            "6000373X-Y",
            None,
        ],
    )
    assert [(g["org_code"], g["is_valid"], g["invalid_reason"]) for g in got] == [
        ("600037341", True, None),
        ("600037341", True, None),
        ("600037341", True, None),
        ("M000100Y4", True, None),
        ("600037342", False, "BAD_CHECKSUM"),
        ("60003731", False, "BAD_LENGTH"),
        ("6000373XY", False, "BAD_CHARS"),
        (None, False, "MISSING"),
    ]


def test_org_code_check_char_against_reference(apply):
    rng = random.Random(11714)
    bodies = ["".join(rng.choice(ORG_ALPHABET) for _ in range(8)) for _ in range(500)]
    got = apply(li.org_code_check_char, bodies)
    assert got == [ref_org_check(b) for b in bodies]
    assert {"X", "0"} <= set(got)  # both special cases occur


def test_uscc_org_code(apply):
    assert apply(li.uscc_org_code, ["91110000600037341L", "91110000600037341M", None]) == [
        "600037341",
        None,
        None,
    ]


def test_registration_no(apply):
    rng = random.Random(2006)
    numbers = []
    for _ in range(500):
        body = f"320{rng.randint(0, 999):03d}{rng.randint(0, 10**8 - 1):08d}"
        check = mod_11_10.calc_check_digit(body)
        numbers.append(body + (check if rng.random() < 0.6 else str(rng.randrange(10))))
    got = apply(li.registration_no, numbers)
    for number, res in zip(numbers, got, strict=True):
        assert res["is_valid"] is mod_11_10.is_valid(number), number
        assert res["invalid_reason"] == (None if res["is_valid"] else "BAD_CHECKSUM")
    bad = apply(li.registration_no, ["11010800000001", "11010800000001A", "110108000000016", None])
    assert [b["invalid_reason"] for b in bad] == ["BAD_LENGTH", "BAD_CHARS", None, "MISSING"]


def test_gs15_check_digit(apply):
    bodies = ["11010800000001", "32010000000001", "00200667308000"]
    assert apply(li.gs15_check_digit, bodies) == [mod_11_10.calc_check_digit(b) for b in bodies]


def test_legal_id_classifies_taxpayer_ids(apply):
    tax15 = "320105" + "600037341"  # admin code + organization code, whose GS15 check fails
    assert not mod_11_10.is_valid(tax15)
    got = apply(
        li.legal_id,
        ["91110000600037341L", "110108000000016", tax15, "60003734-1", "110108000000017", "12345", None],
    )
    assert [(g["kind"], g["is_valid"], g["invalid_reason"], g["org_code"]) for g in got] == [
        ("USCC", True, None, "600037341"),
        ("REGISTRATION_NO", True, None, None),
        ("TAX_ID_15", True, None, "600037341"),
        ("ORG_CODE", True, None, "600037341"),
        ("REGISTRATION_NO", False, "BAD_CHECKSUM", None),
        ("UNKNOWN", False, "BAD_LENGTH", None),
        (None, False, "MISSING", None),
    ]
