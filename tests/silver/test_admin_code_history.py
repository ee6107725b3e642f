"""Abolished GB/T 2260 codes through the base libraries: the geography library keeps every code with
its years and successor, and the records that carry an abolished code get the current one."""

from __future__ import annotations

import datetime as dt

import pytest
from lakehelpers import publish_latest, run_build

from synthetic.ids import make_citizen_id, make_uscc, org_check_char


def bronze_frame(spark, dataset: str, rows: list[dict[str, str | None]], source_id: str = "test_src"):
    """``rows`` as one file's bronze rows (canonical columns as sent, plus lineage)."""
    from govlake.registry import load_registry
    from jobs.bronze.load import bronze_ddl

    spec = load_registry().datasets[dataset]
    at = dt.datetime(2024, 5, 1)
    values = [
        (*[r.get(c) for c in spec.column_names], None, source_id, None, "b1", "f" * 64, i, at)
        for i, r in enumerate(rows, start=1)
    ]
    return spark.createDataFrame(values, bronze_ddl(spec))


@pytest.fixture(scope="module")
def divisions_table(spark, own_lake) -> tuple[str, int]:
    """(path, version) of the admin-division table a geography build wrote from the gazetteer and a
    small province extract."""
    from govlake.lake import Lake
    from govlake.reference.admin_divisions import jiangsu_divisions

    lake = Lake(own_lake("admin_history"), spark)
    sent = [
        {"code": d.code, "name": d.name, "level": d.level.value, "parent_code": d.parent_code}
        for d in jiangsu_divisions()
        if d.code != "320614"  # the extract forgets 海门区 ...
    ]
    # ... and still lists the old 崇川区
    sent.append({"code": "320602", "name": "崇川区", "level": "district", "parent_code": "320600"})
    bronze_frame(spark, "admin_divisions", sent).write.format("delta").save(
        lake.path("bronze.admin_divisions")
    )
    publish_latest(lake, "bronze.admin_divisions")
    counts = run_build(lake, "silver.geography")
    assert counts["admin_divisions"]["inserted"] == 284
    table = "silver.geography.admin_divisions"
    return lake.path(table), lake.latest_version(table)


def test_admin_divisions_keep_every_code_with_its_years_and_successor(spark, divisions_table):
    table = spark.read.format("delta").load(divisions_table[0])
    assert table.columns == [
        "code",
        "name",
        "level",
        "parent_code",
        "valid_from_year",
        "valid_to_year",
        "is_current",
        "successor_code",
        "in_extract",
        "name_in_extract",
        "_row_hash",
    ]
    rows = {r.code: r.asDict() for r in table.collect()}
    assert sum(r["is_current"] for r in rows.values()) == 109 and len(rows) == 284

    def pick(code: str) -> tuple:
        r = rows[code]
        return r["name"], r["valid_from_year"], r["valid_to_year"], r["is_current"], r["successor_code"]

    assert pick("320602") == ("崇川区", 1983, 2019, False, "320613")
    assert pick("320613") == ("崇川区", 2020, None, True, None)
    assert pick("320684") == ("海门市", 1994, 2020, False, "320614")
    assert pick("320103") == ("白下区", 1983, 2013, False, "320104")
    assert pick("320800") == ("淮安市", 1983, None, True, None)
    assert pick("322100") == ("徐州地区", None, 1983, False, None)  # unmappable
    assert rows["320602"]["in_extract"] and not rows["320614"]["in_extract"]
    assert not rows["320103"]["in_extract"] and rows["320104"]["in_extract"]


def test_admin_divisions_suite_passes_and_catches_a_broken_history(spark, settings, divisions_table):
    from jobs.quality.gx_runner import validate_dataframe
    from jobs.quality.silver_suites import References, admin_divisions_suite

    suite = admin_divisions_suite(References({"silver.geography.admin_divisions": divisions_table}))
    table = spark.read.format("delta").load(divisions_table[0])
    ok = validate_dataframe(
        table,
        suite,
        table="silver.geography.admin_divisions",
        settings=settings,
        record=False,
        build_docs=False,
    )
    assert ok.success, ok.report()

    from pyspark.sql import functions as F

    broken = {
        "320104": {"successor_code": "320105"},  # a current code with a successor
        "320611": {"successor_code": None},  # an abolished code without one
        "320103": {"successor_code": "320107"},  # successor abolished too
        "320613": {"parent_code": "322500"},  # a current district under an abolished prefecture
        "320602": {"valid_to_year": 1980},  # ends before it starts
    }
    damaged = table
    for code, changes in broken.items():
        for column, value in changes.items():
            damaged = damaged.withColumn(
                column, F.when(F.col("code") == code, F.lit(value)).otherwise(F.col(column))
            )
    bad = validate_dataframe(
        damaged,
        suite,
        table="silver.geography.admin_divisions",
        settings=settings,
        record=False,
        build_docs=False,
    )
    failed = {o.column or o.kwargs.get("column_A"): o for o in bad.failed}
    assert set(failed) == {
        "_dq_current_code_has_no_successor",
        "_dq_abolished_code_has_a_successor",
        "_dq_successor_is_a_current_division",
        "_dq_current_parent_is_current",
        "valid_to_year",
    }
    assert failed["_dq_successor_is_a_current_division"].examples == (
        {"successor_code": "320107", "code": "320103", "name": "白下区"},
    )


def test_a_person_record_sent_with_an_abolished_code_gets_the_current_one(spark):
    from jobs.silver.population.records import person_records

    # Born in Nantong's 崇川区 in 2018: the ID and the birth certificate carry 320602 (abolished 2020).
    born = dt.date(2018, 5, 3)
    id_number = make_citizen_id("320602", born, 2)
    births = [{"certificate_no": "C1", "id_number": id_number, "name": "陈小雨", "birth_date": "2018-05-03"}]
    births[0]["birthplace_admin_code"] = "320602"
    residents = [
        {"record_no": "R1", "id_number": id_number, "name": "陈小雨", "admin_code": "320613"},
        {"record_no": "R2", "name": "王芳", "admin_code": "３２０６８４"},  # full-width, 海门市 -> 海门区
        {"record_no": "R3", "name": "李雷", "admin_code": "32010"},  # not a code
    ]
    records = person_records(
        {
            "birth_records": bronze_frame(spark, "birth_records", births),
            "household_registration": bronze_frame(spark, "household_registration", residents),
        },
        ["yyyy-MM-dd"],
    )
    got = {
        r.name + r.dataset[0]: (r.admin_code, r.admin_code_sent, r.admin_code_historical, r.birthplace_code)
        for r in records.collect()
    }
    assert got == {
        "陈小雨b": ("320613", "320602", True, "320602"),
        "陈小雨h": ("320613", "320613", False, "320602"),
        "王芳h": ("320614", "320684", True, None),
        "李雷h": (None, None, None, None),
    }


def test_legal_person_and_address_codes_get_the_current_one(spark):
    from jobs.silver.geography.build import address_points, admin_divisions, gazetteer_frame
    from jobs.silver.legal_persons.build import legal_person_mentions

    org = "MA1X2Y3W" + org_check_char("MA1X2Y3W")
    enterprises = [
        # no district sent: the one in the USCC, issued by 崇川区 in 2016
        {"uscc": make_uscc("91", "320602", org), "name": "南通崇川纺织有限公司"},
        {"uscc": None, "registration_no": None, "name": "南京白下商贸有限公司", "admin_code": "320103"},
    ]
    mentions = legal_person_mentions(
        {"enterprise_registration": bronze_frame(spark, "enterprise_registration", enterprises)},
        ["yyyy-MM-dd"],
    )
    got = {r.name: (r.admin_code, r.admin_code_sent, r.admin_code_historical) for r in mentions.collect()}
    assert got == {
        "南通崇川纺织有限公司": ("320613", "320602", True),
        "南京白下商贸有限公司": ("320104", "320103", True),
    }

    points = [
        {"address_id": "A1", "address": "南通市崇川区人民中路1号", "admin_code": "320602"},
        {"address_id": "A2", "address": "南京市玄武区中山路1号", "admin_code": "320102"},
        {"address_id": "A3", "address": "南京市某区某路1号", "admin_code": "329999"},
    ]
    for p in points:
        p.update(longitude="120.86", latitude="32.01", crs="WGS84")
    divisions = admin_divisions(gazetteer_frame(spark), None)
    out = address_points(bronze_frame(spark, "address_points", points), divisions)
    got = {
        r.address_id: (
            r.admin_code,
            r.admin_code_sent,
            r.admin_code_historical,
            r.admin_code_known,
            r.city_code,
        )
        for r in out.collect()
    }
    assert got == {
        "A1": ("320613", "320602", True, True, "320600"),
        "A2": ("320102", "320102", False, True, "320100"),
        "A3": ("329999", "329999", False, False, "329900"),
    }
