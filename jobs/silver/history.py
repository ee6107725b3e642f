"""Slowly changing dimension type 2 on Delta: a new version only when tracked attributes change.

The history table has the entity key, the tracked attributes, ``row_hash`` (of the tracked
attributes), ``valid_from``, ``valid_to`` (null while current) and ``is_current``. Changes are
computed before touching the table, so a batch that changes nothing writes nothing — not even an
empty commit — and re-running a batch is a no-op. Only the entities in the batch are touched, and,
when the batch is declared complete (``close_missing``), the current ones it no longer names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

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
) -> dict[str, int]:
    """MERGE ``incoming`` (one row per key) into the history table at ``path``.

    ``close_missing``: ``incoming`` holds every entity that exists now, so an entity whose current
    version has no row in it (e.g. a person_id that re-resolution merged into another) is closed:
    ``valid_to`` set, ``is_current`` false, its history kept. Otherwise absent entities are left alone.
    ``among`` (a frame with the key column) narrows what ``incoming`` is complete for: only those
    entities are closed when absent (an incremental batch recomputes the entities it touched, and
    a touched entity may have lost all its records).

    Returns counts: ``new`` entities, ``changed`` entities (old version closed, new one opened),
    ``closed`` entities (current version closed, none opened).
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    exists = DeltaTable.isDeltaTable(spark, path)
    current = spark.read.format("delta").load(path) if exists else None
    changes = changed_entities(current, incoming, key, tracked).cache()
    gone = None
    if current is not None and close_missing:
        candidates = current.where("is_current").select(key)
        if among is not None:
            candidates = candidates.join(among.select(key).distinct(), key, "left_semi")
        gone = candidates.join(incoming.select(key), key, "left_anti").cache()
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
            staged = staged.unionByName(
                gone.withColumn("_merge_key", F.col(key))
                .withColumn("valid_from", F.lit(as_of))
                .withColumn("_close_only", F.lit(True)),
                allowMissingColumns=True,
            )
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(staged.alias("s"), f"t.{key} = s._merge_key AND t.is_current")
            .whenMatchedUpdate(set={"is_current": "false", "valid_to": "s.valid_from"})
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
