"""Measure what the quality gate costs next to building the table it checks.

Writes a bronze-shaped household_registration table of ``--rows`` rows to Delta (timed), then
validates that Delta version against the generated bronze suite (timed: read + cache + one GX run,
with and without Data Docs and the ``validations`` record), and prints the ratios. Uses a scratch
lake unless ``--root`` is given::

    python -m jobs.quality.bench --rows 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from govlake.config import Zone, load_settings
from govlake.registry import load_registry


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
    from govlake.spark import get_spark
    from jobs.quality.gx_runner import latest_version, validate_table_version

    settings = load_settings({"GOVLAKE_STORAGE_ROOT": root or tempfile.mkdtemp(prefix="govlake-bench-")})
    spark = get_spark(settings, app_name="govlake-quality-bench")
    path = settings.table_path(Zone.BRONZE, "household_registration_bench")
    frame = bronze_frame(spark, rows).cache()
    frame.count()

    def write() -> float:
        t0 = time.perf_counter()
        frame.write.format("delta").mode("overwrite").save(path)
        return time.perf_counter() - t0

    def validate(docs: bool) -> float:
        t0 = time.perf_counter()
        outcome = validate_table_version(
            spark,
            "bronze.household_registration_bench",
            path,
            "bronze.household_registration",
            version=latest_version(spark, path),
            settings=settings,
            build_docs=docs,
            record=docs,
        )
        assert outcome.success, outcome.report()
        return time.perf_counter() - t0

    write()  # warm-up: JIT, Delta log, GX import and context
    validate(True)
    writes, full, bare = [], [], []
    for _ in range(repeat):
        writes.append(write())
        full.append(validate(True))
        bare.append(validate(False))
    result = {
        "rows": float(rows),
        "write_s": statistics.median(writes),
        "validate_s": statistics.median(full),
        "validate_no_docs_s": statistics.median(bare),
    }
    result["ratio"] = result["validate_s"] / result["write_s"]
    result["ratio_no_docs"] = result["validate_no_docs_s"] / result["write_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs.quality.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", help="storage root to use (default: a scratch directory)")
    args = parser.parse_args()
    result = run(args.rows, args.repeat, args.root)
    print(
        f"{int(result['rows'])} rows: write {result['write_s']:.2f}s, validate {result['validate_s']:.2f}s "
        f"(ratio {result['ratio']:.2f}); without Data Docs and record {result['validate_no_docs_s']:.2f}s "
        f"(ratio {result['ratio_no_docs']:.2f})"
    )


if __name__ == "__main__":
    main()
