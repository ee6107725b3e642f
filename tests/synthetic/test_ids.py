"""Identifier generation, checked against python-stdnum as an independent oracle."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10

from govlake.reference.admin_divisions import county_codes_valid_in
from synthetic import ids


def _org_check(body: str) -> str:
    """GB 11714 check char, written out independently of the generator."""
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def test_known_published_numbers():
    # the GB 11643 example number and a real USCC (both used in python-stdnum's own docs)
    assert ids.id_check_char("36042619910101007") == "1"
    assert ids.uscc_check_char("91110000600037341") == "L"
    assert ids.org_check_char("60003734") == "1"


def test_citizen_ids_pass_stdnum_and_carry_sex_and_birth():
    rng = random.Random(1)
    for _ in range(2000):
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(34_000))
        place = rng.choice(county_codes_valid_in(birth.year))
        male = rng.random() < 0.5
        number = ids.make_citizen_id(place, birth, ids.sequence_for(rng, male))
        assert ric.is_valid(number), number
        assert ric.get_birth_date(number) == birth
        assert int(number[16]) % 2 == (1 if male else 0)
        bad = ids.wrong_check_char(number, rng)
        assert bad[:17] == number[:17] and not ric.is_valid(bad)
        legacy = ids.legacy_id15(number)
        assert len(legacy) == 15 and legacy == number[:6] + number[8:17]


def test_uscc_embeds_a_valid_organization_code():
    rng = random.Random(2)
    for i in range(2000):
        org = ids.make_org_code(rng, new_style=i % 2 == 0)
        assert len(org) == 9 and _org_check(org[:8]) == org[8]
        kind = rng.choice((ids.USCC_ENTERPRISE, ids.USCC_INDIVIDUAL_BUSINESS, ids.USCC_FARMERS_COOPERATIVE))
        code = ids.make_uscc(kind, "320102", org)
        assert uscc.is_valid(code), code
        assert code[8:17] == org and code[2:8] == "320102"
        assert not set(code) & set("IOZSV")
        assert not uscc.is_valid(ids.wrong_uscc_check(code, rng))


def test_registration_numbers_use_iso7064_mod_11_10():
    rng = random.Random(3)
    for _ in range(500):
        number = ids.make_registration_no(rng, "320583")
        assert len(number) == 15 and number.startswith("320583")
        assert mod_11_10.is_valid(number)


def test_fullwidth():
    assert ids.to_fullwidth("32010219900101123X") == "３２０１０２１９９００１０１１２３Ｘ"


def test_uscc_body_must_have_17_chars():
    with pytest.raises(ValueError):
        ids.make_uscc("91", "3201", "12345678X")
