"""Scorecard indicators on tiny frames, the schedule arithmetic, and the league table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import stdnum.cn.ric as ric

from govlake.registry import ColumnType, load_registry
from jobs.quality.scorecard.indicators import (
    bronze_row_indicators,
    expected_arrival,
    file_indicators,
    person_indicators,
    quarantine_indicators,
    score_cells,
)
from jobs.quality.scorecard.render import league_table

GOOD_ID = "32010219800101001" + ric.calc_check_digit("32010219800101001" + "0")
BAD_ID = GOOD_ID[:-1] + ("1" if GOOD_ID[-1] != "1" else "2")
BRONZE = (
    "record_no string, id_number string, name string, phone string, admin_code string, "
    "_source_id string, _prefecture string, _file_hash string, _row_number int"
)


def _figures(long_df) -> dict[tuple[str, str, str], tuple[float, float]]:
    return {
        (r.source_id, r.prefecture, r.indicator): (r.numerator, r.denominator)
        for r in long_df.groupBy("source_id", "prefecture", "indicator")
        .sum("numerator", "denominator")
        .withColumnsRenamed({"sum(numerator)": "numerator", "sum(denominator)": "denominator"})
        .collect()
    }


def test_bronze_rows_conformity_completeness_uniqueness(spark):
    rows = [
        # prefecture source: scored under its own prefecture whatever the admin code says
        ("R1", GOOD_ID, "张三", "13800000000", "320102", "hh_3201", "3201", "f1", 1),
        ("R2", BAD_ID, "李四", None, "320102", "hh_3201", "3201", "f1", 2),  # checksum fails, no phone
        ("R1", GOOD_ID, "张三", "13800000000", "320102", "hh_3201", "3201", "f1", 3),  # repeats R1
        # province-wide source: scored by the row's admin code, else province-wide "32"
        ("P1", None, "王五", " ", "320581", "prov", None, "f2", 1),  # blank phone is not filled
        ("P2", GOOD_ID, "赵六", "13900000000", None, "prov", None, "f2", 2),
    ]
    bronze = spark.createDataFrame(rows, BRONZE)
    got = _figures(
        bronze_row_indicators(
            bronze,
            columns=["record_no", "id_number", "name", "phone", "admin_code"],
            # the province source does not send admin_code... but it is still read for attribution
            sent_columns={
                "hh_3201": ["record_no", "id_number", "name", "phone", "admin_code"],
                "prov": ["record_no", "id_number", "name", "phone"],
            },
            row_key=["record_no"],
        )
    )
    assert got[("hh_3201", "3201", "conformity")] == (2, 3)
    assert got[("hh_3201", "3201", "completeness")] == (14, 15)
    assert got[("hh_3201", "3201", "uniqueness")] == (2, 3)
    assert got[("prov", "3205", "conformity")] == (1, 1)  # no ID sent: nothing fails
    assert got[("prov", "3205", "completeness")] == (2, 4)  # no ID, blank phone
    assert got[("prov", "32", "completeness")] == (4, 4)
    assert got[("prov", "32", "uniqueness")] == (1, 1)


def test_typed_values_must_parse_in_a_format_their_own_source_declares(spark):
    rows = [
        ("a", "19800101", "1,234.50", "s1", "3201"),
        ("b", "1980/01/01", "100", "s1", "3201"),  # not s1's format
        ("c", " ", None, "s1", "3201"),  # empty: completeness's business, not conformity's
        ("d", "１９８００１０１", "100", "s1", "3201"),  # full-width digits fold, as bronze reads them
        ("e", "1980年1月1日", "100", "s2", "3202"),
        ("f", "19800101", "100", "s2", "3202"),  # s1's format, not s2's
        ("g", "1980-01-01", "abc", "s2", "3202"),  # ISO is always read (XLSX cells); abc is no decimal
        ("h", "1980-02-30", "1", "s2", "3202"),  # no such day
    ]
    bronze = spark.createDataFrame(
        rows,
        "record_no string, birth_date string, monthly_base string, _source_id string, _prefecture string",
    ).selectExpr("*", "'f' AS _file_hash", "1 AS _row_number")
    columns = ["record_no", "birth_date", "monthly_base"]
    got = _figures(
        bronze_row_indicators(
            bronze,
            columns=columns,
            sent_columns={"s1": columns, "s2": columns},
            row_key=["record_no"],
            typed_columns={"birth_date": ColumnType.DATE, "monthly_base": ColumnType.DECIMAL},
            date_formats={"s1": ["yyyyMMdd"], "s2": ["yyyy年M月d日"]},
        )
    )
    assert got[("s1", "3201", "conformity")] == (3, 4)
    assert got[("s2", "3202", "conformity")] == (1, 4)


def test_files_are_scored_on_landing_time_against_the_schedule_and_on_being_readable(spark):
    registry = load_registry()
    # the registry's schedules these figures rest on (China Standard Time)
    assert registry.sources["ps_3201_household"].schedule == "0 1 * * *"
    assert registry.sources["hrss_social_insurance"].schedule == "0 3 * * 1"
    log = spark.createDataFrame(
        [
            # due 2025-07-01 01:00 CST; landed 2025-07-01 10:00 CST (02:00 UTC): on time, 0.375 days late
            ("ps_3201_household", "3201", "njga_hjrk_20250630.csv", "20250701T020000-aaaaaaaa", "LOADED"),
            # landed 2025-07-02 01:00:01 CST (17:00:01 UTC the day before): a second past the day allowed
            ("ps_3201_household", "3201", "njga_hjrk_20250630_2.csv", "20250701T170001-bbbbbbbb", "LOADED"),
            # weekly (Mondays 03:00): the extract of Monday 2025-06-30 is due 2025-07-07 03:00; a week's grace
            (
                "hrss_social_insurance",
                None,
                "jsrst_cbdj_20250630_01.csv",
                "20250710T000000-cccccccc",
                "REJECTED",
            ),
            # no date in the name: readable, but its timeliness cannot be judged
            ("hrss_social_insurance", None, "cbdj.csv", "20250710T000000-dddddddd", "EMPTY"),
        ],
        "source_id string, prefecture string, original_name string, batch_id string, status string",
    ).selectExpr("*", "CAST(NULL AS timestamp) AS loaded_at")
    got = _figures(file_indicators(log, registry, spark))
    assert got[("ps_3201_household", "3201", "accessibility")] == (2, 2)
    assert got[("ps_3201_household", "3201", "timeliness")] == (1, 2)
    late = got[("ps_3201_household", "3201", "lateness_days")]
    assert late[1] == 2 and abs(late[0] - (0.375 + (1 + 1 / 86400))) < 1e-9
    assert got[("hrss_social_insurance", "32", "accessibility")] == (1, 2)
    assert got[("hrss_social_insurance", "32", "timeliness")] == (1, 1)


def test_quarantined_rows_count_against_conformity(spark):
    quarantine = spark.createDataFrame(
        [("hh_3201", "3201"), ("prov", None)], "_source_id string, _prefecture string"
    )
    assert _figures(quarantine_indicators(quarantine)) == {
        ("hh_3201", "3201", "conformity"): (0, 1),
        ("prov", "32", "conformity"): (0, 1),
    }


def test_person_accuracy_and_consistency_against_the_golden_record(spark):
    records = spark.createDataFrame(
        [
            ("k1", "s", "3201", "320102", "张三", "1", datetime(1980, 1, 1).date(), False, False),
            (
                "k2",
                "s",
                "3201",
                "320102",
                "张叁",
                "1",
                datetime(1980, 1, 1).date(),
                False,
                False,
            ),  # name differs
            ("k3", "s", "3201", "320102", "张三", None, None, True, False),  # conflict; nulls not compared
            ("k4", "s", "3201", "320102", "无名", "2", None, False, False),  # not linked: no accuracy
        ],
        "record_key string, source_id string, prefecture string, admin_code string, name string, "
        "sex string, birth_date date, birth_date_conflict boolean, sex_conflict boolean",
    )
    crosswalk = spark.createDataFrame(
        [("k1", "P1"), ("k2", "P1"), ("k3", "P1")], "record_key string, person_id string"
    )
    persons = spark.createDataFrame(
        [
            ("P1", "张三", "1", datetime(1980, 1, 1).date(), True),
            ("P1", "张旧", "1", datetime(1980, 1, 1).date(), False),  # history is not the reference
        ],
        "person_id string, name string, sex string, birth_date date, is_current boolean",
    )
    got = _figures(person_indicators(records, crosswalk, persons))
    assert got[("s", "3201", "accuracy")] == (2, 3)
    assert got[("s", "3201", "consistency")] == (3, 4)


def test_score_cells_sums_counts_per_department(spark):
    long = spark.createDataFrame(
        [
            ("a", "3201", "uniqueness", 1.0, 1.0),
            ("a", "3201", "uniqueness", 0.0, 1.0),
            ("b", "3201", "uniqueness", 3.0, 3.0),
        ],
        "source_id string, prefecture string, indicator string, numerator double, denominator double",
    )
    departments = spark.createDataFrame(
        [("a", "health"), ("b", "health")], "source_id string, department string"
    )
    (cell,) = score_cells(long, departments).collect()
    assert (cell.department, cell.numerator, cell.denominator, cell.value) == ("health", 4.0, 5.0, 0.8)


def test_an_extract_is_due_at_the_first_scheduled_run_after_its_day():
    daily = "0 1 * * *"
    assert expected_arrival(daily, datetime(2025, 6, 30)) == (datetime(2025, 7, 1, 1, 0), timedelta(days=1))
    weekly = "0 3 * * 1"  # Mondays 03:00; 2025-06-30 is a Monday, so the extract of that day is due a week on
    assert expected_arrival(weekly, datetime(2025, 6, 30)) == (datetime(2025, 7, 7, 3, 0), timedelta(days=7))
    yearly = "0 5 15 1 *"
    due, period = expected_arrival(yearly, datetime(2025, 6, 30))
    assert due == datetime(2026, 1, 15, 5, 0) and period == timedelta(days=365)


def test_league_table_ranks_prefectures_and_leaves_the_province_bucket_unranked():
    cells = pd.DataFrame(
        [
            ("3201", "health", "completeness", 9, 10),
            ("3201", "tax", "completeness", 1, 10),  # 3201: 10/20 = 0.5 (ratio of sums, not mean of ratios)
            ("3202", "health", "completeness", 8, 10),
            ("32", "health", "completeness", 10, 10),
        ],
        columns=["prefecture", "department", "indicator", "numerator", "denominator"],
    )
    cells["value"] = cells["numerator"] / cells["denominator"]
    league = league_table(cells)
    assert list(league.index) == ["3202", "3201", "32"]
    assert league.loc["3201", "completeness"] == 0.5
    assert list(league["rank"].iloc[:2]) == [1, 2] and pd.isna(league.loc["32", "rank"])
