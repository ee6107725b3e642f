"""The join hint incremental builds rely on: a small side is broadcast, a large one is not."""

from __future__ import annotations

from govlake.spark import broadcast_if_few


def test_a_side_within_the_limit_is_broadcast_and_one_over_it_is_not(spark):
    def plan(small) -> str:
        big = spark.range(1000).withColumnRenamed("id", "k")
        return big.join(small, "k")._jdf.queryExecution().executedPlan().toString()

    small = spark.range(10).withColumnRenamed("id", "k")
    threshold = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")  # only the hint may broadcast
    try:
        assert "BroadcastHashJoin" in plan(broadcast_if_few(small, limit=10))
        assert "BroadcastHashJoin" not in plan(broadcast_if_few(small, limit=9))
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", threshold)
    assert broadcast_if_few(small, limit=9).count() == 10
