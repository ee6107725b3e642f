"""The ingestion DAG factory: one ``ingest__<source_id>`` DAG per registry source.

    land  ->  load (mapped: one task per raw file still to load)  ->  publish (bronze Asset event)

``land`` moves new extracts from the landing area into the immutable raw zone; ``load`` loads one
raw file into the dataset's bronze Delta table (idempotent, runs in the ``spark`` pool);
``publish`` sums the accounting, validates the new bronze table version against its suite (generated
from the registry: a failure fails the task, so no silver build starts on a broken load) and emits an
event on ``bronze.<dataset>`` when new rows arrived, which is what standardization DAGs are
scheduled on. The work itself lives in ``jobs.raw.land``
and ``jobs.bronze.load``; the tasks only call it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from govlake_dags.common import SPARK_POOL, START_DATE, TIMEZONE, bronze_asset, default_args

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from govlake.registry import Dataset, Source

log = logging.getLogger("govlake.airflow")

DAG_ID_PREFIX = "ingest__"


def dag_id_for(source_id: str) -> str:
    return f"{DAG_ID_PREFIX}{source_id}"


def tags_for(source: Source) -> list[str]:
    return [
        "ingest",
        f"department:{source.department}",
        f"prefecture:{source.prefecture or 'province'}",
        f"dataset:{source.dataset}",
        f"classification:{source.classification.value}",
    ]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _doc_md(source: Source, dataset: Dataset, asset_name: str, asset_uri: str) -> str:
    columns = ", ".join(f"`{src}` → `{canon}`" for src, canon in source.column_map.items())
    return f"""\
### Ingest `{source.id}`

{source.description or dataset.description}

| | |
|---|---|
| department | {source.department} |
| owner | {_cell(source.owner)} |
| prefecture | {source.prefecture or "province-level"} |
| dataset | `{dataset.name}` ({dataset.library.value}) |
| classification | {source.classification.value} |
| format | {source.format.value}, encoding {source.encoding}, delimiter {_cell(repr(source.delimiter))} |
| date formats | {", ".join(source.date_formats) or "-"} |
| schedule | `{source.schedule}` ({TIMEZONE}) |
| publishes | asset `{asset_name}` at `{asset_uri}` |

**Tasks**: `land` (landing → raw, by SHA-256) → `load` (one mapped task per raw file, bronze +
quarantine + ingest log, pool `{SPARK_POOL}`) → `publish` (validates the new version of
`{asset_name}` against suite `{asset_name}` in `expectations/`, then one event on `{asset_name}` when
new rows were accepted).

Column mapping: {columns}

Generated from `registry/sources.yaml` by `dags/govlake_dags/ingest.py`; edit the registry, not this DAG.
"""


def build_ingest_dag(source: Source, dataset: Dataset) -> DAG:
    """Build the ingestion DAG of one registry source."""
    source_id = source.id
    asset = bronze_asset(dataset.name)

    @dag(
        dag_id=dag_id_for(source_id),
        description=f"{source.owner}: {dataset.name} extracts -> raw -> bronze.{dataset.name}",
        schedule=CronTriggerTimetable(source.schedule, timezone=TIMEZONE),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # two runs landing the same folder at once would race
        default_args=default_args(source_id, owner=source.department),
        tags=tags_for(source),
        doc_md=_doc_md(source, dataset, asset.name, asset.uri),
    )
    def ingest() -> None:
        @task(task_id="land", execution_timeout=timedelta(minutes=30))
        def land() -> list[dict[str, Any]]:
            """Move new extracts into the raw zone; return every raw file still to load."""
            from jobs.raw.land import land_new_files

            landed = land_new_files(source_id)
            new = sum(not f["already_landed"] for f in landed)
            log.info("%s: %d file(s) to load (%d newly landed)", source_id, len(landed), new)
            return landed

        @task(
            task_id="load",
            multiple_outputs=False,  # one XCom per file, not one per key
            pool=SPARK_POOL,
            execution_timeout=timedelta(hours=2),
            map_index_template="{{ govlake_file_label }}",
            # A mapped TaskFlow task does not take its docstring as doc_md: say it explicitly.
            doc_md="Load one raw file into `bronze."
            + dataset.name
            + "`: rows in = accepted + quarantined (with a reason), else nothing is written. "
            "Idempotent; an accounting mismatch fails at once, without retries.",
        )
        def load(landed_file: dict[str, Any]) -> dict[str, Any]:
            """Load one raw file into bronze (rows in = accepted + quarantined, or nothing is written)."""
            from airflow.sdk.exceptions import AirflowFailException

            from jobs.bronze.load import AccountingError, load_file

            get_current_context()["govlake_file_label"] = (  # type: ignore[typeddict-unknown-key]
                f"{landed_file['original_name']} ({landed_file['file_hash'][:12]})"
            )
            try:
                return load_file(source_id, landed_file["file_hash"])
            except AccountingError as exc:  # deterministic: retrying cannot fix it
                raise AirflowFailException(str(exc)) from exc

        @task(task_id="publish", outlets=[asset], multiple_outputs=False, pool=SPARK_POOL)
        def publish(results: list[dict[str, Any]], outlet_events: Any = None) -> dict[str, Any]:
            """Sum the loads; validate the bronze table; emit one event if new rows were accepted."""
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from jobs.quality.gate import QualityGateFailed, gate_bronze

            results = list(results)
            fresh = [r for r in results if r.get("status") != "ALREADY_LOADED"]
            summary = {
                "source_id": source_id,
                "dataset": dataset.name,
                "files": len(fresh),
                "files_already_loaded": len(results) - len(fresh),
                "rows_in": sum(r.get("rows_in", 0) for r in fresh),
                "rows_accepted": sum(r.get("rows_accepted", 0) for r in fresh),
                "rows_quarantined": sum(r.get("rows_quarantined", 0) for r in fresh),
                "statuses": sorted({r.get("status", "?") for r in fresh}),
            }
            log.info("%s: %s", source_id, summary)
            if not summary["rows_accepted"]:
                raise AirflowSkipException(f"{source_id}: no new rows accepted; no event on {asset.name}")
            try:
                validated = gate_bronze(dataset.name)
            except QualityGateFailed as failed:
                log.error("%s", failed)  # the failed expectations, with examples
                raise AirflowFailException(f"{asset.name} failed its suite; no event") from failed
            summary["validated_version"] = None if validated is None else validated.delta_version
            outlet_events[asset].extra = summary
            return summary

        publish(load.expand(landed_file=land()))

    return ingest()


def build_all(dag_id: str | None = None) -> dict[str, DAG]:
    """Every ingestion DAG in the registry, by dag id (only ``dag_id``'s when a task runner asks)."""
    from govlake.registry import load_registry

    registry = load_registry()
    dags: dict[str, DAG] = {}
    for source in registry.sources.values():
        if dag_id is not None and dag_id != dag_id_for(source.id):
            continue
        dags[dag_id_for(source.id)] = build_ingest_dag(source, registry.dataset_of(source))
    return dags
