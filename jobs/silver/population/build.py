"""Build the population base library: extract -> standardize -> resolve -> survive -> load.

Tables (silver zone):
  population/person_records   every person mention, standardized, with its flags (one row each)
  population/crosswalk        source record -> person_id, with how it was linked
  population/persons          golden record per person, SCD type 2 (valid_from/valid_to/is_current)

Standardization is incremental (:func:`standardize`): only the rows of bronze files that neither
person_records holds nor the standardization state names (files that gave no record: every row
dropped) are standardized and checked against the drop expectations; they join the records
already held, so resolution sees the same records a full standardization would make. Records of a
file gone from bronze are deleted. Every bronze row is standardized again when the standardization
fingerprint (:func:`jobs.silver.population.records.standardization_fingerprint`, kept in
``population.standardization``) changes, on a lake without one, or with ``incremental=False``.

Every write goes through "only what changed" (jobs/silver/tables.py, jobs/silver/history.py), so
re-running on the same bronze data writes nothing, and a new batch creates versions only for the
persons whose golden attributes it changes. An incremental standardization writes person_records
as the difference it knows (new records, deleted files) instead of comparing the whole snapshot.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.lake.context import StepContext
from govlake.registry import Registry
from govlake.spark import broadcast_if_few
from jobs.silver.incremental import Standardized, standardize_incrementally
from jobs.silver.population.records import PERSON_MENTIONS, person_records, standardization_fingerprint
from jobs.silver.survivorship import trust_ranks
from jobs.silver.tables import EntityLibrary, read_own, skipped, write_entity_library

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

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
    # the ID number carries both: a person's golden record never contradicts its own ID
    tied_attributes=(("birth_date", "id_number"), ("sex", "id_number")),
)
RECORDS = POPULATION.table_id("person_records")
CROSSWALK = POPULATION.table_id("crosswalk")
MODEL = "population.resolution_model"
GOLDEN_PENDING = "population.golden_pending"
KEY_FINGERPRINT = "population.key_fingerprint"
STANDARDIZATION = "population.standardization"


def date_formats_of(registry: Registry, datasets: list[str]) -> list[str]:
    """Every date pattern the registry declares for these datasets' sources, most common first."""
    counts: dict[str, int] = {}
    for name in datasets:
        for source in registry.sources_for(name):
            for fmt in source.date_formats:
                counts[fmt] = counts.get(fmt, 0) + 1
    return sorted(counts, key=lambda f: -counts[f])


def _row_keys(registry: Registry, datasets: list[str]) -> dict[str, tuple[str, ...]]:
    return {name: registry.datasets[name].row_key for name in datasets if name in registry.datasets}


def person_records_of(ctx: StepContext, bronze: dict[str, DataFrame]) -> DataFrame:
    """The standardized person records of these bronze tables, as this build makes them."""
    registry, datasets = ctx.registry, list(bronze)
    return person_records(bronze, date_formats_of(registry, datasets), _row_keys(registry, datasets))


def standardize(ctx: StepContext, bronze: dict[str, DataFrame], *, incremental: bool = True) -> Standardized:
    """Every person record of ``bronze`` after the drop expectations, standardizing only the files
    person_records does not hold yet (:func:`jobs.silver.incremental.standardize_incrementally`):
    the same records a full standardization makes, while the fingerprint of the date formats,
    row keys, mentions, admin-code table and :data:`~jobs.silver.population.records.RULES_VERSION`
    is the one recorded at ``population.standardization``."""
    datasets = list(bronze)
    # Computed once from every published dataset, so a slice of bronze is standardized with the
    # same date formats and row keys as a full run, and the fingerprint names exactly those.
    date_formats, row_keys = date_formats_of(ctx.registry, datasets), _row_keys(ctx.registry, datasets)
    return standardize_incrementally(
        ctx,
        bronze,
        records_table=RECORDS,
        standardize=lambda part: person_records(part, date_formats, row_keys),
        fingerprint=standardization_fingerprint(date_formats, row_keys),
        state_location=STANDARDIZATION,
        incremental=incremental,
    )


def check_person_id_key(ctx: StepContext, crosswalk_exists: bool) -> str:
    """The person-id key, once it is known to be the one this lake's person_ids were made with.

    The first build keeps the key's fingerprint beside the model; every later build compares. A
    lake with a crosswalk but no fingerprint was built before fingerprints were kept (or lost it):
    its ids cannot be vouched for, so it is refused too.
    """
    from govlake.config import KeyMismatch, key_fingerprint

    key = ctx.settings.require_person_id_key()
    path = ctx.location(KEY_FINGERPRINT)
    mine = key_fingerprint(key)
    if storage.exists(ctx.settings, path):
        stored = json.loads(storage.read_bytes(ctx.settings, path))["fingerprint"]
        if stored != mine:
            raise KeyMismatch(
                f"GOVLAKE_PERSON_ID_KEY is not the key this lake's person_ids were made with "
                f"(fingerprint {mine}, the lake's {stored} in {path}): building would renumber every "
                "citizen; run with the lake's key"
            )
    elif crosswalk_exists:
        raise KeyMismatch(
            f"the population crosswalk has no key fingerprint ({path}): it was made before keys were "
            "fingerprinted, so its person_ids cannot be checked against GOVLAKE_PERSON_ID_KEY; rebuild "
            "the population library on a fresh lake"
        )
    return key


def _keep_fingerprint(ctx: StepContext, key: str) -> None:
    from govlake.config import key_fingerprint

    path = ctx.location(KEY_FINGERPRINT)
    if not storage.exists(ctx.settings, path):
        doc = {"fingerprint": key_fingerprint(key), "since": ctx.as_of.isoformat(), "run_id": ctx.run_id}
        storage.write_bytes(ctx.settings, path, json.dumps(doc, indent=2).encode("utf-8"))


def _load_model(ctx: StepContext) -> dict[str, Any] | None:
    """The Splink model of the last full resolution, reused by incremental ones."""
    path = ctx.location(MODEL)
    return json.loads(storage.read_bytes(ctx.settings, path)) if storage.exists(ctx.settings, path) else None


def _golden_to_write(ctx: StepContext, touched: DataFrame | None) -> DataFrame | None:
    """The persons whose golden records this build writes: ``touched`` (None: all), and those a
    build that stopped before it finished was writing (kept at ``population.golden_pending``).

    An incremental build recomputes the golden records of the persons its crosswalk changes only,
    and it writes the crosswalk before them: a build stopped between the two would leave those
    golden records stale, and the next build, finding the crosswalk already changed, would not
    see them as touched. So their ids (or "all", for a build that recomputes every person) are
    kept before the first table is written and dropped after the last (:func:`_golden_written`).
    """
    path = ctx.location(GOLDEN_PENDING)
    pending = json.loads(storage.read_bytes(ctx.settings, path)) if storage.exists(ctx.settings, path) else {}
    doc: dict[str, Any] = {"since": ctx.as_of.isoformat(), "run_id": ctx.run_id}
    if touched is None or pending.get("all"):
        storage.write_bytes(ctx.settings, path, json.dumps({"all": True, **doc}, indent=2).encode("utf-8"))
        return None
    ids = sorted({r["person_id"] for r in touched.collect()} | set(pending.get("person_ids", ())))
    storage.write_bytes(ctx.settings, path, json.dumps({"person_ids": ids, **doc}, indent=2).encode("utf-8"))
    return ctx.spark.createDataFrame([(i,) for i in ids], "person_id string")


def _golden_written(ctx: StepContext) -> None:
    path = ctx.location(GOLDEN_PENDING)
    if storage.exists(ctx.settings, path):
        storage.delete(ctx.settings, path)


def build_population(
    ctx: StepContext, *, backend: str = "duckdb", incremental: bool = True
) -> dict[str, Any]:
    """Rebuild the population library from its pinned bronze inputs; returns counts of what changed.

    ``incremental``: only bronze files not standardized before are standardized (:func:`standardize`);
    and once a crosswalk and a model exist, records already resolved keep their person_id unless a
    new record reopens their person, the model is reused, and golden records are recomputed only
    for the persons whose records changed (see ``resolve_persons``). With ``incremental=False``
    every bronze row is standardized, every record resolved afresh and the model retrained. Either
    way person_ids already issued are kept; persons merged or split are recorded in the golden
    history (``merged_into``, ``split_from``).

    The person-id key must be the lake's (:func:`check_person_id_key`): otherwise
    :class:`govlake.config.KeyMismatch` stops the build before anything is read.

    On a lake with no population bronze table yet, returns ``{"skipped": <why>}`` and writes nothing.
    """
    from jobs.silver.population.match_report import write_resolution_summary
    from jobs.silver.population.resolve import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Stopwatch, resolve_persons

    bronze = ctx.read_bronze()
    unknown = sorted(set(bronze) - set(PERSON_MENTIONS))
    if unknown:
        raise ValueError(
            f"population inputs {unknown} have no person mentions declared (records.PERSON_MENTIONS)"
        )
    if not bronze:
        return skipped(f"no population bronze table published yet (any of {', '.join(PERSON_MENTIONS)})")
    spark = ctx.spark
    # The previous crosswalk always names persons (an id once issued is kept); with the model as
    # well, the run is incremental.
    previous = read_own(ctx, CROSSWALK)
    key = check_person_id_key(ctx, previous is not None)
    model = _load_model(ctx) if previous is not None and incremental else None
    phases = Stopwatch()  # where a build's time goes, in its counts
    standardized = standardize(ctx, bronze, incremental=incremental)
    phases.lap("standardize")
    records = standardized.records
    resolution = resolve_persons(
        spark,
        records.select(*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS),
        key=key,
        backend=backend,
        existing=previous,
        model=model,
    )
    phases.lap("resolve")
    crosswalk = resolution.crosswalk.select(
        "record_key", "source_id", "person_id", "match_method", "match_probability"
    )
    members = crosswalk.select("record_key", "person_id")
    touched = _golden_to_write(ctx, resolution.touched_person_ids)
    if touched is not None:
        # Incremental: only the touched persons' records are survived again, so only those are
        # joined, by a broadcast of their few keys instead of a shuffle of every record.
        members = members.join(broadcast_if_few(touched), "person_id", "left_semi")
        members = broadcast_if_few(members)
    linked = records.join(members, "record_key")
    counts: dict[str, Any] = write_entity_library(
        ctx,
        POPULATION,
        records=records,
        crosswalk=crosswalk,
        linked=linked,
        ranks=trust_ranks(ctx.registry, GOLDEN_ATTRIBUTES),
        as_of=ctx.as_of,
        touched=touched,
        merged_into=resolution.merges,
        split_from=resolution.splits,
        record_changes=standardized.changes,
        crosswalk_changes=resolution.crosswalk_changes,
    )
    _golden_written(ctx)
    phases.lap("write")
    standardized.keep_state(ctx)  # only once the records are written
    counts["standardization"] = standardized.plan.summary()
    _keep_fingerprint(ctx, key)
    if model is None and resolution.model:  # a full run trained it: keep it for the next
        trained = json.dumps(resolution.model).encode("utf-8")
        storage.write_bytes(ctx.settings, ctx.location(MODEL), trained)
    counts["resolution"] = write_resolution_summary(ctx, resolution)
    counts["phase_seconds"] = phases.timings
    log.info("population library: %s", counts)
    return counts
