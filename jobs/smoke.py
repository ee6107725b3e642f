"""Smoke pipeline: proves the platform works end to end (Spark + Delta on the configured root).

Writes a tiny Delta table in the bronze zone, MERGEs into it, reads it back and time-travels to
version 0. It is what `govlake smoke` and the Airflow smoke DAG run.
"""

from __future__ import annotations

from typing import Any

from govlake.lake import Lake

SMOKE_TABLE = "bronze._smoke"


def run_smoke(lake: Lake) -> dict[str, Any]:
    """Write, merge, read back and time-travel a small Delta table; return what was observed."""
    from delta.tables import DeltaTable

    spark = lake.spark
    path = lake.location(SMOKE_TABLE)

    first = spark.createDataFrame([(3201, "南京市"), (3202, "无锡市")], "code int, name string")
    first.write.format("delta").mode("overwrite").save(path)
    version_0 = DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]

    update = spark.createDataFrame([(3202, "无锡市"), (3203, "徐州市")], "code int, name string")
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(update.alias("u"), "t.code = u.code")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    current = spark.read.format("delta").load(path)
    original = spark.read.format("delta").option("versionAsOf", version_0).load(path)
    return {
        "table": path,
        "rows_now": current.count(),
        "rows_at_first_version": original.count(),
        "versions": DeltaTable.forPath(spark, path).history().count(),
    }
