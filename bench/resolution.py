"""Measure person resolution: quality on the hard part, seconds, pairs compared.

    python -m bench.resolution 20000 100000 [--backends duckdb,spark]       # synthetic.resolution
    python -m bench.resolution --generated 200000 --seed 7 [--work DIR]     # the generator's province

The first form generates ``synthetic.resolution`` records (fixed seed), runs each backend once on
the same cached DataFrame and prints the spark/duckdb ratio. The second takes the person records of
a whole generated province (:mod:`bench.generated_records`: generator -> land -> bronze -> the
population build's standardization, made once and kept under ``--work``) and scores the crosswalk
against the generator's truth — the figures the match report headlines: precision and recall over
the pairs that involve a record without a valid ID (the only ones probabilistic matching decides),
beside the overall figures and the records per link method. ``--misses N`` prints N missed true
pairs of that kind with both records, for study. One JSON line per run, so results can be kept.
Every run uses a throw-away person-id key.

Which seeds tuned what (so the figures below are on a seed no tuning saw): the threshold and the
comparison levels were tuned on ``synthetic.resolution`` seed 1 (900 records, the unit tests) and on
the generator's province at 20,000 persons, seed 1; the acceptance figures are measured at 200,000
persons, seed 7. See the module docstring of ``jobs.silver.population.resolve`` for the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
from pathlib import Path
from typing import Any

from jobs.silver.population.resolve import BACKENDS, match_quality, resolve_persons
from synthetic import resolution as syn

FIGURES = (
    "probabilistic_precision",
    "probabilistic_recall",
    "probabilistic_pairs_true",
    "precision",
    "recall",
)


def _quality_line(res: Any, q: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {
            **extra,
            "backend": res.backend,
            "seconds": round(res.seconds, 1),
            "timings": res.timings,
            "pairs_compared": res.pairs_compared,
            **{k: round(q[k], 4) if isinstance(q[k], float) else q[k] for k in FIGURES if k in q},
            "records_by_method": res.records_by_method,
            "records_without_valid_id": q.get("records_without_valid_id"),
            "m_training": res.m_training,
        },
        ensure_ascii=False,
    )


def _print_misses(spark: Any, records: Any, crosswalk: Any, truth: Any, limit: int) -> None:
    """True pairs with a record without a valid ID that the crosswalk keeps apart."""
    from pyspark.sql import functions as F

    cw = crosswalk.join(truth, "record_key")
    pairs = (
        cw.alias("l")
        .join(cw.alias("r"), (F.col("l.true_person_id") == F.col("r.true_person_id")))
        .where(F.col("l.record_key") < F.col("r.record_key"))
        .where(F.col("l.person_id") != F.col("r.person_id"))
        .where((F.col("l.match_method") != "id_number") | (F.col("r.match_method") != "id_number"))
        .select(F.col("l.record_key").alias("a"), F.col("r.record_key").alias("b"))
    )
    shown = pairs.orderBy(F.rand(seed=3)).limit(limit).collect()
    columns = ["record_key", "id_number", "name", "birth_date", "sex", "admin_code", "address", "phone"]
    wanted = {k for p in shown for k in (p["a"], p["b"])}
    rows = {
        r["record_key"]: r
        for r in records.where(F.col("record_key").isin(list(wanted))).select(*columns).collect()
    }
    for p in shown:
        print(
            "MISS",
            json.dumps([[str(rows[k][c]) for c in columns] for k in (p["a"], p["b"])], ensure_ascii=False),
        )


def run_generated(scale: int, seed: int, work: Path, backend: str, misses: int) -> None:
    from bench.generated_records import generated_records
    from govlake.spark import get_spark

    made = generated_records(scale, seed, work)
    spark = get_spark()
    from jobs.silver.population.resolve import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

    standardized = made.records(spark)
    records = standardized.select(*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS).cache()
    truth = made.truth(spark).cache()
    records.count(), truth.count()
    res = resolve_persons(spark, records, key=secrets.token_hex(32), backend=backend)
    q = match_quality(res, truth)
    print(_quality_line(res, q, generated_persons=scale, seed=seed, records=q["records"]), flush=True)
    if misses:
        _print_misses(spark, standardized, res.crosswalk, truth, misses)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, help="approximate record counts (synthetic.resolution)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generated", type=int, help="true persons of a generated province instead")
    parser.add_argument("--work", type=Path, default=Path("/tmp/govlake-bench"))
    parser.add_argument("--misses", type=int, default=0, help="print this many missed pairs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    if args.generated:
        run_generated(args.generated, args.seed, args.work, args.backends.split(",")[0], args.misses)
        return

    from govlake.spark import get_spark

    spark = get_spark()
    key = secrets.token_hex(32)
    for size in args.sizes:
        pop = syn.generate(size, seed=args.seed)
        records = syn.records_frame(spark, pop.records).cache()
        truth = syn.truth_frame(spark, pop).cache()
        records.count(), truth.count()
        seconds: dict[str, float] = {}
        for backend in args.backends.split(","):
            res = resolve_persons(spark, records, key=key, backend=backend)
            q = match_quality(res, truth)
            seconds[backend] = res.seconds
            print(_quality_line(res, q, records=len(pop.records)), flush=True)
        if {"duckdb", "spark"} <= seconds.keys():
            ratio = seconds["spark"] / seconds["duckdb"]
            print(json.dumps({"records": len(pop.records), "spark_over_duckdb": round(ratio, 2)}), flush=True)
        records.unpersist()
        truth.unpersist()


if __name__ == "__main__":
    main()
