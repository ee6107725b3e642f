"""Incremental standardization of the population library: only bronze files not standardized before.

Hand-written bronze files (a few rows each) on lakes of the tests' own: a later file is
standardized alone and joins the records already held, giving exactly the tables a full build of
the same bronze gives; a re-run writes nothing; another standardization fingerprint, or
``incremental=False``, standardizes everything again; a file gone from bronze loses its records.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
from lakehelpers import publish_latest

from govlake import storage
from govlake.lake import Lake
from jobs.silver.incremental import from_files, held_files, plan_slice
from jobs.silver.population.build import STANDARDIZATION

STEP = "silver.population"
TABLES = ("person_records", "crosswalk", "persons")
HOUSEHOLD, DEATHS = "household_registration", "death_records"
FIRST, SECOND, DEATH_FILE = "1" * 64, "2" * 64, "d" * 64


def _id(seq: int) -> str:
    from synthetic.resolution import citizen_id

    return citizen_id("320102", date(1980, 1, seq), seq)


def _resident(seq: int, name: str, address: str, registered_on: str = "20200101") -> dict[str, str]:
    return {
        "record_no": f"R{seq}",
        "id_number": _id(seq),
        "name": name,
        "address": address,
        "registered_on": registered_on,
    }


FIRST_RESIDENTS = [
    _resident(1, "张伟", "南京市玄武区中山路1号"),
    _resident(2, "王芳", "南京市玄武区中山路2号"),
    _resident(3, "李娜", "南京市玄武区中山路3号"),
]
#: A later delivery: 张伟 moved, 刘洋 is new.
SECOND_RESIDENTS = [
    _resident(1, "张伟", "南京市秦淮区夫子庙9号", "20240301"),
    _resident(4, "刘洋", "南京市鼓楼区北京西路4号", "20240301"),
]
#: Died before the ID's birth date: breaks the drop expectation ``birth_date <= death_date``, so
#: the file's only row is quarantined and it leaves no record.
IMPOSSIBLE_DEATH = [{"certificate_no": "D1", "id_number": _id(2), "name": "王芳", "death_date": "19700101"}]


def _bronze(spark, lake: Lake, dataset: str, files: list[tuple[str, list[dict[str, str]]]]) -> None:
    """Replace the dataset's bronze table with these files' rows (lineage as jobs.bronze.load
    writes it), each file its own append, and publish it."""
    from govlake.registry import load_registry
    from jobs.bronze.load import bronze_ddl

    spec = load_registry().datasets[dataset]
    at = datetime(2024, 5, 1)
    for n, (file_hash, rows) in enumerate(files):
        values = [
            (
                *[r.get(c) for c in spec.column_names],
                None,
                "ps_3201_household",
                "3201",
                "b1",
                file_hash,
                i,
                at,
            )
            for i, r in enumerate(rows, start=1)
        ]
        df = spark.createDataFrame(values, bronze_ddl(spec))
        df.write.format("delta").mode("overwrite" if n == 0 else "append").save(
            lake.path(f"bronze.{dataset}")
        )
    publish_latest(lake, f"bronze.{dataset}")


def _build(lake: Lake, *, incremental: bool = True) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """The population build as the pipeline runs it (drops to quarantine): counts and drops."""
    from govlake.lake.context import StepContext
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.quality.drops import drop_invalid
    from jobs.silver.population.build import build_population

    step = pipeline_graph(load_registry(lake.settings.registry_path)).step(STEP)
    ctx = StepContext.open(lake, STEP, step.inputs, validator=drop_invalid)
    return build_population(ctx, incremental=incremental), ctx.dropped


def _commits(spark, lake: Lake) -> list[int]:
    return [
        spark.sql(f"DESCRIBE HISTORY delta.`{lake.path(f'silver.population.{t}')}`").count() for t in TABLES
    ]


def _rows(df, *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A frame's rows as dicts, in a stable order (the frames here hold a handful of rows)."""
    rows = [{k: v for k, v in r.asDict().items() if k not in drop} for r in df.collect()]
    return sorted(rows, key=repr)


def _tables(lake: Lake) -> dict[str, list[dict[str, Any]]]:
    """person_records, crosswalk and the current persons (without their validity dates: the two
    lakes are built at different times)."""
    current = lake.read_latest("silver.population.persons").where("is_current")
    return {
        "person_records": _rows(lake.read_latest("silver.population.person_records")),
        "crosswalk": _rows(lake.read_latest("silver.population.crosswalk")),
        "persons": _rows(current, drop=("valid_from", "valid_to", "_row_hash")),
    }


@pytest.fixture
def lake(spark, own_lake, request) -> Lake:
    return Lake(own_lake(request.node.name[:40]), spark)


def test_slice_plan_keeps_held_files_and_names_vanished_ones(spark):
    """Pure planning on tiny frames: new files are filtered from bronze, held ones are not."""
    bronze = spark.createDataFrame(
        [("s1", "a", 1), ("s1", "a", 2), ("s1", "b", 1), ("s2", "a", 1)],
        "_source_id string, _file_hash string, _row_number int",
    )
    plan = plan_slice({"ds": bronze}, frozenset({("s1", "a"), ("s3", "z")}))
    assert not plan.full
    assert plan.new_files == {("s1", "b"), ("s2", "a")}  # the same hash from another source is new
    assert plan.vanished_files == {("s3", "z")}
    assert sorted(tuple(r) for r in plan.bronze["ds"].collect()) == [("s1", "b", 1), ("s2", "a", 1)]
    assert plan_slice({"ds": bronze}, frozenset({("s1", "a"), ("s1", "b"), ("s2", "a")})).bronze == {}
    everything = plan_slice({"ds": bronze}, frozenset(), full_because="asked")
    assert everything.full and everything.why == "asked" and everything.bronze["ds"] is bronze

    from pyspark.sql import functions as F

    records = spark.createDataFrame([("s1|a|1|resident",), ("s1|a|2|resident",)], "record_key string")
    quarantined = spark.createDataFrame([("s2|c|4|wife",)], "record_key string")
    assert held_files(records, quarantined) == {("s1", "a"), ("s2", "c")}
    assert held_files(None, None) == frozenset()
    assert records.where(from_files([], F.col("record_key"), F.col("record_key"))).count() == 0


def test_a_new_file_is_standardized_alone_and_gives_what_a_full_build_gives(spark, own_lake):
    incremental = Lake(own_lake("incremental_std"), spark)
    _bronze(spark, incremental, HOUSEHOLD, [(FIRST, FIRST_RESIDENTS)])
    _bronze(spark, incremental, DEATHS, [(DEATH_FILE, IMPOSSIBLE_DEATH)])
    first, dropped = _build(incremental)
    assert first["standardization"]["mode"] == "full"
    assert first["standardization"]["why"] == "no silver.population.person_records yet"
    assert first["records"]["inserted"] == 3
    assert dropped["silver.population.person_records"] == {"death_date_not_before_birth_date": 1}
    quarantine = incremental.path("quarantine.silver_population")
    assert spark.read.format("delta").load(quarantine).count() == 1
    state = json.loads(storage.read_bytes(incremental.settings, incremental.location(STANDARDIZATION)))
    assert state["files_without_records"] == [["ps_3201_household", DEATH_FILE]]

    # The second household file arrives; the death file (no record: the state names it) is not new.
    _bronze(spark, incremental, HOUSEHOLD, [(FIRST, FIRST_RESIDENTS), (SECOND, SECOND_RESIDENTS)])
    second, dropped = _build(incremental)
    assert second["standardization"] == {
        "mode": "incremental",
        "why": "only files not standardized before",
        "new_files": 1,
        "vanished_files": 0,
    }
    assert second["records"] == {"inserted": 2, "updated": 0, "deleted": 0}
    assert second["persons"] == {"new": 1, "changed": 1, "closed": 0}
    assert dropped.get("silver.population.person_records", {}) == {}  # the old drop is not counted again
    assert spark.read.format("delta").load(quarantine).count() == 1

    # The same bronze, built in one full run on a lake of its own.
    full = Lake(own_lake("full_std"), spark)
    _bronze(spark, full, HOUSEHOLD, [(FIRST, FIRST_RESIDENTS), (SECOND, SECOND_RESIDENTS)])
    _bronze(spark, full, DEATHS, [(DEATH_FILE, IMPOSSIBLE_DEATH)])
    built, _ = _build(full, incremental=False)
    assert built["standardization"]["mode"] == "full"
    assert _tables(incremental) == _tables(full)

    # Nothing new: nothing is standardized, nothing is written.
    commits = _commits(spark, incremental)
    rerun, dropped = _build(incremental)
    assert rerun["standardization"]["new_files"] == 0 and rerun["standardization"]["mode"] == "incremental"
    assert rerun["records"] == rerun["crosswalk"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert _commits(spark, incremental) == commits


def test_another_fingerprint_standardizes_everything_and_a_vanished_file_loses_its_records(
    spark, lake, monkeypatch
):
    from jobs.silver.population import records

    _bronze(spark, lake, HOUSEHOLD, [(FIRST, FIRST_RESIDENTS), (SECOND, SECOND_RESIDENTS)])
    assert _build(lake)[0]["records"]["inserted"] == 5

    # A rules change (the version bumped): every bronze row again, and here the same records.
    commits = _commits(spark, lake)
    monkeypatch.setattr(records, "RULES_VERSION", records.RULES_VERSION + 1)
    again, _ = _build(lake)
    assert again["standardization"]["mode"] == "full"
    assert again["standardization"]["why"] == "the standardization fingerprint changed"
    assert again["records"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert _commits(spark, lake) == commits
    # The new fingerprint is recorded: the next build is incremental again.
    assert _build(lake)[0]["standardization"]["mode"] == "incremental"
    # incremental=False standardizes everything whatever the fingerprint.
    assert _build(lake, incremental=False)[0]["standardization"]["why"].startswith("a full build")

    # The second file is withdrawn from bronze: its two records go, as a full snapshot drops them.
    _bronze(spark, lake, HOUSEHOLD, [(FIRST, FIRST_RESIDENTS)])
    withdrawn, _ = _build(lake)
    assert withdrawn["standardization"]["vanished_files"] == 1
    assert withdrawn["records"] == {"inserted": 0, "updated": 0, "deleted": 2}
    held = lake.read_latest("silver.population.person_records")
    assert {r["file_hash"] for r in held.collect()} == {FIRST} and held.count() == 3
    # The crosswalk is written as what changed (its two rows gone), not compared whole.
    assert withdrawn["crosswalk"] == {"inserted": 0, "updated": 0, "deleted": 2}
    linked = lake.read_latest("silver.population.crosswalk")
    assert sorted(r["record_key"] for r in linked.collect()) == sorted(
        r["record_key"] for r in held.collect()
    )
