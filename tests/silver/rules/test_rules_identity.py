"""Citizen ID numbers (GB 11643) and the stated-vs-derived cross-checks."""

from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from jobs.silver.rules import identity
from jobs.silver.rules.reasons import Reason


def test_check_char_known_vectors(apply):
    bodies = ["11010519491231002", "44052418800101001", "36042619910101007"]
    assert apply(identity.gb11643_check_char, bodies) == ["X", "4", "1"]


def test_known_valid_numbers(apply):
    got = apply(
        identity.citizen_id,
        [
            "11010519491231002X",
            "440524188001010014",
            "11010519491231002x",
            " １１０１０５１９４９１２３１００２Ｘ ",
        ],
    )
    first = got[0]
    assert first["id"] == "11010519491231002X" and first["is_valid"] is True
    assert first["invalid_reason"] is None
    assert first["birth_date"] == dt.date(1949, 12, 31)
    assert first["sex"] == identity.SEX_FEMALE  # 17th digit 2: even
    assert first["admin_code"] == "110105"
    assert first["upgraded_from_15"] is False
    second = got[1]
    assert second["is_valid"] is True and second["birth_date"] == dt.date(1880, 1, 1)
    assert second["sex"] == identity.SEX_MALE and second["admin_code"] == "440524"
    # lower-case x, full-width characters and surrounding spaces are cleaned away
    assert got[2]["id"] == got[3]["id"] == "11010519491231002X"
    assert got[2]["is_valid"] and got[3]["is_valid"]


def test_fifteen_digit_upgrade(apply):
    got = apply(identity.citizen_id, ["110105491231002", "１１０１０５４９１２３１００２", "110105490231002"])
    assert got[0]["id"] == "11010519491231002X"
    assert got[0]["is_valid"] and got[0]["upgraded_from_15"]
    assert got[0]["birth_date"] == dt.date(1949, 12, 31)
    assert got[1]["id"] == "11010519491231002X"
    # 1949-02-31 is no date: the cleaned 15 digits are kept, not upgraded
    assert got[2].asDict() == {
        "id": "110105490231002",
        "is_valid": False,
        "invalid_reason": "BAD_DATE",
        "birth_date": None,
        "sex": None,
        "admin_code": None,
        "upgraded_from_15": False,
    }


def test_invalid_reasons(apply):
    cases = {
        None: Reason.MISSING,
        "  ": Reason.MISSING,
        "11010519491231002-": Reason.BAD_CHARS,
        "1101051949123100X2": Reason.BAD_CHARS,  # X only as the check character
        "11010549123100X": Reason.BAD_CHARS,  # 15-digit numbers have no check character
        "1101051949123100": Reason.BAD_LENGTH,
        "1101051949123100211": Reason.BAD_LENGTH,
        "99010519491231002X": Reason.BAD_REGION,
        "110105194902300027": Reason.BAD_DATE,  # 1949-02-30
        "110105209901010012": Reason.BAD_DATE,  # in the future
        "110105194912310021": Reason.BAD_CHECKSUM,
        "440524188001010015": Reason.BAD_CHECKSUM,
    }
    got = apply(identity.citizen_id, list(cases))
    assert [g["invalid_reason"] for g in got] == [r.value for r in cases.values()]
    assert not any(g["is_valid"] for g in got)
    assert all(g["birth_date"] is None and g["sex"] is None for g in got)


def _random_ids(rng: random.Random, n: int) -> list[str]:
    regions = ["110105", "320102", "320582", "321002", "440524", "310115", "650102", "130104"]
    out = []
    for _ in range(n):
        area = rng.choice(regions)
        year = rng.randint(1900, 2024)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        roll = rng.random()
        if roll < 0.05:
            month = rng.choice([0, 13])
        elif roll < 0.10:
            month, day = 2, rng.choice([29, 30, 31])  # 29 is real in leap years
        elif roll < 0.13:
            day = 31  # real in 7 months
        body = f"{area}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
        check = ric.calc_check_digit(body + "0")
        if rng.random() < 0.3:
            check = rng.choice("0123456789X")
        number = body + check
        if rng.random() < 0.05:  # a typo in one digit
            i = rng.randrange(17)
            number = number[:i] + str(rng.randrange(10)) + number[i + 1 :]
        if rng.random() < 0.1:
            number = number.lower() if rng.random() < 0.5 else f" {number} "
        out.append(number)
    return out


def _oracle(number: str) -> tuple[bool, dt.date | None]:
    """python-stdnum's checks (length, format, check digit, birth date), plus the rule's province and
    not-in-the-future checks; stdnum's birthplace lookup is left out (the rule has no GB/T 2260 table)."""
    n = ric.compact(number)
    if len(n) != 18 or not n[:17].isdigit() or n[-1] != ric.calc_check_digit(n):
        return False, None
    try:
        born = ric.get_birth_date(n)
    except ValidationError:
        return False, None
    if born > dt.date.today() or n[:2] not in identity.PROVINCE_CODES:
        return False, None
    return True, born


def test_property_against_python_stdnum(apply):
    rng = random.Random(11643)
    numbers = _random_ids(rng, 3000)
    got = apply(identity.citizen_id, numbers)
    n_valid = 0
    for number, res in zip(numbers, got, strict=True):
        ok, born = _oracle(number)
        assert res["is_valid"] is ok, (number, res)
        if ok:
            n_valid += 1
            assert res["id"] == ric.compact(number)
            assert res["birth_date"] == born
            assert ric.is_valid(res["id"]) or not _has_place(res["id"])
            assert res["sex"] == ("1" if int(number.strip()[16]) % 2 else "2")
    assert 1000 < n_valid < 2700  # the generator really exercises both outcomes


def _has_place(number: str) -> bool:
    try:
        ric.get_birth_place(number)
    except ValidationError:
        return False
    return True


def test_property_fifteen_digit_upgrade(apply):
    rng = random.Random(1989)
    numbers = []
    for _ in range(300):
        yymmdd = (dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(36500))).strftime("%y%m%d")
        numbers.append(f"320102{yymmdd}{rng.randint(0, 999):03d}")
    got = apply(identity.citizen_id, numbers)
    for number, res in zip(numbers, got, strict=True):
        body = number[:6] + "19" + number[6:]
        expected = body + ric.calc_check_digit(body + "0")
        assert res["id"] == expected and res["is_valid"] and res["upgraded_from_15"]
        assert _oracle(expected) == (True, res["birth_date"])


def test_normalize_sex(apply):
    got = apply(identity.normalize_sex, ["男", "女 ", "1", "２", "M", "female", "未知", "9", "x", None])
    assert got == ["1", "2", "1", "2", "1", "2", "0", "9", None, None]


def test_cross_checks(spark):
    rows = [
        # id, stated birth date, stated sex
        ("11010519491231002X", dt.date(1949, 12, 31), "女"),  # agrees
        ("11010519491231002X", dt.date(1950, 12, 31), "男"),  # both conflict
        ("11010519491231002X", None, "未说明"),  # nothing stated -> unknown
        ("110105194912310021", dt.date(1949, 12, 31), "女"),  # bad ID -> nothing derived
    ]
    df = spark.createDataFrame(rows, "id string, birth date, sex string")
    idc = identity.citizen_id(df["id"])
    out = df.select(
        df["birth"],
        df["sex"],
        identity.id_cross_checks(idc, df["birth"], df["sex"]).alias("x"),
    ).collect()
    flags = [(r["x"]["birth_date_conflict"], r["x"]["sex_conflict"]) for r in out]
    assert flags == [(False, False), (True, True), (None, None), (None, None)]
    # the stated values are untouched
    assert [(r["birth"], r["sex"]) for r in out] == [(b, s) for _, b, s in rows]
