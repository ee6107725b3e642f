"""Run ``dag.test()`` on generated ingestion DAGs in a fresh interpreter; print the outcome as JSON.

usage: python _dag_test_ingest.py DAGS_DIR OUT_JSON DAG_ID...
Needs an initialised metadata DB at $AIRFLOW_HOME and the lake/registry from $GOVLAKE_*. Tasks run
in this process (dag.test), so the Spark session the loads used is still here to read bronze back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(dags_dir: Path, out_path: Path, dag_ids: list[str]) -> None:
    from airflow.dag_processing.dagbag import BundleDagBag

    from govlake.config import Zone, load_settings
    from govlake.lake import Lake

    bag = BundleDagBag(dags_dir, bundle_path=dags_dir, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    out: dict = {"runs": {}}
    for dag_id in dag_ids:
        run = bag.dags[dag_id].test()
        out["runs"][dag_id] = {
            "state": str(run.state),
            "tasks": sorted(
                (ti.task_id, ti.map_index, str(ti.state), ti.rendered_map_index)
                for ti in run.get_task_instances()
            ),
        }
    settings = load_settings()
    lake = Lake(settings)
    spark = lake.spark
    counts = {}
    for dataset in ("household_registration", "death_records"):
        rows = spark.read.format("delta").load(lake.path(f"bronze.{dataset}")).groupBy("_source_id").count()
        counts[dataset] = {r["_source_id"]: r["count"] for r in rows.collect()}
    quarantined = (
        spark.read.format("delta").load(lake.path("quarantine.bronze_rows")).groupBy("_source_id").count()
    )
    out["bronze"] = counts
    out["bronze_writes"] = {
        dataset: spark.sql(f"DESCRIBE HISTORY delta.`{lake.path(f'bronze.{dataset}')}`")
        .where("operation = 'WRITE'")
        .count()
        for dataset in counts
    }
    out["quarantine"] = {r["_source_id"]: r["count"] for r in quarantined.collect()}
    log = spark.read.format("delta").load(lake.path("bronze._ingest_log")).collect()
    fields = ("source_id", "original_name", "rows_in", "rows_accepted", "rows_quarantined", "status")
    out["ingest_log"] = sorted(tuple(r[f] for f in fields) for r in log)
    landing = Path(settings.zone(Zone.LANDING))
    out["landing_left"] = sorted(str(p.relative_to(landing)) for p in landing.rglob("*") if p.is_file())
    out_path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")  # stdout carries logs


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3:])
