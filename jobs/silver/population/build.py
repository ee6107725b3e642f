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

import json
import logging
from datetime import UTC, datetime
from typing import Any

from govlake import storage
from govlake.config import Settings, load_settings
from govlake.registry import load_registry
from govlake.spark import get_spark
from jobs.silver.population.records import PERSON_MENTIONS, person_records
from jobs.silver.survivorship import trust_ranks
from jobs.silver.tables import EntityLibrary, read_bronze, read_delta, skipped, write_entity_library

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
POPULATION = EntityLibrary(
    name="population",
    records_table="person_records",
    golden_table="persons",
    entity_key="person_id",
    golden_attributes=GOLDEN_ATTRIBUTES,
)
#: ``table_uri(settings, "crosswalk")``: where a table of the population library lives.
table_uri = POPULATION.uri


def date_formats_of(datasets: list[str]) -> list[str]:
    """Every date pattern the registry declares for these datasets' sources, most common first."""
    registry = load_registry()
    counts: dict[str, int] = {}
    for name in datasets:
        for source in registry.sources_for(name):
            for fmt in source.date_formats:
                counts[fmt] = counts.get(fmt, 0) + 1
    return sorted(counts, key=lambda f: -counts[f])


def model_path(settings: Settings) -> str:
    """The Splink model of the last full resolution, reused by incremental ones (JSON)."""
    return table_uri(settings, "_resolution/splink_model.json")


def _load_model(settings: Settings) -> dict[str, Any] | None:
    path = model_path(settings)
    return json.loads(storage.read_bytes(settings, path)) if storage.exists(settings, path) else None


def build_population(
    settings: Settings | None = None,
    *,
    backend: str = "duckdb",
    as_of: datetime | None = None,
    incremental: bool = True,
) -> dict[str, Any]:
    """Rebuild the population library from bronze; returns row counts of what changed.

    ``incremental`` (once a crosswalk and a model exist): records already resolved keep their
    person_id unless a new record reopens their person, the model is reused, and golden records
    are recomputed only for the persons whose records changed (see ``resolve_persons``). Otherwise,
    or with ``incremental=False``, every record is resolved afresh and the model retrained.

    On a lake with no population bronze table yet, returns ``{"skipped": <why>}`` and writes nothing.
    """
    from jobs.silver.population.match_report import write_resolution_summary
    from jobs.silver.population.resolve import REQUIRED_COLUMNS, resolve_persons

    settings = settings or load_settings()
    spark = get_spark(settings)
    as_of = as_of or datetime.now(UTC)

    bronze = read_bronze(spark, settings, PERSON_MENTIONS)
    if not bronze:
        return skipped(f"no population bronze table yet (any of {', '.join(PERSON_MENTIONS)})")
    previous = read_delta(spark, table_uri(settings, "crosswalk")) if incremental else None
    model = _load_model(settings) if previous is not None else None
    if model is None:
        previous = None  # no model to reuse: resolve everything afresh
    records = person_records(bronze, date_formats_of(list(bronze))).cache()
    try:
        resolution = resolve_persons(
            spark, records.select(*REQUIRED_COLUMNS), backend=backend, existing=previous, model=model
        )
        crosswalk = resolution.crosswalk.select(
            "record_key", "source_id", "person_id", "match_method", "match_probability"
        )
        linked = records.join(crosswalk.select("record_key", "person_id"), "record_key")
        counts: dict[str, Any] = write_entity_library(
            spark,
            settings,
            POPULATION,
            records=records,
            crosswalk=crosswalk,
            linked=linked,
            ranks=trust_ranks(load_registry(), GOLDEN_ATTRIBUTES),
            as_of=as_of,
            touched=resolution.touched_person_ids,
        )
        if previous is None and resolution.model:  # a full run trained it: keep it for the next
            storage.write_bytes(settings, model_path(settings), json.dumps(resolution.model).encode("utf-8"))
        counts["resolution"] = write_resolution_summary(settings, resolution, as_of=as_of)
    finally:
        records.unpersist()
    log.info("population library: %s", counts)
    return counts
