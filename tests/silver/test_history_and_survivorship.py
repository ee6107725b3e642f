"""SCD2 history on Delta and survivorship, on tiny frames."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.silver.history import apply_scd2
from jobs.silver.survivorship import survive

SCHEMA = "person_id string, name string, address string"


def _history(spark, path):
    return spark.read.format("delta").load(path)


def test_scd2_new_changed_unchanged(spark, tmp_path):
    path = str(tmp_path / "persons_history")
    first = spark.createDataFrame([("P1", "张三", "玄武区1号"), ("P2", "李四", "鼓楼区2号")], SCHEMA)
    assert apply_scd2(
        spark, path, first, key="person_id", tracked=["name", "address"], as_of=datetime(2024, 1, 1)
    ) == {"new": 2, "changed": 0, "closed": 0}

    second = spark.createDataFrame([("P1", "张三", "秦淮区9号"), ("P2", "李四", "鼓楼区2号")], SCHEMA)
    assert apply_scd2(
        spark, path, second, key="person_id", tracked=["name", "address"], as_of=datetime(2024, 2, 1)
    ) == {"new": 0, "changed": 1, "closed": 0}

    rows = {(r["person_id"], r["address"]): r for r in _history(spark, path).collect()}
    assert len(rows) == 3  # a changed address creates exactly one new version, unchanged none
    old, new = rows[("P1", "玄武区1号")], rows[("P1", "秦淮区9号")]
    assert not old["is_current"] and old["valid_to"] == datetime(2024, 2, 1)
    assert new["is_current"] and new["valid_to"] is None and new["valid_from"] == datetime(2024, 2, 1)
    assert rows[("P2", "鼓楼区2号")]["is_current"]

    # Re-running the same batch writes nothing: no new commit, no new data file.
    versions = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    assert apply_scd2(
        spark, path, second, key="person_id", tracked=["name", "address"], as_of=datetime(2024, 3, 1)
    ) == {"new": 0, "changed": 0, "closed": 0}
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == versions


def test_survivorship_prefers_trusted_source_then_recency(spark):
    records = spark.createDataFrame(
        [
            ("r1", "P1", "household_registration", "张三", None, date(2020, 1, 1)),
            ("r2", "P1", "social_insurance_enrollment", "张叁", "13800000001", date(2023, 1, 1)),
            ("r3", "P1", "social_insurance_enrollment", "张三", "13900000002", date(2024, 1, 1)),
            ("r4", "P2", "death_records", "王五", None, date(2022, 5, 1)),
        ],
        "record_key string, person_id string, dataset string, name string, phone string, observed_at date",
    )
    ranks = {
        "name": {"household_registration": 1, "social_insurance_enrollment": 5},
        "phone": {"social_insurance_enrollment": 1},
    }
    golden = {
        r["person_id"]: r
        for r in survive(records, key="person_id", attributes=["name", "phone"], ranks=ranks).collect()
    }
    assert golden["P1"]["name"] == "张三" and golden["P1"]["name__source"] == "r1"  # trust beats recency
    assert golden["P1"]["phone"] == "13900000002"  # same trust: the most recent wins
    assert golden["P2"]["name"] == "王五" and golden["P2"]["phone"] is None


def test_a_tied_attribute_comes_from_the_record_its_anchor_survived_from(spark):
    """A birth certificate without an ID is trusted more for the birth date, but a person's birth
    date is the one its surviving ID number carries; without an ID the trusted date still wins."""
    from pyspark.sql import functions as F

    records = spark.createDataFrame(
        [
            ("r1", "P1", "household_registration", "320102194505137697", date(1945, 5, 13)),
            ("r2", "P1", "birth_records", None, date(1975, 5, 13)),  # linked by name, year mistyped
            ("r3", "P2", "household_registration", None, date(1990, 1, 1)),
            ("r4", "P2", "birth_records", None, date(1990, 1, 2)),
            ("r5", "P3", "household_registration", "320102198001010011", None),  # no date on the ID's record
            ("r6", "P3", "birth_records", None, date(1980, 1, 1)),
        ],
        "record_key string, person_id string, dataset string, id_number string, birth_date date",
    ).withColumn("observed_at", F.lit(date(2024, 1, 1)))
    ranks = {
        "id_number": {"household_registration": 1},
        "birth_date": {"birth_records": 1, "household_registration": 2},
    }
    attributes = ["id_number", "birth_date"]
    golden = {
        r["person_id"]: (r["birth_date"], r["birth_date__source"])
        for r in survive(
            records, key="person_id", attributes=attributes, ranks=ranks, tied={"birth_date": "id_number"}
        ).collect()
    }
    assert golden == {
        "P1": (date(1945, 5, 13), "r1"),
        "P2": (date(1990, 1, 2), "r4"),
        "P3": (date(1980, 1, 1), "r6"),
    }
    untied = survive(records, key="person_id", attributes=attributes, ranks=ranks).where("person_id = 'P1'")
    assert untied.first()["birth_date"] == date(1975, 5, 13)  # what the tie prevents
    with pytest.raises(ValueError, match="not among the attributes"):
        survive(
            records, key="person_id", attributes=["birth_date"], ranks=ranks, tied={"birth_date": "id_number"}
        )
