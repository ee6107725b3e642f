"""Build the population base library: extract -> standardize -> resolve -> survive -> load.

Tables (silver zone):
  population/person_records   every person mention, standardized, with its flags (one row each)
  population/crosswalk        source record -> person_id, with how it was linked
  population/persons          golden record per person, SCD type 2 (valid_from/valid_to/is_current)

Every write goes through "only what changed" (jobs/silver/tables.py, jobs/silver/history.py), so
re-running on the same bronze data writes nothing, and a new batch creates versions only for the
persons whose golden attributes it changes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from govlake.config import Settings, Zone, load_settings
from govlake.registry import load_registry
from govlake.spark import get_spark
from jobs.bronze.load import bronze_table_uri
from jobs.silver.history import apply_scd2
from jobs.silver.population.records import PERSON_MENTIONS, person_records
from jobs.silver.survivorship import survive, trust_ranks
from jobs.silver.tables import upsert_changed

log = logging.getLogger(__name__)

GOLDEN_ATTRIBUTES = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "death_date",
    "ethnicity",
    "address",
    "admin_code",
    "phone",
)


def table_uri(settings: Settings, name: str) -> str:
    return settings.table_path(Zone.SILVER, "population", name)


def date_formats_of(datasets: list[str]) -> list[str]:
    """Every date pattern the registry declares for these datasets' sources, most common first."""
    registry = load_registry()
    counts: dict[str, int] = {}
    for name in datasets:
        for source in registry.sources_for(name):
            for fmt in source.date_formats:
                counts[fmt] = counts.get(fmt, 0) + 1
    return sorted(counts, key=lambda f: -counts[f])


def build_population(
    settings: Settings | None = None, *, backend: str = "duckdb", as_of: datetime | None = None
) -> dict[str, Any]:
    """Rebuild the population library from bronze; returns row counts of what changed."""
    from delta.tables import DeltaTable

    from jobs.silver.population.resolve import REQUIRED_COLUMNS, resolve_persons

    settings = settings or load_settings()
    spark = get_spark(settings)
    as_of = as_of or datetime.now(UTC)

    bronze = {
        name: spark.read.format("delta").load(bronze_table_uri(name, settings))
        for name in PERSON_MENTIONS
        if DeltaTable.isDeltaTable(spark, bronze_table_uri(name, settings))
    }
    if not bronze:
        raise RuntimeError("no population bronze table exists yet: ingest extracts first")
    records = person_records(bronze, date_formats_of(list(bronze))).cache()
    try:
        resolution = resolve_persons(spark, records.select(*REQUIRED_COLUMNS), backend=backend)
        crosswalk = resolution.crosswalk.select(
            "record_key", "source_id", "person_id", "match_method", "match_probability"
        )
        linked = records.join(crosswalk.select("record_key", "person_id"), "record_key")
        golden = survive(
            linked,
            key="person_id",
            attributes=GOLDEN_ATTRIBUTES,
            ranks=trust_ranks(load_registry(), GOLDEN_ATTRIBUTES),
            recency_col="observed_at",
        )
        # Lineage columns (<attr>__source) are left out of the history: a newer record repeating the
        # same value must not create a version. The crosswalk keeps every record's person_id.
        golden = golden.select("person_id", *GOLDEN_ATTRIBUTES)
        counts = {
            "records": upsert_changed(spark, table_uri(settings, "person_records"), records, ["record_key"]),
            "crosswalk": upsert_changed(spark, table_uri(settings, "crosswalk"), crosswalk, ["record_key"]),
            "persons": apply_scd2(
                spark,
                table_uri(settings, "persons"),
                golden,
                key="person_id",
                tracked=GOLDEN_ATTRIBUTES,
                as_of=as_of,
            ),
            "resolution": {
                "backend": resolution.backend,
                "pairs_compared": resolution.pairs_compared,
                "records_by_method": resolution.records_by_method,
                "seconds": round(resolution.seconds, 1),
            },
        }
    finally:
        records.unpersist()
    log.info("population library: %s", counts)
    return counts
