"""Run every ``ingest__<source_id>`` DAG, then ``silver__population``, with ``dag.test()`` in one fresh
interpreter (one Spark session for all of it); write what the lake and the metadata DB hold as JSON.

usage: python _dag_test_generated.py DAGS_DIR OUT_JSON
Needs an initialised metadata DB at $AIRFLOW_HOME, extracts already delivered to the landing zone of
$GOVLAKE_STORAGE_ROOT, and $GOVLAKE_REGISTRY. Asserts nothing: the test compares with the truth.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

SILVER_DAG_ID = "silver__population"
SILVER_TABLES = ("person_records", "crosswalk", "persons")


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


def main(dags_dir: Path, out_path: Path) -> None:
    from airflow.dag_processing.dagbag import BundleDagBag

    from govlake.config import load_settings
    from govlake.registry import load_registry
    from govlake.spark import get_spark
    from jobs.bronze.load import bronze_table_uri, ingest_log_uri, quarantine_uri
    from jobs.silver.population.build import table_uri

    registry = load_registry()
    bag = BundleDagBag(dags_dir, bundle_path=dags_dir, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    out: dict[str, Any] = {"runs": {}}
    for source_id in registry.sources:
        dag_id = f"ingest__{source_id}"
        out["runs"][dag_id] = run(bag.dags[dag_id])

    spark = get_spark()
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
        {f: r[f] for f in fields} for r in spark.read.format("delta").load(ingest_log_uri()).collect()
    ]
    out["bronze"] = {}
    for dataset in sorted({s.dataset for s in registry.sources.values()}):
        table = spark.read.format("delta").load(bronze_table_uri(dataset))
        out["bronze"][dataset] = {
            r["_source_id"]: r["count"] for r in table.groupBy("_source_id").count().collect()
        }
    out["quarantine"] = sorted(
        (r["_file_hash"], r["_row_number"], r["reason_code"])
        for r in spark.read.format("delta").load(quarantine_uri()).collect()
    )

    out["runs"][SILVER_DAG_ID] = run(bag.dags[SILVER_DAG_ID])
    settings = load_settings()
    tables = {n: spark.read.format("delta").load(table_uri(settings, n)) for n in SILVER_TABLES}
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
    out["asset_events"] = asset_events()
    out_path.write_text(json.dumps(out, ensure_ascii=False, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
