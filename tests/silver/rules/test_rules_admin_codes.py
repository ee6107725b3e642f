"""GB/T 2260 codes as sent -> the current code, on tiny frames."""

from __future__ import annotations

from govlake.reference.admin_divisions import current_code, jiangsu_division_history
from jobs.silver.rules.admin_codes import ADMIN_CODE_TYPE, admin_code


def test_abolished_codes_get_their_successor_and_keep_what_was_sent(apply, spark):
    sent = ["320602", "320684", "320103", "320611", "322229", "320613", "320800"]
    got = apply(admin_code, sent)
    assert [g["code"] for g in got] == ["320613", "320614", "320104", "320613", "320803", "320613", "320800"]
    assert [g["code_sent"] for g in got] == sent
    assert [g["is_historical"] for g in got] == [True] * 5 + [False] * 2
    assert all(g["is_known"] for g in got)
    df = spark.createDataFrame([("320602",)], "v string")
    assert df.select(admin_code(df["v"]).alias("o")).schema["o"].dataType.simpleString() == ADMIN_CODE_TYPE


def test_unknown_unmappable_and_missing_codes_pass_through(apply):
    got = apply(admin_code, ["322100", "110101", "329999", "", None])
    assert [tuple(g) for g in got] == [
        ("322100", "322100", True, True),  # 徐州地区 (abolished 1983): no one current code
        ("110101", "110101", False, False),  # Beijing's: not a Jiangsu code
        ("329999", "329999", False, False),
        ("", "", False, False),
        (None, None, None, None),
    ]


def test_spark_agrees_with_the_reference_for_every_jiangsu_code(apply):
    history = jiangsu_division_history()
    got = apply(admin_code, [h.code for h in history])
    for h, g in zip(history, got, strict=True):
        assert g["code"] == (current_code(h.code) or h.code), h.code
        assert (g["is_historical"], g["is_known"]) == (not h.is_current, True), h.code
