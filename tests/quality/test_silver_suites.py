"""Silver suite helpers on tiny frames: ID checks, golden keys, foreign keys, consistency, ranges."""

from __future__ import annotations

import datetime as dt

import stdnum.cn.ric as ric
import stdnum.cn.uscc as uscc

from jobs.quality.gx_runner import validate_dataframe
from jobs.quality.silver import (
    SilverSuite,
    citizen_id_checksum_ok,
    foreign_key_violations,
    uscc_checksum_ok,
    with_foreign_key_flag,
)

PERSON = (
    "person_id string, id_number string, name string, birth_date date, death_date date, admin_code string"
)


def citizen_id(base17: str) -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


def with_uscc_check(base17: str) -> str:
    return base17 + uscc.calc_check_digit(base17)


def test_checksums_agree_with_python_stdnum(spark):
    bases = ["32010219800101001", "32058119991231123", "11010519491231002", "32130220000229456"]
    ids = [citizen_id(b) for b in bases]
    wrong = [i[:-1] + ("1" if i[-1] != "1" else "2") for i in ids]
    ends_in_x = next(
        citizen_id(f"32010219800101{n:03d}")
        for n in range(1000)
        if citizen_id(f"32010219800101{n:03d}")[-1] == "X"
    )
    codes = [with_uscc_check(b) for b in ["91320102134756890", "12320000466007431", "91320500MA1MXXXX9"]]
    bad_codes = [c[:-1] + ("0" if c[-1] != "0" else "1") for c in codes]
    cases = [
        *[(v, True, "cid") for v in [*ids, ends_in_x, ends_in_x.lower()]],  # x is read as X
        *[(v, False, "cid") for v in [*wrong, "3201021980010100", "32010219800101001Z"]],
        *[(v, True, "uscc") for v in codes],
        *[(v, False, "uscc") for v in [*bad_codes, "91320102I3475689O7"]],
        (None, None, "cid"),
        (None, None, "uscc"),
    ]
    df = spark.createDataFrame(cases, "v string, ok boolean, k string")
    got = df.select(
        "v", "ok", "k", citizen_id_checksum_ok("v").alias("cid_ok"), uscc_checksum_ok("v").alias("uscc_ok")
    ).collect()
    assert len(got) == len(cases)
    for row in got:
        assert (row.cid_ok if row.k == "cid" else row.uscc_ok) == row.ok, (row.v, row.k)


def test_foreign_key_violations_is_an_anti_join(spark):
    people = spark.createDataFrame(
        [("p1", "320102"), ("p2", "329999"), ("p3", None), ("p4", "329999"), ("p5", "320205")],
        "person_id string, admin_code string",
    )
    divisions = spark.createDataFrame([("320102",), ("320205",), ("320106",)], "code string")
    orphans = foreign_key_violations(people, "admin_code", divisions, "code")
    assert sorted(r.person_id for r in orphans.collect()) == ["p2", "p4"]
    flagged = with_foreign_key_flag(people, "fk_ok", "admin_code", lambda _spark: divisions, "code")
    assert flagged.columns == ["person_id", "admin_code", "fk_ok"]
    assert {r.person_id: r.fk_ok for r in flagged.collect()} == {
        "p1": True,
        "p2": False,
        "p3": True,  # null keys are the not_null check's business
        "p4": False,
        "p5": True,
    }
    # composite keys
    pairs = spark.createDataFrame([("a", 1), ("a", 2)], "k string, n int")
    ref = spark.createDataFrame([("a", 1)], "rk string, rn int")
    assert [tuple(r) for r in foreign_key_violations(pairs, ["k", "n"], ref, ["rk", "rn"]).collect()] == [
        ("a", 2)
    ]


def _person_suite(divisions) -> SilverSuite:
    return (
        SilverSuite("silver.person_test", meta={"owner": "tests"})
        .columns_exist("person_id", "id_number")
        .not_null("person_id", "name")
        .unique("person_id")
        .id_format("id_number", "citizen_id")
        .id_checksum("id_number", "citizen_id", example_columns=["person_id"])
        .foreign_key(
            "admin_code",
            lambda _spark: divisions,
            "code",
            reference_name="silver.admin_division",
            example_columns=["person_id"],
        )
        .ordered("birth_date", "death_date")
        .between("birth_date", "1900-01-01", "2030-12-31")
        .rule("name_not_blank", "trim(name) <> ''", example_columns=["person_id", "name"])
    )


def test_silver_suite_passes_clean_and_pinpoints_defects(spark, settings):
    divisions = spark.createDataFrame([("320102",), ("320205",)], "code string")
    d = dt.date
    clean = [
        ("p1", citizen_id("32010219800101001"), "张三", d(1980, 1, 1), None, "320102"),
        ("p2", citizen_id("32020519900202002"), "李四", d(1990, 2, 2), d(2020, 5, 1), "320205"),
        ("p3", None, "王五", d(2001, 3, 3), None, None),
    ]
    suite = _person_suite(divisions)
    ok = validate_dataframe(
        spark.createDataFrame(clean, PERSON),
        suite,
        table="silver.person_test",
        settings=settings,
        record=False,
    )
    assert ok.success, ok.report()
    assert ok.row_count == 3

    bad_checksum = citizen_id("32010219800101003")[:-1] + "0"
    if bad_checksum == citizen_id("32010219800101003"):
        bad_checksum = bad_checksum[:-1] + "1"
    defective = [
        *clean,
        ("p1", citizen_id("32010219800101004"), "重复", d(1980, 1, 1), None, "320102"),  # duplicate key
        ("p5", "3201021980", "赵六", d(1980, 1, 1), None, "320102"),  # malformed ID
        ("p6", bad_checksum, "钱七", d(1980, 1, 1), None, "320102"),  # wrong check character
        ("p7", None, "孙八", d(1980, 1, 1), None, "329999"),  # unknown admin code
        ("p8", None, "周九", d(1990, 1, 1), d(1989, 12, 31), "320102"),  # died before birth
        ("p9", None, "吴十", d(1850, 1, 1), None, "320102"),  # out of range
        ("pa", None, "  ", d(1980, 1, 1), None, "320102"),  # blank name
    ]
    outcome = validate_dataframe(
        spark.createDataFrame(defective, PERSON),
        suite,
        table="silver.person_test",
        settings=settings,
        record=False,
        build_docs=False,
    )
    assert not outcome.success
    failed = {(o.expectation_type, o.column or o.kwargs.get("column_A")): o for o in outcome.failed}
    assert set(failed) == {
        ("expect_column_values_to_be_unique", "person_id"),
        ("expect_column_values_to_match_regex", "id_number"),
        ("expect_column_values_to_be_in_set", "_dq_id_number_citizen_id_checksum"),
        ("expect_column_values_to_be_in_set", "_dq_fk_admin_code"),
        ("expect_column_pair_values_a_to_be_greater_than_b", "death_date"),
        ("expect_column_values_to_be_between", "birth_date"),
        ("expect_column_values_to_be_in_set", "_dq_name_not_blank"),
    }
    assert failed[("expect_column_values_to_be_unique", "person_id")].unexpected_count == 2
    assert failed[("expect_column_values_to_match_regex", "id_number")].examples == ("3201021980",)
    # derived checks show the offending rows, not GX's "False"
    fk = failed[("expect_column_values_to_be_in_set", "_dq_fk_admin_code")]
    assert fk.unexpected_count == 1 and fk.examples == ({"admin_code": "329999", "person_id": "p7"},)
    assert fk.description == "(admin_code) references silver.admin_division(code)"
    checksum = failed[("expect_column_values_to_be_in_set", "_dq_id_number_citizen_id_checksum")]
    # the malformed ID fails the checksum too; the good ones (and nulls) do not
    assert {e["person_id"] for e in checksum.examples} == {"p5", "p6"}
    blank = failed[("expect_column_values_to_be_in_set", "_dq_name_not_blank")]
    assert blank.examples == ({"person_id": "pa", "name": "  "},)
    assert failed[("expect_column_values_to_be_between", "birth_date")].unexpected_count == 1
    report = outcome.report()
    assert "references silver.admin_division(code)" in report and '"admin_code": "329999"' in report
