"""Slowly changing dimension type 2 on Delta: a new version only when tracked attributes change.

The history table has the entity key, the tracked attributes, ``row_hash`` (of the tracked
attributes), ``valid_from``, ``valid_to`` (null while current) and ``is_current``. Changes are
computed before touching the table, so a batch that changes nothing writes nothing — not even an
empty commit — and re-running a batch is a no-op. Only the entities in the batch are touched, and,
when the batch is declared complete (``close_missing``), the current ones it no longer names.

Identity lineage (the population library): an entity closed because it turned out to be another
keeps ``merged_into`` (the key it lives on as) on its closed version, and an entity split off
another has ``split_from`` on its first version. Both columns are NULL elsewhere; old versions stay
readable, so a reader holding an old key follows ``merged_into`` (:func:`follow_merges`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from govlake.spark import broadcast_if_few

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def row_hash(columns: Sequence[str]) -> Column:
    """A stable hash of the tracked attributes (nulls distinguished from empty strings)."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns])), 256)


def changed_entities(
    current: DataFrame | None, incoming: DataFrame, key: str, tracked: Sequence[str]
) -> DataFrame:
    """Incoming rows that are new entities or differ from the entity's current version."""
    from pyspark.sql import functions as F

    incoming = incoming.withColumn("row_hash", row_hash(tracked))
    if current is None:
        return incoming
    live = current.where("is_current").select(key, F.col("row_hash").alias("_current_hash"))
    return (
        incoming.join(live, key, "left")
        .where(F.col("_current_hash").isNull() | (F.col("_current_hash") != F.col("row_hash")))
        .drop("_current_hash")
    )


def follow_merges(history: DataFrame, key: str) -> dict[str, str]:
    """key -> the key it lives on as now, for every key closed by a merge (chains followed).

    Reads only the closed versions that carry ``merged_into`` (few), so it is collected.
    """
    from pyspark.sql import functions as F

    if "merged_into" not in history.columns:
        return {}
    pointers = {
        r[0]: r[1]
        for r in history.where(F.col("merged_into").isNotNull())
        .select(key, "merged_into")
        .distinct()
        .collect()
    }
    resolved: dict[str, str] = {}
    for start in pointers:
        seen, at = {start}, pointers[start]
        while at in pointers and at not in seen:  # a cycle would be a bug; stop rather than loop
            seen.add(at)
            at = pointers[at]
        resolved[start] = at
    return resolved


def apply_scd2(
    spark: SparkSession,
    path: str,
    incoming: DataFrame,
    *,
    key: str,
    tracked: Sequence[str],
    as_of: datetime,
    close_missing: bool = False,
    among: DataFrame | None = None,
    merged_into: DataFrame | None = None,
    split_from: DataFrame | None = None,
) -> dict[str, int]:
    """MERGE ``incoming`` (one row per key) into the history table at ``path``.

    ``close_missing``: ``incoming`` holds every entity that exists now, so an entity whose current
    version has no row in it (e.g. a person_id that re-resolution merged into another) is closed:
    ``valid_to`` set, ``is_current`` false, its history kept. Otherwise absent entities are left alone.
    ``among`` (a frame with the key column) narrows what ``incoming`` is complete for: only those
    entities are closed when absent (an incremental batch recomputes the entities it touched, and
    a touched entity may have lost all its records).
    ``merged_into`` (key, merged_into) is written onto the versions this call closes for vanished
    entities, ``split_from`` (key, split_from) onto the versions it opens for new ones; passing
    either gives the table both columns (see the module docstring).

    Returns counts: ``new`` entities, ``changed`` entities (old version closed, new one opened),
    ``closed`` entities (current version closed, none opened).
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    exists = DeltaTable.isDeltaTable(spark, path)
    current = spark.read.format("delta").load(path) if exists else None
    if current is not None and among is not None:
        # An incremental batch: only the history of the entities it names is compared, closed or
        # opened, so that history is read once by a broadcast of their keys; every join below is
        # then between small frames, not with the whole table (nor is the MERGE's source).
        scope = among.select(key).unionByName(incoming.select(key)).distinct()
        current = current.join(broadcast_if_few(scope), key, "left_semi").localCheckpoint(eager=True)
    changes = changed_entities(current, incoming, key, tracked).cache()
    gone = None
    if current is not None and close_missing:
        candidates = current.where("is_current").select(key)
        if among is not None:
            candidates = candidates.join(among.select(key).distinct(), key, "left_semi")
        gone = candidates.join(incoming.select(key), key, "left_anti").cache()
    lineage = merged_into is not None or split_from is not None
    try:
        n_changes = changes.count()
        n_closed = gone.count() if gone is not None else 0
        if n_changes == 0 and n_closed == 0:
            return {"new": 0, "changed": 0, "closed": 0}
        versions = (
            changes.withColumn("valid_from", F.lit(as_of))
            .withColumn("valid_to", F.lit(None).cast("timestamp"))
            .withColumn("is_current", F.lit(True))
        )
        if lineage:
            versions = versions.withColumn("merged_into", F.lit(None).cast("string"))
            if split_from is not None:
                splits = split_from.select(key, F.col("split_from").cast("string"))
                if current is not None:  # only a new entity's first version says where it came from
                    splits = splits.join(current.select(key), key, "left_anti")
                versions = versions.join(splits.dropDuplicates([key]), key, "left")
            else:
                versions = versions.withColumn("split_from", F.lit(None).cast("string"))
        if current is None:
            versions.write.format("delta").save(path)
            return {"new": n_changes, "changed": 0, "closed": 0}

        existing_keys = current.where("is_current").select(key)
        n_changed = changes.join(existing_keys, key, "left_semi").count()
        # Staged-updates pattern: every changed entity appears once with its key (to close the
        # current version) and once with a null merge key (to insert the new version); a vanished
        # entity appears only with its key (close, insert nothing).
        staged = (
            versions.withColumn("_merge_key", F.col(key))
            .withColumn("_close_only", F.lit(False))
            .unionByName(
                versions.join(existing_keys, key, "left_semi")
                .withColumn("_merge_key", F.lit(None).cast("string"))
                .withColumn("_close_only", F.lit(False))
            )
        )
        if gone is not None:
            closing = gone
            if merged_into is not None:
                closing = closing.join(
                    merged_into.select(key, F.col("merged_into").cast("string")), key, "left"
                )
            staged = staged.unionByName(
                closing.withColumn("_merge_key", F.col(key))
                .withColumn("valid_from", F.lit(as_of))
                .withColumn("_close_only", F.lit(True)),
                allowMissingColumns=True,
            )
        on_close = {"is_current": "false", "valid_to": "s.valid_from"}
        if lineage:
            on_close["merged_into"] = "s.merged_into"
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(staged.alias("s"), f"t.{key} = s._merge_key AND t.is_current")
            .whenMatchedUpdate(set=on_close)
            .whenNotMatchedInsert(
                condition="NOT s._close_only", values={c: f"s.`{c}`" for c in versions.columns}
            )
            .execute()
        )
        return {"new": n_changes - n_changed, "changed": n_changed, "closed": n_closed}
    finally:
        changes.unpersist()
        if gone is not None:
            gone.unpersist()
