"""Compute the scorecard for the current lake, append it to its history, render the page.

extract (bronze tables, quarantine, ingest log, silver libraries) -> indicators (pure, see
:mod:`.indicators`) -> load (one run appended to the ``quality/scorecard/history`` Delta table, idempotent
per run id) -> render (``quality/scorecard/index.html`` and ``scorecard.png``, see :mod:`.render`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.config import Settings, Zone, load_settings
from govlake.registry import ColumnType, Registry, load_registry

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("govlake.quality")

REPORT_FOLDER = "scorecard"
#: The run history lives beside the page, not at the folder itself: a Delta table's folder must hold
#: only the table (VACUUM deletes files it does not know, such as index.html).
SCORECARD_TABLE = f"{REPORT_FOLDER}/history"


@dataclass(frozen=True)
class ScorecardResult:
    run_id: str
    computed_at: datetime
    html_path: str
    png_path: str
    cells: int  # (prefecture, department, indicator) figures in this run
    province: dict[str, float]  # indicator -> province-wide figure

    def report(self) -> str:
        figures = ", ".join(f"{k} {v:.3f}" for k, v in self.province.items())
        return f"scorecard run {self.run_id}: {figures}\n  page {self.html_path}\n  png  {self.png_path}"


def scorecard_table_path(settings: Settings) -> str:
    return settings.table_path(Zone.QUALITY, SCORECARD_TABLE)


def report_paths(settings: Settings) -> tuple[str, str]:
    folder = f"{settings.zone(Zone.QUALITY)}/{REPORT_FOLDER}"
    return f"{folder}/index.html", f"{folder}/scorecard.png"


def _read(spark: SparkSession, path: str) -> DataFrame | None:
    from delta.tables import DeltaTable

    return spark.read.format("delta").load(path) if DeltaTable.isDeltaTable(spark, path) else None


def long_counts(spark: SparkSession, settings: Settings, registry: Registry) -> DataFrame:
    """Every indicator's counts for the lake as it is now (long format, see :mod:`.indicators`)."""
    from functools import reduce

    from jobs.bronze.load import bronze_table_uri, ingest_log_uri, quarantine_uri
    from jobs.quality.scorecard import indicators as ind

    parts: list[DataFrame] = []
    for dataset in registry.datasets.values():
        bronze = _read(spark, bronze_table_uri(dataset.name, settings))
        if bronze is None:
            continue
        sources = registry.sources_for(dataset.name)
        parts.append(
            ind.bronze_row_indicators(
                bronze,
                columns=dataset.column_names,
                sent_columns={s.id: list(s.column_map.values()) for s in sources},
                row_key=dataset.row_key,
                typed_columns={c.name: c.type for c in dataset.columns if c.type is not ColumnType.STRING},
                date_formats={s.id: s.date_formats for s in sources},
            )
        )
    quarantine = _read(spark, quarantine_uri(settings))
    if quarantine is not None:
        parts.append(ind.quarantine_indicators(quarantine))
    silver = {
        (library, table): _read(spark, settings.table_path(Zone.SILVER, library, table))
        for library, table in [
            ("population", "person_records"),
            ("population", "crosswalk"),
            ("population", "persons"),
            ("legal_persons", "records"),
            ("legal_persons", "crosswalk"),
            ("legal_persons", "legal_persons"),
        ]
    }
    population = [silver[("population", t)] for t in ("person_records", "crosswalk", "persons")]
    if all(df is not None for df in population):
        parts.append(ind.person_indicators(*population))  # type: ignore[arg-type]
    legal = [silver[("legal_persons", t)] for t in ("records", "crosswalk", "legal_persons")]
    if all(df is not None for df in legal):
        parts.append(ind.legal_person_indicators(*legal))  # type: ignore[arg-type]
    ingest_log = _read(spark, ingest_log_uri(settings))
    if ingest_log is not None:
        parts.append(ind.file_indicators(ingest_log, registry, spark))
    if not parts:
        return spark.createDataFrame([], ind.LONG_SCHEMA)
    return reduce(lambda a, b: a.unionByName(b), parts)


def departments_frame(spark: SparkSession, registry: Registry) -> DataFrame:
    return spark.createDataFrame(
        [(s.id, s.department) for s in registry.sources.values()], "source_id string, department string"
    )


def compute_scorecard(spark: SparkSession, settings: Settings, registry: Registry | None = None) -> DataFrame:
    """(prefecture, department, indicator, numerator, denominator, value) for the lake as it is now."""
    from jobs.quality.scorecard.indicators import score_cells

    registry = registry or load_registry()
    return score_cells(long_counts(spark, settings, registry), departments_frame(spark, registry))


def append_run(spark: SparkSession, settings: Settings, cells: DataFrame, run_id: str, at: datetime) -> None:
    """Append one run's figures; a run id already in the table is not written twice (crash + re-run)."""
    from pyspark.sql import functions as F

    from jobs.quality.gx_runner import append_delta

    path = scorecard_table_path(settings)
    history = _read(spark, path)
    if history is not None and history.where(F.col("run_id") == run_id).limit(1).count():
        return
    rows = cells.select(
        F.lit(run_id).alias("run_id"),
        F.lit(at).cast("timestamp").alias("computed_at"),
        "prefecture",
        "department",
        "indicator",
        "numerator",
        "denominator",
        "value",
    )
    append_delta(rows, path)


def build_scorecard(
    settings: Settings | None = None, *, spark: SparkSession | None = None, run_id: str | None = None
) -> ScorecardResult:
    """Score the lake, add the run to the history and render the page and PNG; return where they are."""
    from govlake.spark import get_spark
    from jobs.quality.scorecard.render import render

    settings = settings or load_settings()
    spark = spark or get_spark(settings)
    run_id = run_id or uuid.uuid4().hex
    computed_at = datetime.now(UTC)
    cells = compute_scorecard(spark, settings).cache()
    try:
        append_run(spark, settings, cells, run_id, computed_at)
        current = cells.toPandas()
    finally:
        cells.unpersist()
    history = spark.read.format("delta").load(scorecard_table_path(settings)).toPandas()
    html, png = render(current, history, run_id=run_id, computed_at=computed_at)
    html_path, png_path = report_paths(settings)
    storage.write_bytes(settings, png_path, png)
    storage.write_bytes(settings, html_path, html.encode("utf-8"))
    province = province_figures(current)
    result = ScorecardResult(run_id, computed_at, html_path, png_path, len(current), province)
    log.info(result.report())
    return result


def province_figures(cells: Any) -> dict[str, float]:
    """Province-wide figure per indicator (ratio of summed counts over every cell)."""
    from jobs.quality.scorecard.indicators import INDICATOR_KEYS

    sums = cells.groupby("indicator")[["numerator", "denominator"]].sum()
    return {
        k: float(sums.loc[k, "numerator"] / sums.loc[k, "denominator"])
        for k in INDICATOR_KEYS
        if k in sums.index
    }
