"""Snapshot writes: vanished keys are deleted (plain tables) or closed (SCD2); re-runs write nothing."""

from __future__ import annotations

from datetime import datetime

from jobs.silver.history import apply_scd2
from jobs.silver.tables import RecordChanges, upsert_changed

SCHEMA = "h3_cell string, address_points long, persons long"


def _commits(spark, path: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()


def _rows(spark, path: str) -> dict[str, tuple]:
    return {r[0]: tuple(r[1:3]) for r in spark.read.format("delta").load(path).collect()}


def test_snapshot_upsert_deletes_vanished_keys_and_reruns_write_nothing(spark, tmp_path):
    path = str(tmp_path / "grid_cells")
    first = spark.createDataFrame([("c1", 3, 1), ("c2", 1, 0), ("c3", 2, 2)], SCHEMA)
    assert upsert_changed(spark, path, first, ["h3_cell"], delete_missing=True) == {
        "inserted": 3,
        "updated": 0,
        "deleted": 0,
    }

    # c2 lost its only point, c3 changed, c4 is new.
    second = spark.createDataFrame([("c1", 3, 1), ("c3", 2, 5), ("c4", 1, 0)], SCHEMA)
    assert upsert_changed(spark, path, second, ["h3_cell"], delete_missing=True) == {
        "inserted": 1,
        "updated": 1,
        "deleted": 1,
    }
    assert _rows(spark, path) == {"c1": (3, 1), "c3": (2, 5), "c4": (1, 0)}
    metrics = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version", ascending=False).first()
    assert metrics["operation"] == "MERGE"
    assert int(metrics["operationMetrics"]["numTargetRowsDeleted"]) == 1

    commits = _commits(spark, path)
    assert upsert_changed(spark, path, second, ["h3_cell"], delete_missing=True) == {
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
    }
    assert _commits(spark, path) == commits  # no commit, so no data file


def test_partial_upsert_leaves_absent_keys_alone(spark, tmp_path):
    path = str(tmp_path / "partial")
    upsert_changed(
        spark,
        path,
        spark.createDataFrame([("c1", 1, 1), ("c2", 2, 2)], SCHEMA),
        ["h3_cell"],
        delete_missing=False,
    )
    some = spark.createDataFrame([("c2", 2, 9)], SCHEMA)
    assert upsert_changed(spark, path, some, ["h3_cell"], delete_missing=False) == {
        "inserted": 0,
        "updated": 1,
        "deleted": 0,
    }
    assert _rows(spark, path) == {"c1": (1, 1), "c2": (2, 9)}


def test_known_changes_add_and_delete_in_one_commit_without_a_snapshot(spark, tmp_path):
    """An incremental standardization's records: new rows and keys to delete, one MERGE (only new
    rows: one append, the next test)."""
    path = str(tmp_path / "records")
    schema = "record_key string, name string"
    upsert_changed(
        spark,
        path,
        spark.createDataFrame([("s|a|1|r", "张三"), ("s|a|2|r", "李四"), ("s|b|1|r", "王五")], schema),
        ["record_key"],
        delete_missing=True,
    )
    commits = _commits(spark, path)
    added = spark.createDataFrame([("s|c|1|r", "赵六")], schema)
    removed = spark.createDataFrame([("s|b|1|r",), ("s|z|9|r",)], "record_key string")  # s|z: not held
    assert RecordChanges(added=added, removed=removed).write(spark, path) == {
        "inserted": 1,
        "updated": 0,
        "deleted": 1,
    }
    assert _commits(spark, path) == commits + 1
    names = {r["record_key"]: r["name"] for r in spark.read.format("delta").load(path).collect()}
    assert names == {"s|a|1|r": "张三", "s|a|2|r": "李四", "s|c|1|r": "赵六"}
    # Nothing known to change: nothing read, nothing written.
    assert RecordChanges().write(spark, path) == {"inserted": 0, "updated": 0, "deleted": 0}
    assert RecordChanges(removed=removed.where("record_key = 's|z|9|r'")).write(spark, path)["deleted"] == 0
    assert _commits(spark, path) == commits + 1


def test_known_new_records_are_one_append_in_the_tables_order_and_types(spark, tmp_path):
    """Records of files never standardized: appended (not merged), with the row hash a snapshot
    comparison would have written, so a later full build finds them equal and writes nothing."""
    path = str(tmp_path / "records")
    schema = "record_key string, name string, seq long"
    first = [("s|a|1|r", "张三", 1), ("s|a|2|r", "李四", 2)]
    upsert_changed(spark, path, spark.createDataFrame(first, schema), ["record_key"], delete_missing=True)
    commits = _commits(spark, path)
    # Columns in another order, seq as int: the table's order and type win.
    added = spark.createDataFrame([(3, "王五", "s|c|1|r")], "seq int, name string, record_key string")
    assert RecordChanges(added=added).write(spark, path) == {"inserted": 1, "updated": 0, "deleted": 0}
    assert _commits(spark, path) == commits + 1
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version", ascending=False).first()
    assert history["operation"] == "WRITE"
    table = spark.read.format("delta").load(path)
    assert dict(table.dtypes)["seq"] == "bigint"
    assert {r["record_key"]: (r["name"], r["seq"]) for r in table.collect()}["s|c|1|r"] == ("王五", 3)
    # The same snapshot again, through the comparison: every row equal, nothing written.
    snapshot = spark.createDataFrame([*first, ("s|c|1|r", "王五", 3)], schema)
    assert upsert_changed(spark, path, snapshot, ["record_key"], delete_missing=True) == {
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
    }
    assert _commits(spark, path) == commits + 1


def test_scd2_closes_entities_missing_from_a_complete_batch(spark, tmp_path):
    path = str(tmp_path / "persons")
    schema = "person_id string, name string"
    tracked = ["name"]
    batch = spark.createDataFrame([("P1", "张三"), ("P2", "李四"), ("P3", "王五")], schema)
    apply_scd2(
        spark, path, batch, key="person_id", tracked=tracked, as_of=datetime(2024, 1, 1), close_missing=True
    )

    # P3 was merged into another person by re-resolution: it is named by no record any more.
    later = spark.createDataFrame([("P1", "张三"), ("P2", "李肆")], schema)
    counts = apply_scd2(
        spark, path, later, key="person_id", tracked=tracked, as_of=datetime(2024, 2, 1), close_missing=True
    )
    assert counts == {"new": 0, "changed": 1, "closed": 1}
    rows = sorted(
        (r["person_id"], r["name"], r["is_current"], r["valid_to"])
        for r in spark.read.format("delta").load(path).collect()
    )
    assert rows == [
        ("P1", "张三", True, None),
        ("P2", "李四", False, datetime(2024, 2, 1)),
        ("P2", "李肆", True, None),
        ("P3", "王五", False, datetime(2024, 2, 1)),  # history kept, no new version
    ]

    commits = _commits(spark, path)
    assert apply_scd2(
        spark, path, later, key="person_id", tracked=tracked, as_of=datetime(2024, 3, 1), close_missing=True
    ) == {"new": 0, "changed": 0, "closed": 0}
    assert _commits(spark, path) == commits

    # Without close_missing, a batch naming some entities leaves the others current.
    only_p1 = spark.createDataFrame([("P1", "张三丰")], schema)
    assert apply_scd2(spark, path, only_p1, key="person_id", tracked=tracked, as_of=datetime(2024, 4, 1)) == {
        "new": 0,
        "changed": 1,
        "closed": 0,
    }
    current = {r["person_id"] for r in spark.read.format("delta").load(path).where("is_current").collect()}
    assert current == {"P1", "P2"}

    # An incremental batch is complete only for the entities it touched: P2 lost all its records,
    # P1 was not touched and stays current although the batch does not name it.
    touched = spark.createDataFrame([("P2",)], "person_id string")
    nobody = spark.createDataFrame([], schema)
    assert apply_scd2(
        spark,
        path,
        nobody,
        key="person_id",
        tracked=tracked,
        as_of=datetime(2024, 5, 1),
        close_missing=True,
        among=touched,
    ) == {"new": 0, "changed": 0, "closed": 1}
    current = {r["person_id"] for r in spark.read.format("delta").load(path).where("is_current").collect()}
    assert current == {"P1"}
