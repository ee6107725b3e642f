"""Date parsing and phone numbers."""

from __future__ import annotations

import datetime as dt

from jobs.silver.rules import dates, phones


def test_parse_date_patterns(apply):
    got = apply(
        dates.parse_date,
        [
            "20230105",
            "2023-01-05",
            "2023-1-5",
            "2023/1/5",
            "2023.01.05",
            "2023年1月5日",
            "２０２３－０１－０５",  # full-width
            " 2023-01-05 ",
            "2023-01-05 12:30:00",
            "2023-01-05T12:30:00.000",
        ],
    )
    assert all(g["date"] == dt.date(2023, 1, 5) and g["invalid_reason"] is None for g in got), got


def test_parse_date_reasons(apply):
    cases = {
        None: (None, "MISSING"),
        " ": (None, "MISSING"),
        "2023-02-30": (None, "IMPOSSIBLE_DATE"),
        "20231301": (None, "IMPOSSIBLE_DATE"),
        "2023年2月29日": (None, "IMPOSSIBLE_DATE"),
        "2024-02-29": (dt.date(2024, 2, 29), None),  # leap year
        "05/01/2023": (None, "UNPARSEABLE"),
        "not a date": (None, "UNPARSEABLE"),
        "1899-12-31": (None, "BEFORE_MIN"),
        "1900-01-01": (dt.date(1900, 1, 1), None),
        "2999-01-01": (None, "AFTER_MAX"),
    }
    got = apply(dates.parse_date, list(cases))
    assert [(g["date"], g["invalid_reason"]) for g in got] == list(cases.values())


def test_parse_date_custom_patterns_and_bounds(apply):
    def rule(c):
        return dates.parse_date(
            c, ["dd/MM/yyyy", "yyyyMMdd"], min_date="2000-01-01", max_date=dt.date(2020, 12, 31)
        )

    got = apply(rule, ["05/01/2010", "20100105", "2010-01-05", "19991231", "20210101"])
    assert [(g["date"], g["invalid_reason"]) for g in got] == [
        (dt.date(2010, 1, 5), None),
        (dt.date(2010, 1, 5), None),
        (None, "IMPOSSIBLE_DATE"),  # date-shaped, but no declared pattern parses it
        (None, "BEFORE_MIN"),
        (None, "AFTER_MAX"),
    ]


def test_mobile_numbers(apply):
    raw = [
        "13912345678",
        "+86 139 1234 5678",
        "0086-139-1234-5678",
        "8613912345678",
        "１３９１２３４５６７８",
        "(+86)139-1234-5678",
        " 139 1234 5678 ",
        "19912345678",
    ]
    got = apply(phones.phone, raw)
    assert [g["phone"] for g in got] == ["13912345678"] * 7 + ["19912345678"]
    assert all(g["is_mobile"] and g["phone_type"] == "MOBILE" and g["invalid_reason"] is None for g in got)


def test_landlines_and_bad_numbers(apply):
    raw = ["025-84561234", " 0516-1234567 ", "+86 25 8456 1234", "84561234", "400-123-4567"]
    got = apply(phones.phone, raw)
    assert [g["phone"] for g in got] == [r.strip() for r in raw]  # kept as sent, trimmed
    assert all(not g["is_mobile"] and g["phone_type"] == "LANDLINE" for g in got)
    assert {g["invalid_reason"] for g in got} == {"NOT_MOBILE"}

    bad = apply(
        phones.phone, ["12345678901", "1391234567", "139123456789", "13912345678/13812345678", "abc", None]
    )
    assert [(b["phone"], b["is_mobile"], b["phone_type"], b["invalid_reason"]) for b in bad] == [
        ("12345678901", False, None, "BAD_PHONE"),
        ("1391234567", False, None, "BAD_PHONE"),
        ("139123456789", False, None, "BAD_PHONE"),
        ("13912345678/13812345678", False, None, "BAD_PHONE"),
        ("abc", False, None, "BAD_PHONE"),
        (None, None, None, "MISSING"),
    ]
