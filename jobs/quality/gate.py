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
    record_validations,
    validate_table_version,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PUBLICATIONS_TABLE = "publications"


class QualityGateFailed(RuntimeError):
    """Table versions failed their suites and were not published.

    ``outcomes`` has every failed validation (``outcome`` the first), each with its failed
    expectations and examples.
    """

    def __init__(self, *outcomes: ValidationOutcome) -> None:
        if not outcomes:
            raise ValueError("QualityGateFailed needs at least one failed validation")
        self.outcomes = outcomes
        self.outcome = outcomes[0]
        super().__init__("not published: " + "\n".join(o.report() for o in outcomes))


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
    return _record_publications(spark, settings, [outcome])[0]


def _record_publications(
    spark: SparkSession, settings: Settings, outcomes: list[ValidationOutcome]
) -> list[Publication]:
    """Publish the validated versions in one Delta commit: all of them, or (on a crash) none."""
    now = datetime.now(UTC)
    publications = [
        Publication(
            table=o.table,
            table_path=str(o.table_path),
            delta_version=int(o.delta_version),  # type: ignore[arg-type]
            suite=o.suite,
            run_id=o.run_id,
            validated_at=o.validated_at,
            published_at=now,
            summary=o.summary(),
        )
        for o in outcomes
    ]
    rows = [
        (p.table, p.table_path, p.delta_version, p.suite, p.run_id, p.validated_at, p.published_at, p.summary)
        for p in publications
    ]
    append_delta(spark.createDataFrame(rows, schema=_publications_schema()), publications_path(settings))
    return publications


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


def published_versions(
    *, spark: SparkSession | None = None, settings: Settings | None = None
) -> dict[str, int]:
    """The Delta version in force for every published table (one read of the publication log)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    settings = settings or load_settings()
    spark = _spark(spark, settings)
    path = publications_path(settings)
    if not _has_delta_table(spark, path):
        return {}
    newest = Window.partitionBy("table").orderBy(F.col("published_at").desc(), F.col("delta_version").desc())
    rows = (
        spark.read.format("delta")
        .load(path)
        .withColumn("_rank", F.row_number().over(newest))
        .where("_rank = 1")
        .select("table", "delta_version")
        .collect()
    )
    return {r["table"]: int(r["delta_version"]) for r in rows}


def read_published(spark: SparkSession, table_name: str, *, settings: Settings | None = None) -> DataFrame:
    """The published version of ``table_name`` (Delta time travel to the recorded version)."""
    publication = current_publication(table_name, spark=spark, settings=settings)
    if publication is None:
        raise NotPublished(f"no version of {table_name} has been published")
    return read_version(spark, publication.table_path, publication.delta_version)


def read_publications(spark: SparkSession, settings: Settings | None = None) -> DataFrame:
    """The whole publication log."""
    return spark.read.format("delta").load(publications_path(settings))


# ------------------------------------------------------------------------ a library's tables together


@dataclass(frozen=True)
class GateResult:
    """What :func:`gate_library` did: published, already published, absent, and how long it took."""

    library: str
    published: tuple[Publication, ...]
    already_published: tuple[str, ...]  # newest version was published before: not re-validated
    absent: tuple[str, ...]  # the build has not written this table (e.g. no input yet)
    outcomes: tuple[ValidationOutcome, ...]
    seconds: float

    def report(self) -> str:
        lines = [f"{self.library}: quality gate passed in {self.seconds:.1f}s"]
        lines += [f"  published {p.table} @ Delta v{p.delta_version}" for p in self.published]
        lines += [f"  unchanged {t} (newest version already published)" for t in self.already_published]
        lines += [f"  absent    {t} (not built yet)" for t in self.absent]
        return "\n".join(lines)


def gate_library(
    library: str, *, spark: SparkSession | None = None, settings: Settings | None = None
) -> GateResult:
    """Validate the newest version of every table of a base library; publish them only if all pass.

    A library is published as a whole: its crosswalk points at its golden records, so sharing one
    without the other would serve an inconsistent pair. Tables whose newest version is already the
    published one are not validated again (a re-run costs nothing). On any failure every table's
    validation is still run and recorded (quality officers see all problems at once), nothing is
    published, and :class:`QualityGateFailed` is raised with every failed table's report.
    """
    import time

    from jobs.quality.silver_suites import silver_tables

    settings = settings or load_settings()
    spark = _spark(spark, settings)
    started = time.perf_counter()
    outcomes: list[ValidationOutcome] = []
    already: list[str] = []
    absent: list[str] = []
    in_force = published_versions(spark=spark, settings=settings)
    for table in silver_tables(library):
        path = table.path(settings)
        if not _has_delta_table(spark, path):
            absent.append(table.name)
            continue
        version = latest_version(spark, path)
        if in_force.get(table.name) == version:
            already.append(table.name)
            continue
        suite = table.suite(settings)
        outcomes.append(
            validate_table_version(
                spark, table.name, path, suite, version=version, settings=settings, record=False
            )
        )
    record_validations(spark, outcomes, settings)  # one commit for the library, pass or fail
    failed = [o for o in outcomes if not o.success]
    if failed:
        raise QualityGateFailed(*failed)
    published = _record_publications(spark, settings, outcomes) if outcomes else []
    return GateResult(
        library=library,
        published=tuple(published),
        already_published=tuple(already),
        absent=tuple(absent),
        outcomes=tuple(outcomes),
        seconds=time.perf_counter() - started,
    )


def gate_bronze(
    dataset: str, *, spark: SparkSession | None = None, settings: Settings | None = None
) -> Publication | None:
    """Validate the newest version of ``bronze.<dataset>`` against its registry-generated suite.

    Bronze is not shared, but a version that breaks its suite (a required value missing, lineage
    lost, a row loaded twice) means the loader misbehaved: its event must not trigger silver builds.
    Returns the new publication, or None when that version was already validated and published (or
    the table does not exist yet). Raises :class:`QualityGateFailed` on failure.
    """
    from jobs.bronze.load import bronze_table_uri
    from jobs.quality.suites import bronze_suite_name, bronze_suite_of

    settings = settings or load_settings()
    spark = _spark(spark, settings)
    path = bronze_table_uri(dataset, settings)
    if not _has_delta_table(spark, path):
        return None
    name = bronze_suite_name(dataset)
    version = latest_version(spark, path)
    if published_version(name, spark=spark, settings=settings) == version:
        return None
    # Built from the registry in use: the same suite as the checked-in JSON for the province's
    # registry (CI checks that), and the right one for another registry ($GOVLAKE_REGISTRY).
    return publish_if_valid(name, path, bronze_suite_of(dataset), spark=spark, settings=settings)
