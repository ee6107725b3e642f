"""Compute the scorecard for the current lake, append it to its history, render the page.

extract (bronze tables, quarantine, ingest log, silver libraries) -> indicators (pure, see
:mod:`.indicators`) -> load (one run appended to the ``quality/scorecard/history`` Delta table, idempotent
per run id) -> render (``quality/scorecard/index.html`` and ``scorecard.png``, see :mod:`.render`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.lake import Lake, bronze_id, delta
from govlake.lake.context import StepContext
from govlake.registry import ColumnType, Registry

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("govlake.quality")

#: The run history lives beside the page, not at the folder itself: a Delta table's folder must hold
#: only the table (VACUUM deletes files it does not know, such as index.html).
SCORECARD_TABLE = "quality.scorecard.history"
PAGE, PNG = "quality.scorecard.page", "quality.scorecard.png"
INGEST_LOG, QUARANTINE, VALIDATIONS = "bronze._ingest_log", "quarantine.bronze_rows", "quality.validations"
SILVER_TABLES = (
    ("population", "person_records"),
    ("population", "crosswalk"),
    ("population", "persons"),
    ("legal_persons", "records"),
    ("legal_persons", "crosswalk"),
    ("legal_persons", "legal_persons"),
)


@dataclass(frozen=True)
class ScorecardResult:
    run_id: str
    computed_at: datetime
    html_path: str
    png_path: str
    cells: int  # (prefecture, department, indicator) figures in this run
    province: dict[str, float]  # indicator -> province-wide figure
    unchanged: bool = False  # nothing published since run ``run_id``: not scored again

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "html": self.html_path,
            "png": self.png_path,
            "province": self.province,
        }

    def report(self) -> str:
        figures = ", ".join(f"{k} {v:.3f}" for k, v in self.province.items())
        if self.unchanged:
            return (
                f"scorecard unchanged: nothing was published since run {self.run_id}: {figures}\n"
                f"  page {self.html_path}"
            )
        return f"scorecard run {self.run_id}: {figures}\n  page {self.html_path}\n  png  {self.png_path}"


def report_paths(lake: Lake) -> tuple[str, str]:
    return lake.location(PAGE), lake.location(PNG)


def long_counts(ctx: StepContext) -> DataFrame:
    """Every indicator's counts for the published lake (long format, see :mod:`.indicators`)."""
    from functools import reduce

    from jobs.quality.scorecard import indicators as ind

    registry, spark = ctx.registry, ctx.spark
    parts: list[DataFrame] = []
    for dataset in registry.datasets.values():
        bronze = ctx.read(bronze_id(dataset.name))
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
    quarantine = ctx.read(QUARANTINE)
    if quarantine is not None:
        parts.append(ind.quarantine_indicators(quarantine))
    silver = {(library, table): ctx.read(f"silver.{library}.{table}") for library, table in SILVER_TABLES}
    population = [silver[("population", t)] for t in ("person_records", "crosswalk", "persons")]
    if all(df is not None for df in population):
        parts.append(ind.person_indicators(*population))  # type: ignore[arg-type]
    legal = [silver[("legal_persons", t)] for t in ("records", "crosswalk", "legal_persons")]
    if all(df is not None for df in legal):
        parts.append(ind.legal_person_indicators(*legal))  # type: ignore[arg-type]
    ingest_log = ctx.read(INGEST_LOG)
    if ingest_log is not None:
        parts.append(ind.file_indicators(ingest_log, registry, spark))
    if not parts:
        return spark.createDataFrame([], ind.LONG_SCHEMA)
    return reduce(lambda a, b: a.unionByName(b), parts)


def gate_outcomes(ctx: StepContext) -> Any:  # -> pandas.DataFrame
    """For each published table's served version: rows dropped per expectation, and warnings."""
    import pandas as pd
    from pyspark.sql import functions as F

    columns = ["table", "severity", "expectation", "rows", "outcome"]
    validations = ctx.read(VALIDATIONS)
    if validations is None or "dropped" not in validations.columns:
        return pd.DataFrame(columns=columns)
    served = {t: p.delta_version for t, p in ctx.lake.publications().items()}
    rows = []
    for v in validations.where(F.col("passed")).collect():
        if served.get(v["table"]) != v["delta_version"]:
            continue
        for expectation, count in (v["dropped"] or {}).items():
            if count:
                rows.append(
                    (v["table"], "drop", expectation, count, "moved to quarantine; the rest published")
                )
        for e in v["expectations"]:
            if e["severity"] == "warn" and not e["success"]:
                column = e["column"] or ""
                # a derived check is named by its flag column; a plain one by its type and column
                label = column[4:] if column.startswith("_dq_") else f"{e['expectation_type']} ({column})"
                rows.append((v["table"], "warn", label, e["unexpected_count"] or 0, "published and recorded"))
    return pd.DataFrame(sorted(rows), columns=columns)


def departments_frame(spark: SparkSession, registry: Registry) -> DataFrame:
    return spark.createDataFrame(
        [(s.id, s.department) for s in registry.sources.values()], "source_id string, department string"
    )


def compute_scorecard(ctx: StepContext) -> DataFrame:
    """(prefecture, department, indicator, numerator, denominator, value) for the published lake."""
    from jobs.quality.scorecard.indicators import score_cells

    return score_cells(long_counts(ctx), departments_frame(ctx.spark, ctx.registry))


def _inputs_json(ctx: StepContext) -> str:
    return json.dumps(ctx.pins.published(), sort_keys=True)


def _last_run(ctx: StepContext) -> Any:  # -> Row | None
    """The newest run in the history: its id, time and the published versions it scored."""
    from pyspark.sql import functions as F

    history = delta.read_latest(ctx.spark, ctx.path(SCORECARD_TABLE))
    if history is None or "inputs" not in history.columns:
        return None
    return history.select("run_id", "computed_at", "inputs").orderBy(F.col("computed_at").desc()).first()


def _cells_of_run(ctx: StepContext, run_id: str) -> Any:  # -> pandas.DataFrame
    from pyspark.sql import functions as F

    history = delta.read_latest(ctx.spark, ctx.path(SCORECARD_TABLE))
    assert history is not None
    columns = ("prefecture", "department", "indicator", "numerator", "denominator", "value")
    return history.where(F.col("run_id") == run_id).select(*columns).toPandas()


def append_run(ctx: StepContext, cells: DataFrame, run_id: str, at: datetime) -> None:
    """Append one run's figures; a run id already in the table is not written twice (crash + re-run)."""
    from pyspark.sql import functions as F

    path = ctx.path(SCORECARD_TABLE)
    history = delta.read_latest(ctx.spark, path)
    if history is not None and history.where(F.col("run_id") == run_id).limit(1).count():
        return
    rows = cells.select(
        F.lit(run_id).alias("run_id"),
        F.lit(at).cast("timestamp").alias("computed_at"),
        F.lit(_inputs_json(ctx)).alias("inputs"),
        "prefecture",
        "department",
        "indicator",
        "numerator",
        "denominator",
        "value",
    )
    delta.append(rows, path, merge_schema=True)


def build_scorecard(ctx: StepContext) -> ScorecardResult:
    """Score the published lake, add the run to the history, render the page and PNG; say where they are.

    The run is named after the step's run id (a DAG run's id under Airflow): a retried task does not
    add a second run to the trend. When nothing was published since the last run (same pinned input
    versions), nothing is scored again and the last run is returned: re-running changes nothing.
    """
    from jobs.quality.scorecard.render import render

    spark, settings, run_id = ctx.spark, ctx.settings, ctx.run_id
    last = _last_run(ctx)
    if last is not None and last["inputs"] == _inputs_json(ctx):
        html_path, png_path = report_paths(ctx.lake)
        log.info("scorecard: the published lake is unchanged since run %s", last["run_id"])
        cells = _cells_of_run(ctx, last["run_id"])  # the figures in force are that run's
        return ScorecardResult(
            last["run_id"],
            last["computed_at"],
            html_path,
            png_path,
            len(cells),
            province_figures(cells),
            unchanged=True,
        )
    computed_at = datetime.now(UTC)
    cells = compute_scorecard(ctx).cache()
    try:
        append_run(ctx, cells, run_id, computed_at)
        current = cells.toPandas()
    finally:
        cells.unpersist()
    history = spark.read.format("delta").load(ctx.path(SCORECARD_TABLE)).toPandas()
    html, png = render(current, history, run_id=run_id, computed_at=computed_at, gates=gate_outcomes(ctx))
    html_path, png_path = report_paths(ctx.lake)
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
