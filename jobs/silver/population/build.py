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
from typing import Any

from govlake import storage
from govlake.lake.context import StepContext
from govlake.registry import Registry
from jobs.silver.population.records import PERSON_MENTIONS, person_records
from jobs.silver.survivorship import trust_ranks
from jobs.silver.tables import EntityLibrary, read_own, skipped, write_entity_library

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
RECORDS = POPULATION.table_id("person_records")
CROSSWALK = POPULATION.table_id("crosswalk")
MODEL = "population.resolution_model"


def date_formats_of(registry: Registry, datasets: list[str]) -> list[str]:
    """Every date pattern the registry declares for these datasets' sources, most common first."""
    counts: dict[str, int] = {}
    for name in datasets:
        for source in registry.sources_for(name):
            for fmt in source.date_formats:
                counts[fmt] = counts.get(fmt, 0) + 1
    return sorted(counts, key=lambda f: -counts[f])


def _load_model(ctx: StepContext) -> dict[str, Any] | None:
    """The Splink model of the last full resolution, reused by incremental ones."""
    path = ctx.location(MODEL)
    return json.loads(storage.read_bytes(ctx.settings, path)) if storage.exists(ctx.settings, path) else None


def build_population(
    ctx: StepContext, *, backend: str = "duckdb", incremental: bool = True
) -> dict[str, Any]:
    """Rebuild the population library from its pinned bronze inputs; returns counts of what changed.

    ``incremental`` (once a crosswalk and a model exist): records already resolved keep their
    person_id unless a new record reopens their person, the model is reused, and golden records
    are recomputed only for the persons whose records changed (see ``resolve_persons``). Otherwise,
    or with ``incremental=False``, every record is resolved afresh and the model retrained.

    On a lake with no population bronze table yet, returns ``{"skipped": <why>}`` and writes nothing.
    """
    from jobs.silver.population.match_report import write_resolution_summary
    from jobs.silver.population.resolve import REQUIRED_COLUMNS, resolve_persons

    bronze = ctx.read_bronze()
    unknown = sorted(set(bronze) - set(PERSON_MENTIONS))
    if unknown:
        raise ValueError(
            f"population inputs {unknown} have no person mentions declared (records.PERSON_MENTIONS)"
        )
    if not bronze:
        return skipped(f"no population bronze table published yet (any of {', '.join(PERSON_MENTIONS)})")
    spark = ctx.spark
    previous = read_own(ctx, CROSSWALK) if incremental else None
    model = _load_model(ctx) if previous is not None else None
    if model is None:
        previous = None  # no model to reuse: resolve everything afresh
    standardized = person_records(bronze, date_formats_of(ctx.registry, list(bronze))).cache()
    records = ctx.drop_invalid(RECORDS, standardized)
    try:
        resolution = resolve_persons(
            spark, records.select(*REQUIRED_COLUMNS), backend=backend, existing=previous, model=model
        )
        crosswalk = resolution.crosswalk.select(
            "record_key", "source_id", "person_id", "match_method", "match_probability"
        )
        linked = records.join(crosswalk.select("record_key", "person_id"), "record_key")
        counts: dict[str, Any] = write_entity_library(
            ctx,
            POPULATION,
            records=records,
            crosswalk=crosswalk,
            linked=linked,
            ranks=trust_ranks(ctx.registry, GOLDEN_ATTRIBUTES),
            as_of=ctx.as_of,
            touched=resolution.touched_person_ids,
        )
        if previous is None and resolution.model:  # a full run trained it: keep it for the next
            model = json.dumps(resolution.model).encode("utf-8")
            storage.write_bytes(ctx.settings, ctx.location(MODEL), model)
        counts["resolution"] = write_resolution_summary(ctx, resolution)
    finally:
        standardized.unpersist()
    log.info("population library: %s", counts)
    return counts
