"""The library builds on a lake of their own: nothing to build from yet, and a geography snapshot
that loses a point (its grid cell is deleted, a re-run writes nothing)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from lakehelpers import publish_latest, run_build

from govlake.lake import Lake

POINTS_DDL = (
    "address_id string, address string, admin_code string, longitude string, latitude string, "
    "crs string, _source_id string, _ingested_at timestamp"
)
# Far apart (Nanjing, Suzhou, Xuzhou): one H3 cell each.
POINTS = [
    ("A1", "南京市玄武区中山路1号", "320102", "118.7969", "32.0603", "WGS84"),
    ("A2", "苏州市姑苏区人民路2号", "320508", "120.6196", "31.2990", "WGS84"),
    ("A3", "徐州市鼓楼区淮海路3号", "320302", "117.1848", "34.2616", "WGS84"),
]


@pytest.fixture
def lake(spark, own_lake, request) -> Lake:
    """An empty lake of the test's own (the shared Spark session reads and writes any local path)."""
    return Lake(own_lake(request.node.name[:40]), spark)


def test_builds_on_an_empty_lake_finish_with_a_reason(lake, tmp_path):
    from jobs.silver.population.match_report import write_match_report

    population = run_build(lake, "silver.population")
    assert set(population) == {"skipped"} and "population bronze" in population["skipped"]
    legal = run_build(lake, "silver.legal_persons")
    assert set(legal) == {"skipped"} and "enterprise_registration" in legal["skipped"]
    geography = run_build(lake, "silver.geography")
    # The admin divisions come from the gazetteer (reference data), so they are always built.
    assert geography["admin_divisions"]["inserted"] > 100
    assert (
        geography["address_points"]
        == geography["grid_cells"]
        == {"skipped": "no address_points bronze table yet"}
    )
    assert "crosswalk" in write_match_report(lake, tmp_path)["skipped"]


def _bronze_points(spark, lake, rows) -> None:
    at = datetime(2024, 5, 1)
    df = spark.createDataFrame([(*r, "nr_points", at) for r in rows], POINTS_DDL)
    df.write.format("delta").mode("overwrite").save(lake.path("bronze.address_points"))
    publish_latest(lake, "bronze.address_points")


def test_grid_cell_without_points_is_deleted(spark, lake):
    _bronze_points(spark, lake, POINTS)
    first = run_build(lake, "silver.geography")
    assert first["address_points"]["inserted"] == 3
    assert first["grid_cells"]["inserted"] == 3
    cells = lake.read_latest("silver.geography.grid_cells")
    cell_of_a3 = (
        lake.read_latest("silver.geography.address_points").where("address_id = 'A3'").first()["h3_cell"]
    )
    assert cells.where(cells.h3_cell == cell_of_a3).count() == 1

    # Bronze no longer holds A3 (withdrawn by the department): its point and its cell go.
    _bronze_points(spark, lake, POINTS[:2])
    second = run_build(lake, "silver.geography")
    assert second["address_points"] == {"inserted": 0, "updated": 0, "deleted": 1}
    assert second["grid_cells"] == {"inserted": 0, "updated": 0, "deleted": 1}
    cells = lake.read_latest("silver.geography.grid_cells")
    assert cells.count() == 2 and cells.where(cells.h3_cell == cell_of_a3).count() == 0

    paths = [lake.path(f"silver.geography.{t}") for t in ("admin_divisions", "address_points", "grid_cells")]
    commits = [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths]
    again = run_build(lake, "silver.geography")
    assert all(again[t] == {"inserted": 0, "updated": 0, "deleted": 0} for t in again)
    assert [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths] == commits


def _bronze(
    spark,
    lake,
    dataset: str,
    rows: list[dict[str, str]],
    source_id: str,
    file_hash: str = "f" * 64,
    *,
    replace: bool = False,
) -> None:
    """Write ``rows`` as one file's bronze rows (canonical columns as sent, plus lineage), published.

    The default file (or ``replace``) replaces the table; another ``file_hash`` is appended, as a
    new delivery is.
    """
    from govlake.registry import load_registry
    from jobs.bronze.load import bronze_ddl

    spec = load_registry().datasets[dataset]
    at = datetime(2024, 5, 1)
    values = [
        (*[r.get(c) for c in spec.column_names], None, source_id, "3201", "b1", file_hash, i, at)
        for i, r in enumerate(rows, start=1)
    ]
    df = spark.createDataFrame(values, bronze_ddl(spec))
    mode = "overwrite" if replace or file_hash == "f" * 64 else "append"
    df.write.format("delta").mode(mode).save(lake.path(f"bronze.{dataset}"))
    publish_latest(lake, f"bronze.{dataset}")


ENTERPRISES = [
    {
        "uscc": "91110000600037341L",
        "name": "南京汽车零部件有限公司",
        "industry_code": "３６７０",
        "status": "存续",
    },
    {
        "uscc": "91350100M000100Y43",
        "name": "苏州网络科技有限公司",
        "industry_code": "A6410",
        "status": "在业",
    },
]


def test_legal_persons_keep_valid_industry_codes_and_close_vanished_ones(spark, lake):
    _bronze(spark, lake, "enterprise_registration", ENTERPRISES, "mr_enterprise_registration")
    _bronze(
        spark,
        lake,
        "taxpayer_registry",
        [{"taxpayer_id": "91350100M000100Y43", "name": "苏州网络科技有限公司"}],
        "tax_taxpayer_registry",
    )
    first = run_build(lake, "silver.legal_persons")
    assert first["records"]["inserted"] == 3 and first["legal_persons"]["new"] == 2

    records = {
        r["uscc_raw"] + "|" + r["dataset"]: r
        for r in lake.read_latest("silver.legal_persons.records").collect()
    }
    car = records["91110000600037341L|enterprise_registration"]
    assert (car["industry_code"], car["industry_code_valid"]) == ("C3670", True)  # section derived
    web = records["91350100M000100Y43|enterprise_registration"]
    assert (web["industry_code"], web["industry_code_raw"], web["industry_invalid_reason"]) == (
        None,
        "A6410",
        "SECTION_MISMATCH",  # 64 is in section I, not A
    )
    golden = {
        r["legal_person_id"]: r for r in lake.read_latest("silver.legal_persons.legal_persons").collect()
    }
    assert golden["91110000600037341L"]["industry_code"] == "C3670"
    assert golden["91350100M000100Y43"]["industry_code"] is None  # an invalid code never survives

    # The register's file is replaced by one without the first enterprise (another file, so
    # another hash): the old file's records go, the new file's one record comes, the withdrawn
    # enterprise's golden record is closed.
    _bronze(
        spark,
        lake,
        "enterprise_registration",
        ENTERPRISES[1:],
        "mr_enterprise_registration",
        file_hash="0" * 64,
        replace=True,
    )
    second = run_build(lake, "silver.legal_persons")
    assert second["standardization"] == {
        "mode": "incremental",
        "why": "only files not standardized before",
        "new_files": 1,
        "vanished_files": 1,
    }
    assert second["records"] == {"inserted": 1, "updated": 0, "deleted": 2}
    assert second["legal_persons"] == {"new": 0, "changed": 0, "closed": 1}
    current = lake.read_latest("silver.legal_persons.legal_persons").where("is_current")
    assert [r["legal_person_id"] for r in current.collect()] == ["91350100M000100Y43"]

    paths = [lake.path(f"silver.legal_persons.{t}") for t in ("records", "crosswalk", "legal_persons")]
    commits = [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths]
    again = run_build(lake, "silver.legal_persons")
    assert again["legal_persons"] == {"new": 0, "changed": 0, "closed": 0}
    assert again["records"] == again["crosswalk"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert again["standardization"]["new_files"] == 0
    assert [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths] == commits


def _resident(seq: int, name: str, address: str, registered_on: str) -> dict[str, str]:
    from datetime import date

    from synthetic.resolution import citizen_id

    idn = citizen_id("320102", date(1980, 1, seq), seq)
    return {
        "record_no": f"R{seq}",
        "id_number": idn,
        "name": name,
        "address": address,
        "registered_on": registered_on,
    }


def test_a_new_batch_versions_only_the_persons_it_changes(spark, lake):
    """Incremental population build: a moved resident gets exactly one new version, nobody else."""
    from govlake import storage
    from jobs.silver.population.build import MODEL
    from jobs.silver.population.resolve import resolve_persons
    from synthetic import resolution as syn

    first = [
        _resident(1, "张伟", "南京市玄武区中山路1号", "20200101"),
        _resident(2, "王芳", "南京市玄武区中山路2号", "20200101"),
        _resident(3, "李娜", "南京市玄武区中山路3号", "20200101"),
    ]
    _bronze(spark, lake, "household_registration", first, "ps_3201_household")
    built = run_build(lake, "silver.population")
    assert built["persons"] == {"new": 3, "changed": 0, "closed": 0}
    assert built["resolution"]["m_training"] == "none"  # all carry IDs: nothing to train or score
    assert list(built["phase_seconds"]) == ["standardize", "resolve", "write"]  # where the time went
    # Three records train no model; a lake's first real build would. Keep one from a synthetic
    # population, so the next build runs incrementally as it would on a grown lake.
    synthetic = syn.generate(300, seed=3)
    model = resolve_persons(
        spark, syn.records_frame(spark, synthetic.records), key=lake.settings.require_person_id_key()
    ).model
    storage.write_bytes(lake.settings, lake.location(MODEL), json.dumps(model).encode("utf-8"))

    # A later delivery: 张伟 moved. Only he is mentioned, so only he is recomputed and versioned.
    moved = [_resident(1, "张伟", "南京市秦淮区夫子庙9号", "20240301")]
    _bronze(spark, lake, "household_registration", moved, "ps_3201_household", file_hash="e" * 64)
    again = run_build(lake, "silver.population")
    assert again["resolution"]["incremental"]
    assert again["crosswalk"] == {"inserted": 1, "updated": 0, "deleted": 0}
    assert again["persons"] == {"new": 0, "changed": 1, "closed": 0}
    history = lake.read_latest("silver.population.persons")
    versions = {(r["name"], r["address"], r["is_current"]) for r in history.collect()}
    assert versions == {
        ("张伟", "南京市玄武区中山路1号", False),
        ("张伟", "南京市秦淮区夫子庙9号", True),
        ("王芳", "南京市玄武区中山路2号", True),
        ("李娜", "南京市玄武区中山路3号", True),
    }

    paths = [lake.path(f"silver.population.{t}") for t in ("person_records", "crosswalk", "persons")]
    commits = [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths]
    rerun = run_build(lake, "silver.population")
    assert rerun["persons"] == {"new": 0, "changed": 0, "closed": 0}
    assert [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths] == commits


def test_a_build_stopped_before_its_golden_records_leaves_them_to_the_next(spark, lake, monkeypatch):
    """Killed after the crosswalk was written and before the golden records: the next build finds
    the crosswalk already changed, yet writes the moved resident's new version."""
    from govlake import storage
    from jobs.silver import tables
    from jobs.silver.population.build import GOLDEN_PENDING, MODEL
    from jobs.silver.population.resolve import resolve_persons
    from synthetic import resolution as syn

    first = [
        _resident(1, "张伟", "南京市玄武区中山路1号", "20200101"),
        _resident(2, "王芳", "南京市玄武区中山路2号", "20200101"),
    ]
    _bronze(spark, lake, "household_registration", first, "ps_3201_household")
    run_build(lake, "silver.population")
    model = resolve_persons(
        spark,
        syn.records_frame(spark, syn.generate(300, seed=3).records),
        key=lake.settings.require_person_id_key(),
    ).model
    storage.write_bytes(lake.settings, lake.location(MODEL), json.dumps(model).encode("utf-8"))

    moved = [_resident(1, "张伟", "南京市秦淮区夫子庙9号", "20240301")]
    _bronze(spark, lake, "household_registration", moved, "ps_3201_household", file_hash="e" * 64)

    def power_cut(*args, **kwargs):
        raise OSError("power cut before the golden records")

    monkeypatch.setattr(tables, "apply_scd2", power_cut)
    with pytest.raises(OSError, match="power cut"):
        run_build(lake, "silver.population")
    monkeypatch.undo()
    assert lake.read_latest("silver.population.crosswalk").count() == 3  # the crosswalk was written
    assert storage.exists(lake.settings, lake.location(GOLDEN_PENDING))

    again = run_build(lake, "silver.population")
    assert again["crosswalk"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert again["persons"] == {"new": 0, "changed": 1, "closed": 0}
    current = {
        r["name"]: r["address"]
        for r in lake.read_latest("silver.population.persons").where("is_current").collect()
    }
    assert current == {"张伟": "南京市秦淮区夫子庙9号", "王芳": "南京市玄武区中山路2号"}
    assert not storage.exists(lake.settings, lake.location(GOLDEN_PENDING))
