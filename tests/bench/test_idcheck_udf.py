"""The benchmark's plain-Python citizen-ID rule on known values (its agreement with the native rule on
every generated row is checked by test_pipeline_bench)."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.idcheck_udf import citizen_id_py

VALID = ("11010519491231002X", True, None, dt.date(1949, 12, 31), "2", "110105", False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", VALID),
        ("11010519491231002x", VALID),
        (" １１０１０５１９４９１２３１００２Ｘ\u3000", VALID),  # full-width, ideographic space
        ("110105491231002", (*VALID[:-1], True)),  # legacy 15 digits, upgraded
        ("110105194912310021", ("110105194912310021", False, "BAD_CHECKSUM", None, None, None, False)),
        ("99010519491231002X", ("99010519491231002X", False, "BAD_REGION", None, None, None, False)),
        ("11010519491331002X", ("11010519491331002X", False, "BAD_DATE", None, None, None, False)),
        ("1101051949123100", ("1101051949123100", False, "BAD_LENGTH", None, None, None, False)),
        ("11010519491231002-", ("11010519491231002-", False, "BAD_CHARS", None, None, None, False)),
        ("110105194912310X2X", ("110105194912310X2X", False, "BAD_CHARS", None, None, None, False)),
        ("  ", (None, False, "MISSING", None, None, None, False)),
        (None, (None, False, "MISSING", None, None, None, False)),
    ],
)
def test_citizen_id_py(value, expected):
    assert citizen_id_py(value) == expected
