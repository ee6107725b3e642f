"""A driver for the standalone-cluster test, run in its own process (one SparkSession per JVM).

It gets its session from ``govlake.spark.get_spark`` with nothing but the environment changed
(``GOVLAKE_SPARK_MASTER=spark://…``, ``GOVLAKE_STORAGE_ROOT``, and Spark's own ``SPARK_CONF_DIR``
for the sizes), waits for an executor on every
worker, writes, appends, merges and reads back a Delta table on local files, runs Python tasks that
report which executor work directory they ran in, and prints one JSON line of what it saw.

Usage: python _cluster_driver.py <expected executors>
"""

from __future__ import annotations

import json
import os
import sys
import time


def _executor_work_dir(_: object) -> list[str]:
    # A standalone executor's working directory is <worker work dir>/<app id>/<executor id>;
    # its Python workers inherit it, so the path names the worker the task ran on.
    time.sleep(0.3)  # long enough that one executor cannot take every task before the other starts
    return [os.getcwd()]


def main(expected_executors: int) -> None:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from govlake.config import Zone, load_settings
    from govlake.spark import get_spark, stop_spark

    settings = load_settings()
    t0 = time.monotonic()
    spark = get_spark(settings, app_name="govlake-cluster-test")
    sc = spark.sparkContext
    session_s = time.monotonic() - t0

    # Executors register asynchronously after the session starts.
    deadline = time.monotonic() + 120
    while sc._jsc.sc().getExecutorIds().size() < expected_executors and time.monotonic() < deadline:
        time.sleep(0.5)
    executor_ids = sorted(sc._jsc.sc().getExecutorIds().mkString(",").split(","))
    registered_s = time.monotonic() - t0

    path = settings.table_path(Zone.BRONZE, "cluster_smoke")
    t1 = time.monotonic()
    rows = spark.range(0, 20_000, numPartitions=4).select(
        F.col("id"), (F.col("id") % 13 + 3201).cast("string").alias("prefecture")
    )
    rows.write.format("delta").mode("overwrite").save(path)
    spark.range(20_000, 30_000, numPartitions=2).select(
        F.col("id"), F.lit("3213").alias("prefecture")
    ).write.format("delta").mode("append").save(path)
    updates = spark.range(0, 1_000, numPartitions=2).select(F.col("id"), F.lit("3201").alias("prefecture"))
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdate(set={"prefecture": "u.prefecture"})
        .execute()
    )
    table = spark.read.format("delta").load(path)
    count = table.count()
    counts = table.groupBy("prefecture").agg(F.count("*").alias("n")).collect()
    by_prefecture = {r["prefecture"]: r["n"] for r in counts}
    first_version = spark.read.format("delta").option("versionAsOf", 0).load(path).count()
    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    delta_s = time.monotonic() - t1

    work_dirs = sorted(set(sc.parallelize(range(16), 16).flatMap(_executor_work_dir).collect()))
    result = {
        "app_id": sc.applicationId,
        "master": sc.master,
        "session_s": round(session_s, 1),
        "delta_s": round(delta_s, 1),
        "registered_s": round(registered_s, 1),
        "executor_ids": executor_ids,
        "count": count,
        "by_prefecture": by_prefecture,
        "first_version_count": first_version,
        "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "snapshot_partitions": spark.conf.get("spark.databricks.delta.snapshotPartitions"),
        "history": [[r["version"], r["operation"]] for r in history],
        "python_work_dirs": work_dirs,
        "conf": {
            key: sc.getConf().get(key, None)
            for key in (
                "spark.jars",
                "spark.executor.extraClassPath",
                "spark.pyspark.python",
                "spark.executor.memory",
                "spark.driver.memory",
            )
        },
    }
    stop_spark()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
