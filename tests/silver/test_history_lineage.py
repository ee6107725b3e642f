"""SCD2 identity lineage: a merged person's closed version points at the one it lives on as; a
person split off another says so on its first version; both stay readable and pointers are followed."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.silver.history import apply_scd2, follow_merges

DDL = "person_id string, name string"
T1, T2, T3 = (datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3))
MERGES = "person_id string, merged_into string"
SPLITS = "person_id string, split_from string"


def test_merges_and_splits_are_recorded_and_followed(spark, tmp_path):
    path = str(tmp_path / "persons")

    def write(rows, as_of, merges=(), splits=()):
        return apply_scd2(
            spark,
            path,
            spark.createDataFrame(rows, DDL),
            key="person_id",
            tracked=["name"],
            as_of=as_of,
            close_missing=True,
            merged_into=spark.createDataFrame(list(merges), MERGES),
            split_from=spark.createDataFrame(list(splits), SPLITS),
        )

    assert write([("PA", "刘洋"), ("PB", "刘阳"), ("PC", "周敏")], T1) == {
        "new": 3,
        "changed": 0,
        "closed": 0,
    }
    # PB turns out to be PA; PC's records part and PD is split off it.
    counts = write(
        [("PA", "刘洋"), ("PC", "周敏"), ("PD", "周敏")], T2, merges=[("PB", "PA")], splits=[("PD", "PC")]
    )
    assert counts == {"new": 1, "changed": 0, "closed": 1}
    # Later PA itself is found to be PE (a chain): an old reference to PB ends at PE.
    write([("PE", "刘洋"), ("PC", "周敏"), ("PD", "周敏")], T3, merges=[("PA", "PE")])

    history = spark.read.format("delta").load(path)
    rows = {(r["person_id"], r["valid_from"]): r for r in history.collect()}
    pb = next(r for r in rows.values() if r["person_id"] == "PB")
    assert (pb["is_current"], pb["merged_into"]) == (False, "PA")
    pd = next(r for r in rows.values() if r["person_id"] == "PD")
    assert (pd["is_current"], pd["split_from"], pd["merged_into"]) == (True, "PC", None)
    # Nothing else carries a pointer; the merged persons' history is still there to read.
    pointers = {r["person_id"] for r in rows.values() if r["merged_into"] or r["split_from"]}
    assert pointers == {"PB", "PA", "PD"}
    assert history.where("person_id = 'PB'").count() == 1
    assert follow_merges(history, "person_id") == {"PB": "PE", "PA": "PE"}


def test_a_table_without_lineage_has_no_pointers(spark, tmp_path):
    path = str(tmp_path / "legal_persons")
    apply_scd2(
        spark,
        path,
        spark.createDataFrame([("L1", "某某公司")], "legal_person_id string, name string"),
        key="legal_person_id",
        tracked=["name"],
        as_of=T1,
    )
    history = spark.read.format("delta").load(path)
    assert "merged_into" not in history.columns
    assert follow_merges(history, "legal_person_id") == {}
