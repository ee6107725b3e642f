"""Writing silver tables so that re-running the same input writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobs.silver.history import row_hash

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def upsert_changed(spark: SparkSession, path: str, df: DataFrame, key: Sequence[str]) -> dict[str, int]:
    """MERGE the rows of ``df`` that are new or differ from the table's row with the same key.

    Rows equal to what the table holds are filtered out first; when nothing is left, the table is
    not touched at all (no commit, no data file), which is what makes a re-run a no-op.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    value_cols = [c for c in df.columns if c not in key]
    incoming = df.withColumn("_row_hash", row_hash(value_cols))
    if not DeltaTable.isDeltaTable(spark, path):
        incoming.write.format("delta").save(path)
        return {"inserted": spark.read.format("delta").load(path).count(), "updated": 0}

    current = spark.read.format("delta").load(path).select(*key, F.col("_row_hash").alias("_old_hash"))
    changes = (
        incoming.join(current, list(key), "left")
        .where(F.col("_old_hash").isNull() | (F.col("_old_hash") != F.col("_row_hash")))
        .cache()
    )
    try:
        updated = changes.where(F.col("_old_hash").isNotNull()).count()
        total = changes.count()
        if total == 0:
            return {"inserted": 0, "updated": 0}
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key)
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(changes.drop("_old_hash").alias("s"), condition)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        return {"inserted": total - updated, "updated": updated}
    finally:
        changes.unpersist()
