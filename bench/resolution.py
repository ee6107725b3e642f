"""Measure person resolution on both backends over the same synthetic records.

    python -m bench.resolution 20000 100000 [--backends duckdb,spark]

For each size: generate (``synthetic.resolution``, fixed seed), cache the records in Spark, run each
backend once on that same DataFrame, print seconds (total and per stage), pairs compared and
precision / recall, then the spark/duckdb ratio. One JSON line per run, so results can be kept.
"""

from __future__ import annotations

import argparse
import json
import logging

from jobs.silver.population.resolve import BACKENDS, match_quality, resolve_persons
from synthetic import resolution as syn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", type=int, help="approximate record counts")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from govlake.spark import get_spark

    spark = get_spark()
    for size in args.sizes:
        pop = syn.generate(size, seed=args.seed)
        records = syn.records_frame(spark, pop.records).cache()
        truth = syn.truth_frame(spark, pop).cache()
        records.count(), truth.count()
        seconds: dict[str, float] = {}
        for backend in args.backends.split(","):
            res = resolve_persons(spark, records, backend=backend)
            q = match_quality(res, truth)
            seconds[backend] = res.seconds
            print(
                json.dumps(
                    {
                        "records": len(pop.records),
                        "backend": backend,
                        "seconds": round(res.seconds, 1),
                        "timings": res.timings,
                        "pairs_compared": res.pairs_compared,
                        "precision": round(q["precision"], 4),
                        "recall": round(q["recall"], 4),
                        "records_by_method": res.records_by_method,
                    }
                ),
                flush=True,
            )
        if {"duckdb", "spark"} <= seconds.keys():
            ratio = seconds["spark"] / seconds["duckdb"]
            print(json.dumps({"records": len(pop.records), "spark_over_duckdb": round(ratio, 2)}), flush=True)
        records.unpersist()
        truth.unpersist()


if __name__ == "__main__":
    main()
