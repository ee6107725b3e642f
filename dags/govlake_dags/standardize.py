"""The standardization DAGs: one ``silver__<library>`` DAG per base library, scheduled on assets.

    build (pool ``spark``: bronze -> standardize -> resolve -> survive -> silver Delta tables)
      ->  gate (pool ``spark``: validate the new table versions; publish them only if all pass)
      ->  publish (one event on ``silver.<library>`` with the counts, when a new version was published)

A library is rebuilt when **any** of its inputs is updated (``AssetAny``: a plain list of assets
would wait for all of them). Inputs, in dependency order:

    silver__population     any population dataset's bronze asset (``PERSON_MENTIONS``)
    silver__legal_persons  enterprise / taxpayer / social-insurance bronze, or ``silver.population``
                           (legal representatives are linked to persons)
    silver__geography      address-point / admin-division bronze, or either silver asset above
                           (grid cells count persons and legal persons)

``gate`` fails (no retry: bad data does not heal by waiting) when any table of the library fails its
suite; its log names the failed expectations with examples, nothing is published, readers keep the
previously published versions and, with no event, the downstream libraries do not run. ``publish``
skips (no event) when nothing new was published, so a rebuild on unchanged inputs does not cascade
into the downstream libraries. The work lives in ``jobs.silver.<library>.build`` and
``jobs.quality.gate``; the tasks only call them.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAny, dag, task

from govlake_dags.common import SPARK_POOL, START_DATE, bronze_asset, default_args

if TYPE_CHECKING:
    from airflow.sdk import DAG

log = logging.getLogger("govlake.airflow")

DAG_ID_PREFIX = "silver__"
#: Keys of the per-table counts ``upsert_changed`` / ``apply_scd2`` return that mean rows were written.
WRITE_KEYS = frozenset({"inserted", "updated", "deleted", "new", "changed", "closed"})


@dataclass(frozen=True)
class Library:
    """One base library: what it is built from and which job function builds it."""

    name: str
    title: str
    builder: str  # "module:function", imported inside the task (no Spark at parse time)
    bronze_inputs: tuple[str, ...]
    silver_inputs: tuple[str, ...] = ()
    execution_timeout: timedelta = timedelta(hours=2)

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.name}"


def population_datasets() -> tuple[str, ...]:
    """The bronze datasets ``build_population`` reads: every dataset that mentions persons."""
    from jobs.silver.population.records import PERSON_MENTIONS  # light: dataclasses only

    return tuple(PERSON_MENTIONS)


def libraries() -> tuple[Library, ...]:
    return (
        Library(
            name="population",
            title="人口库 population",
            builder="jobs.silver.population.build:build_population",
            bronze_inputs=population_datasets(),
            execution_timeout=timedelta(hours=4),  # entity resolution dominates
        ),
        Library(
            name="legal_persons",
            title="法人库 legal persons",
            builder="jobs.silver.legal_persons.build:build_legal_persons",
            bronze_inputs=("enterprise_registration", "taxpayer_registry", "social_insurance_enrollment"),
            silver_inputs=("population",),
        ),
        Library(
            name="geography",
            title="地理库 geography",
            builder="jobs.silver.geography.build:build_geography",
            bronze_inputs=("address_points", "admin_divisions"),
            silver_inputs=("population", "legal_persons"),
        ),
    )


def silver_asset(library: str) -> Asset:
    """The Asset a base library is published as: ``silver.<library>``.

    The URI is the library's folder in the silver zone, for lineage only (Airflow matches by name).
    """
    from govlake.config import Zone, load_settings

    location = load_settings().table_path(Zone.SILVER, library)
    uri = location if "://" in location else Path(location).as_uri()
    return Asset(name=f"silver.{library}", uri=uri, group="silver")


def rows_written(counts: dict[str, Any]) -> int:
    """Rows a build inserted, updated or versioned, summed over its tables (0: nothing changed)."""
    return sum(
        value
        for table in counts.values()
        if isinstance(table, dict)
        for key, value in table.items()
        if key in WRITE_KEYS and isinstance(value, int)
    )


def plain(value: Any) -> Any:
    """``value`` as plain JSON types (a job may return numpy scalars), for XCom and asset extras."""

    def fallback(obj: Any) -> Any:
        return obj.item() if hasattr(obj, "item") else str(obj)

    return json.loads(json.dumps(value, default=fallback))


def _doc_md(lib: Library, inputs: list[Asset], asset: Asset) -> str:
    listed = "\n".join(f"- `{a.name}`" for a in inputs)
    return f"""\
### Standardize the {lib.title} library

Rebuilds `silver/{lib.name}` from bronze with `{lib.builder.replace(":", ".")}()`: standardize,
resolve, survive, and write only what changed (history is SCD type 2). Re-running on unchanged
inputs writes nothing.

**Runs when any of these assets is updated** (`AssetAny`):

{listed}

**Tasks**: `build` (pool `{SPARK_POOL}`, retries with backoff, timeout {lib.execution_timeout}) →
`gate` (validates every new table version against its suite in `expectations/`; publishes them only
if all pass, otherwise fails without retry and the previous publications stay in force) →
`publish` (one event on `{asset.name}` at `{asset.uri}`, the counts as its extra; skipped, so
nothing downstream runs, when nothing new was published).

Defined in `dags/govlake_dags/standardize.py`.
"""


def build_standardize_dag(lib: Library) -> DAG:
    """Build the standardization DAG of one base library."""
    asset = silver_asset(lib.name)
    inputs = [bronze_asset(d) for d in lib.bronze_inputs] + [silver_asset(s) for s in lib.silver_inputs]
    builder = lib.builder

    @dag(
        dag_id=lib.dag_id,
        description=f"bronze -> silver.{lib.name} ({lib.title})",
        schedule=AssetAny(*inputs),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # two builds merging into the same tables at once would conflict
        default_args=default_args(owner="govlake"),
        tags=["standardize", "silver", f"library:{lib.name}"],
        doc_md=_doc_md(lib, inputs, asset),
    )
    def standardize() -> None:
        @task(
            task_id="build",
            pool=SPARK_POOL,
            execution_timeout=lib.execution_timeout,
            multiple_outputs=False,  # one XCom with all the counts
        )
        def build() -> dict[str, Any]:
            """Rebuild the library from bronze (and upstream silver); return what was written."""
            module, function = builder.split(":")
            counts = plain(getattr(importlib.import_module(module), function)())
            log.info("%s: %d row(s) written: %s", lib.dag_id, rows_written(counts), counts)
            return counts

        @task(task_id="gate", pool=SPARK_POOL, retries=0, multiple_outputs=False)
        def gate(counts: dict[str, Any]) -> dict[str, Any]:
            """Validate the library's new table versions; publish them only if every one passed."""
            from airflow.sdk.exceptions import AirflowFailException

            from jobs.quality.gate import QualityGateFailed, gate_library

            try:
                result = gate_library(lib.name)
            except QualityGateFailed as failed:
                log.error("%s", failed)  # every failed expectation, with examples
                raise AirflowFailException(
                    f"{lib.name}: quality gate failed for {', '.join(o.target for o in failed.outcomes)};"
                    " nothing published, the previous versions are still served"
                ) from failed
            log.info("%s", result.report())
            return {
                "build": counts,
                "published": {p.table: p.delta_version for p in result.published},
                "gate_seconds": round(result.seconds, 1),
            }

        @task(task_id="publish", outlets=[asset], multiple_outputs=False)
        def publish(gated: dict[str, Any], outlet_events: Any = None) -> dict[str, Any]:
            """Emit one event on the silver asset with the counts, unless nothing new was published."""
            from airflow.sdk.exceptions import AirflowSkipException

            if not gated["published"]:
                raise AirflowSkipException(f"{lib.name}: nothing new published; no event on {asset.name}")
            outlet_events[asset].extra = gated
            return gated

        publish(gate(build()))

    return standardize()


def build_all(dag_id: str | None = None) -> dict[str, DAG]:
    """Every standardization DAG, by dag id (only ``dag_id``'s when a task runner asks)."""
    return {
        lib.dag_id: build_standardize_dag(lib)
        for lib in libraries()
        if dag_id is None or dag_id == lib.dag_id
    }
