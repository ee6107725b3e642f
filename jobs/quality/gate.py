"""The publish gate: a table version is shared only after it passed its suite.

:func:`publish_if_valid` reads the newest version number of a Delta table, validates exactly that
version and, only if it passed, appends a row to the ``publications`` Delta table in the share zone.
Readers go through :func:`read_published`, which time-travels to the version last recorded there, so a
failed validation leaves the previously published version in service. Every validation, passed or
failed, is also in the quality zone's ``validations`` table (see :mod:`jobs.quality.gx_runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake.config import Settings, Zone, load_settings
from jobs.quality.gx_runner import (
    SuiteLike,
    ValidationOutcome,
    append_delta,
    latest_version,
    read_version,
    validate_table_version,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PUBLICATIONS_TABLE = "publications"


class QualityGateFailed(RuntimeError):
    """A table version failed its suite and was not published. ``outcome`` has the details."""

    def __init__(self, outcome: ValidationOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"not published: {outcome.report()}")


class NotPublished(LookupError):
    """No version of the table has been published."""


@dataclass(frozen=True)
class Publication:
    table: str
    table_path: str
    delta_version: int
    suite: str
    run_id: str
    validated_at: datetime
    published_at: datetime
    summary: str


def publications_path(settings: Settings | None = None) -> str:
    return (settings or load_settings()).table_path(Zone.SHARE, PUBLICATIONS_TABLE)


def _publications_schema() -> Any:
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("table", T.StringType(), False),
            T.StructField("table_path", T.StringType(), False),
            T.StructField("delta_version", T.LongType(), False),
            T.StructField("suite", T.StringType(), False),
            T.StructField("run_id", T.StringType(), False),
            T.StructField("validated_at", T.TimestampType(), False),
            T.StructField("published_at", T.TimestampType(), False),
            T.StructField("summary", T.StringType(), False),
        ]
    )


def _spark(spark: SparkSession | None, settings: Settings) -> SparkSession:
    if spark is not None:
        return spark
    from govlake.spark import get_spark

    return get_spark(settings)


def publish_if_valid(
    table_name: str,
    table_path: str,
    suite: SuiteLike,
    *,
    spark: SparkSession | None = None,
    settings: Settings | None = None,
) -> Publication:
    """Validate the newest version of ``table_path`` against ``suite``; publish it only if it passed.

    Raises :class:`QualityGateFailed` (naming the failed expectations, with examples) and records no
    publication when the version fails. Either way the validation is in the ``validations`` table.
    """
    settings = settings or load_settings()
    spark = _spark(spark, settings)
    version = latest_version(spark, table_path)
    outcome = validate_table_version(spark, table_name, table_path, suite, version=version, settings=settings)
    if not outcome.success:
        raise QualityGateFailed(outcome)
    publication = Publication(
        table=table_name,
        table_path=table_path,
        delta_version=version,
        suite=outcome.suite,
        run_id=outcome.run_id,
        validated_at=outcome.validated_at,
        published_at=datetime.now(UTC),
        summary=outcome.summary(),
    )
    row = spark.createDataFrame(
        [
            (
                publication.table,
                publication.table_path,
                publication.delta_version,
                publication.suite,
                publication.run_id,
                publication.validated_at,
                publication.published_at,
                publication.summary,
            )
        ],
        schema=_publications_schema(),
    )
    append_delta(row, publications_path(settings))
    return publication


def _has_delta_table(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, path))


def current_publication(
    table_name: str, *, spark: SparkSession | None = None, settings: Settings | None = None
) -> Publication | None:
    """The publication in force for ``table_name`` (the most recent one), or None."""
    from pyspark.sql import functions as F

    settings = settings or load_settings()
    spark = _spark(spark, settings)
    path = publications_path(settings)
    if not _has_delta_table(spark, path):
        return None
    row = (
        spark.read.format("delta")
        .load(path)
        .where(F.col("table") == table_name)
        .orderBy(F.col("published_at").desc(), F.col("delta_version").desc())
        .first()
    )
    if row is None:
        return None
    fields = row.asDict()
    for name in ("validated_at", "published_at"):
        # PySpark returns timestamps as naive datetimes in the Python process's local time zone.
        fields[name] = fields[name].astimezone(UTC)
    return Publication(**fields)


def published_version(
    table_name: str, *, spark: SparkSession | None = None, settings: Settings | None = None
) -> int | None:
    """The Delta version of ``table_name`` readers are served, or None if none was ever published."""
    publication = current_publication(table_name, spark=spark, settings=settings)
    return None if publication is None else int(publication.delta_version)


def read_published(spark: SparkSession, table_name: str, *, settings: Settings | None = None) -> DataFrame:
    """The published version of ``table_name`` (Delta time travel to the recorded version)."""
    publication = current_publication(table_name, spark=spark, settings=settings)
    if publication is None:
        raise NotPublished(f"no version of {table_name} has been published")
    return read_version(spark, publication.table_path, publication.delta_version)


def read_publications(spark: SparkSession, settings: Settings | None = None) -> DataFrame:
    """The whole publication log."""
    return spark.read.format("delta").load(publications_path(settings))
