"""Measure what the quality gate costs next to building the table it checks.

Writes a bronze-shaped household_registration table of ``--rows`` rows to Delta (timed), then
validates that Delta version against the generated bronze suite (timed: version lookup, read and
one GX run, with and without Data Docs and the ``validations`` record), and prints the ratios. Uses a scratch
lake unless ``--root`` is given::

    python -m bench.gate --rows 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from govlake.config import load_settings
from govlake.registry import load_registry

TABLE = "bronze.household_registration"


def bronze_frame(spark: Any, rows: int) -> Any:
    """A household_registration bronze frame: canonical string columns, _extra, lineage."""
    from pyspark.sql import functions as F

    dataset = load_registry().datasets["household_registration"]
    ids = spark.range(rows)
    canonical = [F.concat(F.lit(f"{c}-"), F.col("id").cast("string")).alias(c) for c in dataset.column_names]
    lineage = [
        F.lit(None).cast("map<string,string>").alias("_extra"),
        F.lit("hh_3201").alias("_source_id"),
        F.lit("3201").alias("_prefecture"),
        F.lit("batch-1").alias("_batch_id"),
        F.sha2((F.col("id") % 4).cast("string"), 256).alias("_file_hash"),
        (F.col("id") + 1).cast("int").alias("_row_number"),
        F.current_timestamp().alias("_ingested_at"),
    ]
    return ids.select(*canonical, *lineage)


def run(rows: int, repeat: int, root: str | None) -> dict[str, float]:
    from govlake.lake import Lake
    from govlake.spark import get_spark
    from jobs.quality.gx_runner import latest_version, validate_table_version

    settings = load_settings({"GOVLAKE_STORAGE_ROOT": root or tempfile.mkdtemp(prefix="govlake-bench-")})
    spark = get_spark(settings, app_name="govlake-quality-bench")
    path = Lake(settings, spark).path(TABLE)  # a scratch lake: the real table id, benchmark rows
    frame = bronze_frame(spark, rows).cache()
    frame.count()

    def write() -> float:
        t0 = time.perf_counter()
        frame.write.format("delta").mode("overwrite").save(path)
        return time.perf_counter() - t0

    def validate(docs: bool, record: bool) -> float:
        t0 = time.perf_counter()
        outcome = validate_table_version(
            spark,
            TABLE,
            path,
            "bronze.household_registration",
            version=latest_version(spark, path),
            settings=settings,
            build_docs=docs,
            record=record,
        )
        assert outcome.success, outcome.report()
        return time.perf_counter() - t0

    write()  # warm-up: JIT, Delta log, GX import and context
    validate(True, True)
    modes = {"full": (True, True), "checks": (False, False), "docs": (True, False), "record": (False, True)}
    times: dict[str, list[float]] = {"write": [], **{m: [] for m in modes}}
    for _ in range(repeat):
        times["write"].append(write())
        for mode, (docs, record) in modes.items():
            times[mode].append(validate(docs, record))
    result = {name: statistics.median(values) for name, values in times.items()}
    result["rows"] = float(rows)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", help="storage root to use (default: a scratch directory)")
    args = parser.parse_args()
    result = run(args.rows, args.repeat, args.root)
    write = result["write"]
    print(f"{int(result['rows'])} rows, median of {args.repeat}: write {write:.2f}s")
    labels = {
        "checks": "checks only (version lookup, read, GX run)",
        "docs": "checks + Data Docs",
        "record": "checks + validations record",
        "full": "full gate validation (checks + Data Docs + record)",
    }
    for mode, label in labels.items():
        print(f"  {label}: {result[mode]:.2f}s = {result[mode] / write:.2f} x write")


if __name__ == "__main__":
    main()
