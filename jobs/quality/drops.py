"""The validate stage of a silver table job: rows breaking a ``drop`` expectation go to quarantine.

A build calls ``ctx.drop_invalid(table_id, frame)`` (:class:`govlake.lake.context.StepContext`)
between transform and load; the pipeline runner wires it to :func:`drop_invalid`. Dropped rows are
written to the library's quarantine table with the expectation's name and the row as JSON, each
(table, row, expectation) once however often the build runs; their counts go to the table's gate,
which records them in the validation, Data Docs and the scorecard. Each library has its own
quarantine table, ``quarantine.silver_<library>``: one writer per table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govlake.lake import delta
from govlake.lake.catalogue import quarantine_of
from jobs.quality.silver_suites import silver_suite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from govlake.lake.context import StepContext

QUARANTINE_DDL = (
    "table_id string, record_key string, expectation string, description string, row_json string, "
    "run_id string, dropped_at timestamp"
)


def drop_invalid(ctx: StepContext, table_id: str, df: DataFrame) -> DataFrame:
    """``df`` without the rows that break ``table_id``'s drop expectations (those are quarantined)."""
    from pyspark.sql import functions as F

    suite = silver_suite(table_id)
    if not suite.drop_checks:
        ctx.dropped[table_id] = {}
        return df
    kept, dropped = suite.split_drops(df)
    key = ctx.lake.table(table_id).key
    rows = dropped.select(
        F.lit(table_id).alias("table_id"),
        F.concat_ws("|", *[F.col(k).cast("string") for k in key]).alias("record_key"),
        "expectation",
        "description",
        F.to_json(F.struct(*[F.col(c) for c in df.columns])).alias("row_json"),
        F.lit(ctx.run_id).alias("run_id"),
        F.lit(ctx.as_of).cast("timestamp").alias("dropped_at"),
    ).cache()
    try:
        counts = {r["expectation"]: int(r["count"]) for r in rows.groupBy("expectation").count().collect()}
        ctx.dropped[table_id] = counts
        if counts:
            library = ctx.lake.table(table_id).library
            assert library is not None, table_id
            _quarantine(ctx, quarantine_of(library), rows)
    finally:
        rows.unpersist()
    return kept


def _quarantine(ctx: StepContext, table_id: str, rows: DataFrame) -> None:
    """Insert the rows not quarantined before (a re-run of the same build writes nothing)."""
    from delta.tables import DeltaTable

    path = ctx.path(table_id)
    DeltaTable.createIfNotExists(ctx.spark).location(path).addColumns(
        ctx.spark.createDataFrame([], QUARANTINE_DDL).schema
    ).execute()
    existing = ctx.spark.read.format("delta").load(path).select("table_id", "record_key", "expectation")
    new = rows.join(existing, ["table_id", "record_key", "expectation"], "left_anti")
    if new.isEmpty():
        return
    # An append, not a MERGE: the rows are new by the anti-join, and the lease the build holds on
    # its library's tables (one writer per table) lets no one else insert between the two.
    delta.append(new, path)
