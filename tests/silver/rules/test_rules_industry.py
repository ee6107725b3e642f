"""GB/T 4754-2017 industry codes: section letters derived from divisions, invalid codes flagged."""

from __future__ import annotations

from govlake.reference.industry import SECTIONS, section_of_division
from jobs.silver.rules.industry import industry_code, section_of
from jobs.silver.rules.reasons import Reason


def test_sections_cover_divisions_01_to_97_once_each():
    covered = [d for s in SECTIONS for d in range(s.first_division, s.last_division + 1)]
    assert covered == list(range(1, 98))
    assert [s.letter for s in SECTIONS] == [chr(c) for c in range(ord("A"), ord("T") + 1)]


def test_spark_section_agrees_with_reference_for_every_division(apply):
    divisions = list(range(0, 101))
    assert apply(section_of, divisions, "int") == [section_of_division(d) for d in divisions]


def test_codes_from_the_generator_get_their_section(apply):
    # hydm as market regulation sends it: the 4-digit class alone.
    got = apply(industry_code, ["3670", "0111", "7010", "6513", "5213", "8010", "4710"])
    assert [g["code"] for g in got] == ["C3670", "A0111", "K7010", "I6513", "F5213", "O8010", "E4710"]
    assert all(g["is_valid"] and g["invalid_reason"] is None for g in got)
    assert got[0].asDict() == {
        "code": "C3670",
        "section": "C",
        "division": "36",
        "is_valid": True,
        "invalid_reason": None,
    }


def test_letters_levels_and_messy_input(apply):
    got = apply(industry_code, ["C3670", "c 36-70", "Ｃ３６７", "C36", "T97", "s", "  9710 "])
    assert [(g["code"], g["section"], g["division"]) for g in got] == [
        ("C3670", "C", "36"),
        ("C3670", "C", "36"),
        ("C367", "C", "36"),
        ("C36", "C", "36"),
        ("T97", "T", "97"),
        ("S", "S", None),
        ("T9710", "T", "97"),
    ]


def test_invalid_codes_are_flagged_with_the_first_failed_check(apply):
    values = [None, "  ", "U3670", "C36A0", "3", "C", "367012", "9810", "0010", "A3670", "C0111"]
    got = apply(industry_code, values)
    assert [g["invalid_reason"] for g in got] == [
        Reason.MISSING,
        Reason.MISSING,
        Reason.BAD_CHARS,
        Reason.BAD_CHARS,
        Reason.BAD_LENGTH,
        None,  # a section alone is a valid (coarse) code
        Reason.BAD_LENGTH,
        Reason.BAD_DIVISION,
        Reason.BAD_DIVISION,
        Reason.SECTION_MISMATCH,
        Reason.SECTION_MISMATCH,
    ]
    invalid = [g for g in got if g["invalid_reason"] is not None]
    assert all(g["code"] is None and g["section"] is None and g["is_valid"] is False for g in invalid)
