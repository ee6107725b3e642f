"""Expectation severities: ``drop`` quarantines exactly the violating rows and keeps the rest, ``warn``
publishes and records, ``fail`` blocks (the bronze and silver gate tests show the last published
version staying in service)."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake.lake import Lake
from govlake.lake.context import StepContext
from jobs.quality.drops import drop_invalid
from jobs.quality.gate import QualityGateFailed, gate_tables
from jobs.quality.silver import Severity, SilverSuite

RECORDS = "silver.population.person_records"


def test_each_check_records_its_severity_and_drop_needs_a_row_level_check():
    suite = (
        SilverSuite("t")
        .not_null("k")
        .in_set("sex", ["1", "2"], severity=Severity.WARN)
        .between("birth_date", "1890-01-01", severity=Severity.DROP)
    )
    gx = suite.expectation_suite()
    assert [e.meta["severity"] for e in gx.expectations] == ["fail", "warn", "drop"]
    assert [getattr(e.severity, "value", e.severity) for e in gx.expectations] == [
        "critical",
        "warning",
        "critical",
    ]
    assert (
        "quarantine" in gx.expectations[2].notes and "published even when broken" in gx.expectations[1].notes
    )
    with pytest.raises(ValueError, match="not row-level"):
        suite.foreign_key("k", lambda spark: None, severity=Severity.DROP)
    with pytest.raises(ValueError, match="cannot drop rows"):
        suite.unique("k", severity=Severity.DROP)


def test_split_drops_keeps_exactly_the_rows_that_meet_every_drop_check(spark):
    suite = (
        SilverSuite("t")
        .ordered("birth_date", "death_date", severity=Severity.DROP)
        .between("birth_date", "1890-01-01", severity=Severity.DROP)
        .matches("phone", r"^1\d{10}$", severity=Severity.WARN)  # warn: never dropped
    )
    rows = [
        ("ok", dt.date(1990, 1, 1), None, "bad phone"),
        ("ok_dead", dt.date(1950, 1, 1), dt.date(2020, 1, 1), None),
        ("reversed", dt.date(1990, 1, 1), dt.date(1980, 1, 1), None),
        ("ancient", dt.date(1700, 1, 1), None, None),
        ("both", dt.date(1700, 1, 1), dt.date(1600, 1, 1), None),
    ]
    df = spark.createDataFrame(rows, "k string, birth_date date, death_date date, phone string")
    kept, dropped = suite.split_drops(df)
    assert kept.columns == df.columns
    assert sorted(r.k for r in kept.collect()) == ["ok", "ok_dead"]
    got = {r.k: r.expectation for r in dropped.collect()}
    # the first drop check a row breaks names it
    assert got == {
        "reversed": "death_date_not_before_birth_date",
        "ancient": "birth_date_in_range",
        "both": "death_date_not_before_birth_date",
    }


def _records_frame(spark):
    """Two person records, one of them with a death before its birth (a `drop` on person_records)."""
    return spark.createDataFrame(
        [
            ("a|1", dt.date(1990, 1, 1), None),
            ("b|2", dt.date(1990, 1, 1), dt.date(1980, 1, 1)),
        ],
        "record_key string, birth_date date, death_date date",
    )


def test_drop_invalid_quarantines_each_row_once_and_counts_it(spark, own_lake):
    lake = Lake(own_lake("drops"), spark)
    for attempt in range(2):  # the second build of the same rows writes nothing new
        ctx = StepContext.open(lake, "silver.population", [], validator=drop_invalid)
        kept = ctx.drop_invalid(RECORDS, _records_frame(spark).cache())
        assert [r.record_key for r in kept.collect()] == ["a|1"], attempt
        assert ctx.dropped == {RECORDS: {"death_date_not_before_birth_date": 1}}
    quarantine = lake.read_latest("quarantine.silver_population")
    (row,) = quarantine.collect()
    assert (row.table_id, row.record_key, row.expectation) == (
        RECORDS,
        "b|2",
        "death_date_not_before_birth_date",
    )
    assert '"death_date":"1980-01-01"' in row.row_json
    assert lake.latest_version("quarantine.silver_population") == 1  # created, then one insert: no re-insert


def _point(address_id: str, crs: str, admin_code: str, lon: float = 118.79, lat: float = 32.06) -> tuple:
    return (
        address_id,
        "南京市玄武区某路1号",
        admin_code,
        crs,
        lon,
        lat,
        None,
        False,
        "src",
        None,
        True,
        "89",
        "3201",
    )


POINTS = (
    "address_id string, address string, admin_code string, crs_sent string, lon_wgs84 double,"
    " lat_wgs84 double, invalid_reason string, out_of_china boolean, source_id string, ingested_at timestamp,"
    " admin_code_known boolean, h3_cell string, city_code string"
)


def test_warn_publishes_and_records_fail_blocks(spark, own_lake):
    lake = Lake(own_lake("warn"), spark)
    table = "silver.geography.address_points"
    path = lake.path(table)
    warned = [_point("A1", "WGS84", "320102"), _point("A2", "BD09", "999999")]  # unknown CRS and code: warn
    spark.createDataFrame(warned, POINTS).write.format("delta").save(path)
    result = gate_tables(
        lake, "test", "silver", [table], inputs={}, dropped={table: {"lon_wgs84_in_range": 3}}
    )
    (outcome,) = result.outcomes
    assert outcome.passed and not outcome.success  # published although two expectations broke
    assert {w.label.split("(")[0] for w in outcome.warnings} == {
        "expect_column_values_to_be_in_set",  # crs_sent, and the admin-code reference flag
    }
    assert len(outcome.warnings) == 2 and result.warnings == 2
    assert lake.published_version(table) == 0
    assert "WARNED" in result.report() and "DROPPED 3 row(s) breaking lon_wgs84_in_range" in result.report()
    recorded = lake.read_latest("quality.validations").where(f"`table` = '{table}'").first()
    assert recorded.passed and len(recorded.warned_expectations) == 2 and recorded.failed == 0
    assert recorded.dropped == {"lon_wgs84_in_range": 3}

    # a duplicate key is a `fail`: the version is refused and v0 stays in service
    duplicate = [_point("A1", "WGS84", "320102"), _point("A1", "WGS84", "320102")]
    spark.createDataFrame(duplicate, POINTS).write.format("delta").mode("overwrite").save(path)
    with pytest.raises(QualityGateFailed) as failed:
        gate_tables(lake, "test", "silver", [table])
    assert [b.label for b in failed.value.outcome.blocking] == [
        "expect_column_values_to_be_unique(column='address_id')"
    ]
    assert lake.published_version(table) == 0 and lake.read_published(table).count() == 2
