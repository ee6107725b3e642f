"""Person records of a generated world, made once per (scale, seed) and kept for benchmarks.

    python -m bench.generated_records 20000 --seed 1 --work /tmp/identity-bench

Generates the extracts (:mod:`synthetic.generator`), lands and loads the population sources into a
scratch lake of its own (no quality gates: a benchmark measures resolution, not ingestion), builds
the standardized person records exactly as the population build does
(:func:`jobs.silver.population.records.person_records`) and keeps them as parquet beside the
generator's truth keyed like silver records (:func:`match_report.truth_keys`). A later call with the
same scale and seed reuses them. The scratch lake gets a throw-away person-id key.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class GeneratedRecords:
    folder: Path

    @property
    def records_path(self) -> Path:
        return self.folder / "person_records.parquet"

    @property
    def truth_path(self) -> Path:
        return self.folder / "truth_keys.parquet"

    @property
    def ready(self) -> bool:
        return (self.folder / "_done.json").is_file()

    def records(self, spark: SparkSession) -> DataFrame:
        return spark.read.parquet(str(self.records_path))

    def truth(self, spark: SparkSession) -> DataFrame:
        return spark.read.parquet(str(self.truth_path))


def _scratch_settings(root: Path):  # -> Settings
    from govlake.config import load_settings

    env = dict(os.environ)
    env["GOVLAKE_STORAGE_ROOT"] = str(root)
    env.setdefault("GOVLAKE_PERSON_ID_KEY", secrets.token_hex(32))
    return load_settings(env)


def generated_records(scale: int, seed: int, work: Path) -> GeneratedRecords:
    """The person records and truth of ``scale`` generated persons (``seed``), made once under ``work``."""
    from govlake.lake import Lake, delta
    from govlake.lake.context import StepContext
    from govlake.registry import load_registry
    from jobs.pipeline.graph import StepKind, pipeline_graph
    from jobs.pipeline.run import land, load, plan
    from jobs.silver.population.build import date_formats_of, person_records_of
    from jobs.silver.population.match_report import truth_keys
    from jobs.silver.population.records import PERSON_MENTIONS
    from synthetic.deliver import deliver_extracts
    from synthetic.generator import generate

    out = GeneratedRecords(Path(work) / f"persons-{scale}-seed-{seed}")
    if out.ready:
        return out
    started = time.perf_counter()
    generated = out.folder / "generated"
    if not (generated / "truth" / "manifest.json").is_file():
        generate(generated, scale, seed, progress=False)
    generated_at = time.perf_counter()
    settings = _scratch_settings(out.folder / "lake")
    lake = Lake(settings)
    registry = load_registry(settings.registry_path)
    graph = pipeline_graph(registry)
    population_sources = {s for s, src in registry.sources.items() if src.dataset in PERSON_MENTIONS}
    if not (out.folder / "lake" / "raw").is_dir():
        deliver_extracts(generated / "landing", lake)
    # Landing and loading resume where a stopped run left off: files are known by their hash.
    for step in graph.steps:
        if step.kind is StepKind.INGEST and step.source_id in population_sources:
            for batch in plan(lake, land(step, lake)):
                load(step, lake, batch)
    loaded_at = time.perf_counter()
    step = graph.step("silver.population")
    ctx = StepContext.open(lake, step.name, step.inputs, pins={})
    bronze = {}
    for table_id in step.inputs:
        table = lake.table(table_id)
        if table.dataset in PERSON_MENTIONS:
            df = delta.read_latest(lake.spark, lake.path(table_id))
            if df is not None:
                bronze[table.dataset] = df
    records = person_records_of(ctx, bronze)
    records.write.mode("overwrite").parquet(str(out.records_path))
    truth_keys(lake.spark, generated, registry).write.mode("overwrite").parquet(str(out.truth_path))
    n = lake.spark.read.parquet(str(out.records_path)).count()
    done = {
        "scale": scale,
        "seed": seed,
        "person_records": n,
        "seconds": {
            "generate": round(generated_at - started, 1),
            "land_and_load": round(loaded_at - generated_at, 1),
            "records": round(time.perf_counter() - loaded_at, 1),
        },
        "date_formats": date_formats_of(registry, list(bronze)),
    }
    (out.folder / "_done.json").write_text(json.dumps(done, indent=2), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=int, help="true persons to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/govlake-bench"))
    args = parser.parse_args(argv)
    out = generated_records(args.scale, args.seed, args.work)
    print((out.folder / "_done.json").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
