"""Run the pipeline's DAGs with ``dag.test()`` in one fresh interpreter (one Spark session for all of
it); write what the lake and the metadata DB hold as JSON.

usage: python _dag_test_generated.py DAGS_DIR OUT_JSON
Needs an initialised metadata DB at $AIRFLOW_HOME, extracts already delivered to the landing zone of
$GOVLAKE_STORAGE_ROOT, $GOVLAKE_REGISTRY, and $DAG_TEST_SOURCES (comma-separated source ids). Asserts
nothing: the test compares with the truth.

1. the ``ingest__<source_id>`` DAG of each of those sources, then ``silver__population`` and
   ``silver__legal_persons``;
2. published reads: a new household extract brings person X, the population build is made defective
   (a duplicate current golden row, as a broken build would write) so its gate fails; then a new
   enterprise extract naming X as legal representative is ingested and ``silver__legal_persons``
   runs: it must build against the population version published before, where X does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

POPULATION_TABLES = ("person_records", "crosswalk", "persons")
HOUSEHOLD_SOURCE, ENTERPRISE_SOURCE = "ps_3201_household", "mr_enterprise_registration"


def run(dag: Any) -> dict[str, Any]:
    started = time.perf_counter()
    dag_run = dag.test()
    return {
        "state": str(dag_run.state),
        "seconds": round(time.perf_counter() - started, 1),
        "tasks": sorted(
            (ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index)
            for ti in dag_run.get_task_instances()
        ),
    }


def asset_events() -> dict[str, list[Any]]:
    """Extras of every asset event recorded in the metadata DB, by asset name."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    events: dict[str, list[Any]] = {}
    with create_session() as session:
        query = select(AssetModel.name, AssetEvent.extra).join(
            AssetModel, AssetEvent.asset_id == AssetModel.id
        )
        for name, extra in session.execute(query.order_by(AssetEvent.id)):
            events.setdefault(name, []).append(extra)
    return events


def new_extracts(lake: Any) -> str:
    """Land a household file with person X and an enterprise file naming X; return X's ID number."""
    from govlake import storage
    from synthetic.ids import make_citizen_id, make_uscc, org_check_char

    x_id = make_citizen_id("320102", dt.date(1985, 3, 7), 777)
    header = "人员编号,公民身份号码,姓名,性别,民族,出生日期,户籍地址,户籍地区划,联系电话,登记日期"
    row = f"NJX0000001,{x_id},测试甲,男,汉族,19850307,南京市玄武区测试路1号,320102,13900000001,20990101"
    household = f"{lake.location('landing', source_id=HOUSEHOLD_SOURCE)}/njga_hjrk_20990101.csv"
    storage.write_bytes(lake.settings, household, f"{header}\n{row}\n".encode("gbk"))

    org = "MA1X2Y3W"  # USCC characters exclude I, O, S, V, Z
    uscc = make_uscc("91", "320102", org + org_check_char(org))
    enterprise = {
        "tyshxydm": uscc,
        "qymc": "南京测试甲科技有限公司",
        "fddbr": "测试甲",
        "fddbrzjhm": x_id,
        "zs": "南京市玄武区测试路1号",
        "xzqhdm": "320102",
        "hydm": "6510",
        "qylx": "有限责任公司",
        "djzt": "存续",
        "clrq": "2099-01-01",
        "zczb": "100",
    }
    path = f"{lake.location('landing', source_id=ENTERPRISE_SOURCE)}/jsscjg_scztdj_20990101.jsonl"
    storage.write_bytes(lake.settings, path, (json.dumps(enterprise, ensure_ascii=False) + "\n").encode())
    return x_id


def break_population_build(lake: Any) -> None:
    """Make the population build write a defect (a second current row of one person) after its work:
    what a broken build would do. The gate must refuse the version."""
    import jobs.silver.population.build as population

    real = population.build_population

    def defective(ctx: Any, **kwargs: Any) -> dict[str, Any]:
        from pyspark.sql import functions as F

        counts = real(ctx, **kwargs)
        path = ctx.path("silver.population.persons")
        persons = ctx.spark.read.format("delta").load(path)
        duplicate = persons.where("is_current").limit(1).withColumn("valid_from", F.current_timestamp())
        duplicate.write.format("delta").mode("append").save(path)
        return counts

    population.build_population = defective


def main(dags_dir: Path, out_path: Path) -> None:
    from airflow.dag_processing.dagbag import BundleDagBag

    from govlake.config import load_settings
    from govlake.lake import Lake
    from govlake.registry import load_registry

    registry = load_registry()
    lake = Lake(load_settings())
    spark = lake.spark
    bag = BundleDagBag(dags_dir, bundle_path=dags_dir, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    out: dict[str, Any] = {"runs": {}}
    sources = os.environ["DAG_TEST_SOURCES"].split(",")
    for source_id in sources:
        dag_id = f"ingest__{source_id}"
        out["runs"][dag_id] = run(bag.dags[dag_id])

    fields = (
        "source_id",
        "original_name",
        "file_hash",
        "rows_in",
        "rows_accepted",
        "rows_quarantined",
        "status",
    )
    out["ingest_log"] = [
        {f: r[f] for f in fields}
        for r in spark.read.format("delta").load(lake.path("bronze._ingest_log")).collect()
    ]
    out["bronze"] = {}
    for dataset in sorted({registry.sources[s].dataset for s in sources}):
        table = spark.read.format("delta").load(lake.path(f"bronze.{dataset}"))
        out["bronze"][dataset] = {
            r["_source_id"]: r["count"] for r in table.groupBy("_source_id").count().collect()
        }
    out["quarantine"] = sorted(
        (r["_file_hash"], r["_row_number"], r["reason_code"])
        for r in spark.read.format("delta").load(lake.path("quarantine.bronze_rows")).collect()
    )

    out["runs"]["silver__population"] = run(bag.dags["silver__population"])
    tables = {n: lake.read_published(f"silver.population.{n}") for n in POPULATION_TABLES}
    persons, crosswalk = tables["persons"], tables["crosswalk"]
    current = persons.where("is_current")
    out["silver"] = {
        "rows": {n: t.count() for n, t in tables.items()},
        "current_rows": current.count(),
        "current_person_ids": current.select("person_id").distinct().count(),
        "null_person_ids": persons.where("person_id IS NULL").count(),
        "person_ids": persons.select("person_id").distinct().count(),
        "crosswalk_person_ids": crosswalk.select("person_id").distinct().count(),
        "crosswalk_without_current_person": crosswalk.join(current, "person_id", "left_anti").count(),
        "crosswalk_by_source": {
            r["source_id"]: r["count"] for r in crosswalk.groupBy("source_id").count().collect()
        },
    }
    out["runs"]["silver__legal_persons"] = run(bag.dags["silver__legal_persons"])
    before = {t: p.delta_version for t, p in lake.publications().items()}
    out["published_before"] = before

    # -- 2. a failed population gate, then a new enterprise extract --------------------------------
    x_id = new_extracts(lake)
    break_population_build(lake)
    out["runs"]["broken:ingest__household"] = run(bag.dags[f"ingest__{HOUSEHOLD_SOURCE}"])
    out["runs"]["broken:silver__population"] = run(bag.dags["silver__population"])
    out["runs"]["broken:ingest__enterprise"] = run(bag.dags[f"ingest__{ENTERPRISE_SOURCE}"])
    out["runs"]["broken:silver__legal_persons"] = run(bag.dags["silver__legal_persons"])
    publications = lake.publications()
    out["published_after"] = {t: p.delta_version for t, p in publications.items()}
    out["legal_persons_inputs"] = dict(publications["silver.legal_persons.legal_persons"].inputs)
    latest_persons = spark.read.format("delta").load(lake.path("silver.population.persons"))
    out["x_in_latest_population"] = latest_persons.where(f"id_number = '{x_id}'").count()
    out["x_in_published_population"] = (
        lake.read_published("silver.population.persons").where(f"id_number = '{x_id}'").count()
    )
    legal = lake.read_published("silver.legal_persons.legal_persons").where("is_current")
    reps = legal.where("legal_representative_person_id IS NOT NULL").select("legal_representative_person_id")
    published_ids = lake.read_published("silver.population.persons").select("person_id")
    out["legal_representatives"] = reps.count()
    out["legal_representatives_missing_from_published_population"] = reps.join(
        published_ids, reps["legal_representative_person_id"] == published_ids["person_id"], "left_anti"
    ).count()
    x_company = legal.where("legal_representative_name = '测试甲'").collect()
    out["x_company"] = [r.asDict() for r in x_company]
    out["asset_events"] = asset_events()
    out_path.write_text(json.dumps(out, ensure_ascii=False, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
