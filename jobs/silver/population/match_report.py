"""How well the population crosswalk matches the generator's ground truth, as a stored quality product.

The population build records what its person resolution did (backend, pairs compared after
blocking, records per method) in ``<quality>/person_resolution/latest.json``;
:func:`write_match_report` scores the crosswalk as stored against ``truth/rows.csv`` of a
generated folder (:mod:`synthetic.generator`) with :func:`resolve.match_quality` and
writes ``<quality>/match_quality/<run>.json`` and ``latest.json``.

A truth row names the person(s) it is about (``person_id``, and ``person_id_2`` for the wife of a
marriage registration); the silver record it became is keyed
``<source_id>|<file sha256>|<row_number>|<role>``, with roles in the order of
:data:`records.PERSON_MENTIONS` (first mention -> ``person_id``, second -> ``person_id_2``).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.config import Settings
from govlake.lake import Lake
from govlake.registry import Registry
from jobs.silver.population.records import PERSON_MENTIONS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from govlake.lake.context import StepContext
    from jobs.silver.population.resolve import ResolutionResult

REPORT_FOLDER = "quality.match_quality"
RESOLUTION_SUMMARY = "quality.person_resolution"
CROSSWALK = "silver.population.crosswalk"
#: What the report takes from :func:`resolve.match_quality`.
QUALITY_FIGURES = (
    "precision",
    "recall",
    "f1",
    "pairs_predicted",
    "pairs_true",
    "pairs_correct",
    "probabilistic_precision",
    "probabilistic_recall",
    "probabilistic_f1",
    "probabilistic_pairs_predicted",
    "probabilistic_pairs_true",
    "probabilistic_pairs_correct",
    "records_without_valid_id",
)
#: The truth columns naming the first and the second person a row mentions.
TRUTH_PERSON_COLUMNS = ("person_id", "person_id_2")


def report_folder(lake: Lake) -> str:
    return lake.location(REPORT_FOLDER)


def _write_json(settings: Settings, path: str, value: dict[str, Any]) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    storage.write_bytes(settings, path, text.encode("utf-8"))


def write_resolution_summary(ctx: StepContext, resolution: ResolutionResult) -> dict[str, Any]:
    """Keep what a person resolution did, for the match report (the crosswalk cannot say it)."""
    summary = {
        "resolved_at": ctx.as_of.isoformat(),
        "backend": resolution.backend,
        "threshold": resolution.threshold,
        "pairs_compared": resolution.pairs_compared,
        "records_linked": resolution.records_linked,
        "records_by_method": resolution.records_by_method,
        "conflicts_split": resolution.conflicts_split,
        "m_training": resolution.m_training,  # "reused" in an incremental run, "priors" when too small
        "training_note": resolution.training_note,
        "incremental": resolution.touched_person_ids is not None,
        "seconds": round(resolution.seconds, 1),
        "stage_seconds": resolution.timings,  # where the resolution's time went
    }
    _write_json(ctx.settings, ctx.location(RESOLUTION_SUMMARY), summary)
    return summary


def _truth_folder(truth_dir: Path) -> Path:
    """The folder holding rows.csv: ``truth_dir`` itself, or its ``truth/`` (a generated folder)."""
    truth_dir = Path(truth_dir)
    return truth_dir if (truth_dir / "rows.csv").is_file() else truth_dir / "truth"


def truth_keys(spark: SparkSession, truth_dir: Path, registry: Registry) -> DataFrame:
    """(record_key, true_person_id) for every person mention the generated extracts contain.

    Rows the loader quarantined are included: they have no silver record, so they simply find no
    partner when joined to the crosswalk.
    """
    from pyspark.sql import functions as F

    folder = _truth_folder(truth_dir)
    with (folder / "files.csv").open(encoding="utf-8", newline="") as fh:
        file_hash = {row["file"]: row["sha256"] for row in csv.DictReader(fh)}
    sources = registry.sources
    roles = {
        source_id: [m.role for m in PERSON_MENTIONS[source.dataset]]
        for source_id, source in sources.items()
        if source.dataset in PERSON_MENTIONS
    }
    keys: list[str] = []
    persons: list[str] = []
    with (folder / "rows.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for role, column in zip(roles.get(row["source_id"], ()), TRUTH_PERSON_COLUMNS, strict=False):
                if row[column]:
                    keys.append(f"{row['source_id']}|{file_hash[row['file']]}|{row['row_number']}|{role}")
                    persons.append(row[column])
    import pyarrow as pa

    table = pa.table({"record_key": keys, "true_person_id": persons})
    return spark.createDataFrame(table).select(
        F.col("record_key").cast("string"), F.col("true_person_id").cast("string")
    )


def write_match_report(lake: Lake, truth_dir: Path) -> dict[str, Any]:
    """Score the published population crosswalk against ground truth; store and return the report.

    ``truth_dir`` is the generator's ``truth/`` folder (or the generated folder above it). Writes
    ``<quality>/match_quality/<run>.json`` and ``latest.json`` and returns the same dict:
    pairwise precision, recall and F1 (overall and for pairs settled probabilistically), records
    per match method, pairs compared after blocking and the backend (from the last resolution),
    how many crosswalk records were scored. ``{"skipped": <why>}`` when no crosswalk is published yet.
    """
    from govlake.registry import load_registry
    from jobs.silver.population.resolve import match_quality
    from jobs.silver.tables import skipped

    settings, spark = lake.settings, lake.spark
    version = lake.published_version(CROSSWALK)
    if version is None:
        return skipped("no population crosswalk published yet: build the population library first")
    crosswalk = lake.read_version(CROSSWALK, version).cache()
    try:
        truth = truth_keys(spark, truth_dir, load_registry(settings.registry_path))
        quality = match_quality(crosswalk, truth)
        crosswalk_records = crosswalk.count()
    finally:
        crosswalk.unpersist()
    summary_path = lake.location(RESOLUTION_SUMMARY)
    resolution = (
        json.loads(storage.read_bytes(settings, summary_path))
        if storage.exists(settings, summary_path)
        else {}
    )
    created = datetime.now(UTC)
    run = created.strftime("%Y%m%dT%H%M%S%fZ")
    report: dict[str, Any] = {
        "run": run,
        "created_at": created.isoformat(),
        "truth_dir": str(_truth_folder(truth_dir)),
        "crosswalk_version": version,
        "crosswalk_records": crosswalk_records,
        "records_scored": quality["records"],
        "records_without_truth": crosswalk_records - quality["records"],
        **{figure: quality[figure] for figure in QUALITY_FIGURES},
        "records_by_method": quality["records_by_method"],
        "pairs_compared": resolution.get("pairs_compared"),
        "backend": resolution.get("backend"),
        "resolution": resolution,
    }
    folder = report_folder(lake)
    _write_json(settings, f"{folder}/{run}.json", report)
    _write_json(settings, f"{folder}/latest.json", report)
    return report
