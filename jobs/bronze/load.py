"""Load one raw extract into its dataset's bronze Delta table: extract -> transform -> validate -> load.

extract    the streaming reader (:mod:`jobs.bronze.readers`) turns the raw bytes into Arrow batches
           written to a Parquet staging folder of the file, a chunk at a time: the driver never
           holds the file;
transform  Spark reads the staging folder and flags records whose required values are empty or
           unparseable (built-in functions only);
validate   the accounting check: the records a separate count of the raw bytes finds
           (:mod:`jobs.bronze.counting`, not the reader) must equal accepted + quarantined, before
           anything is written;
load       quarantine, bronze, then the ingest log, each an idempotent Delta append (``txnAppId`` =
           the file, ``txnVersion`` = 1), so a retried or killed load never duplicates rows and a
           re-run completes whatever the previous attempt did not. The log entry, written last, is
           what marks the file as loaded.

A file over one of its source's ``limits`` is REJECTED unread: no rows, a log entry naming the
limit, and its bytes stay in raw.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.config import Settings
from govlake.lake import Lake, bronze_id, delta
from govlake.registry import ColumnType, Dataset, Source, load_registry
from jobs.bronze.counting import count_records
from jobs.bronze.readers import LIMIT_REASONS, FileRefused, LakeExtract, ReadResult, Reason, read_extract
from jobs.raw.land import loaded_marker_path, raw_object_path, read_metadata

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

LINEAGE_COLUMNS = ("_source_id", "_prefecture", "_batch_id", "_file_hash", "_row_number", "_ingested_at")
INGEST_LOG = "bronze._ingest_log"
QUARANTINE = "quarantine.bronze_rows"
TXN_VERSION = 1  # a file is written once; its txnAppId says which file
#: Drift column names kept in one ingest-log entry (a JSON file may bring thousands of keys).
MAX_DRIFT_LOGGED = 1000


class AccountingError(RuntimeError):
    """Rows in != rows accepted + rows quarantined: something would be lost; nothing was written."""


# ---------------------------------------------------------------- schemas


def bronze_ddl(dataset: Dataset) -> str:
    """Canonical columns as sent (strings: bronze keeps what the source said), drift, lineage."""
    cols = [f"`{c}` string" for c in dataset.column_names]
    return ", ".join(
        [
            *cols,
            "_extra map<string,string>",
            "_source_id string",
            "_prefecture string",
            "_batch_id string",
            "_file_hash string",
            "_row_number int",
            "_ingested_at timestamp",
        ]
    )


QUARANTINE_DDL = (
    "_source_id string, _dataset string, _prefecture string, _batch_id string, _file_hash string, "
    "_row_number int, raw_text string, reason_code string, reason_detail string, _ingested_at timestamp, "
    "raw_offset long, raw_length long"
)
QUARANTINE_COLUMNS = tuple(part.split()[0] for part in QUARANTINE_DDL.split(", "))
INGEST_LOG_DDL = (
    "source_id string, dataset string, prefecture string, file_hash string, original_name string, "
    "batch_id string, size_bytes long, encoding_declared string, encoding_used string, rows_in long, "
    "rows_accepted long, rows_quarantined long, status string, file_reason string, file_detail string, "
    "drift_columns array<string>, loaded_at timestamp"
)


# ---------------------------------------------------------------- transform (pure)


def _folded(column: str) -> Column:
    """The value as a typed check sees it: full-width folded (２０２１年８月３日 is a date), trimmed.

    The same folding silver standardizes with, so bronze accepts exactly what silver can read.
    """
    from pyspark.sql import functions as F

    from jobs.rules.characters import fold_fullwidth

    return F.trim(fold_fullwidth(F.col(column)))


def _parses_as(column: str, kind: ColumnType, date_formats: tuple[str, ...]) -> Column:
    from pyspark.sql import functions as F

    value = _folded(column)
    if kind is ColumnType.DATE:
        # ISO is always accepted besides the declared formats: XLSX date cells arrive as ISO text.
        formats = dict.fromkeys([*date_formats, "yyyy-MM-dd"])
        return F.coalesce(*[F.try_to_date(value, f) for f in formats]).isNotNull()
    if kind is ColumnType.INTEGER:
        return value.try_cast("long").isNotNull()
    if kind in (ColumnType.DECIMAL, ColumnType.DOUBLE):
        return F.regexp_replace(value, ",", "").try_cast("double").isNotNull()
    return F.lit(True)


def flag_required_values(df: DataFrame, dataset: Dataset, source: Source) -> DataFrame:
    """Set ``_reason``/``_detail`` on rows whose required fields are empty or cannot be parsed.

    Rows that already carry a reason (from the reader) keep it. Optional fields are not judged
    here: a bad optional date is silver's business, not a reason to hold back the row.
    """
    from pyspark.sql import functions as F

    reason, detail = F.col("_reason"), F.col("_detail")
    for column in dataset.columns:
        if not column.required:
            continue
        missing = F.col(column.name).isNull()
        unparseable = ~_parses_as(column.name, column.type, source.date_formats)
        new_reason = F.when(missing, F.lit(Reason.MISSING_REQUIRED_VALUE.value)).when(
            unparseable, F.lit(Reason.UNPARSEABLE_REQUIRED_VALUE.value)
        )
        new_detail = F.when(missing, F.lit(f"required field {column.name} is empty")).when(
            unparseable,
            F.concat(
                F.lit(f"required {column.type.value} {column.name}: cannot parse '"),
                F.col(column.name),
                F.lit("'"),
            ),
        )
        reason, detail = F.coalesce(reason, new_reason), F.when(reason.isNull(), new_detail).otherwise(detail)
    return df.withColumn("_reason", reason).withColumn("_detail", detail)


# ---------------------------------------------------------------- extract (streaming, no Spark)


@dataclass
class Staged:
    """One file's records in its staging folder, and what reading and counting found."""

    sound: str  # Parquet folder: records the reader found sound (Spark still checks required values)
    held: str  # Parquet folder: records the reader quarantined
    held_rows: int  # rows in ``held`` by its Parquet footer
    read: ReadResult
    counted: int  # records by the independent count of the raw bytes


def stage_file(settings: Settings, source: Source, dataset: Dataset, raw_path: str, staging: str) -> Staged:
    """Read the raw file into Parquet under ``staging`` (replacing any earlier attempt) and count it.

    Raises :class:`FileRefused` for a file over a limit or an unreadable workbook (the staging
    folder is then removed).
    """
    import pyarrow.parquet as pq

    from jobs.bronze.readers import staging_schema

    storage.delete_tree(settings, staging)
    extract = LakeExtract(settings, raw_path)
    schema = staging_schema(dataset)
    sound, held = f"{staging}/sound", f"{staging}/held"
    try:
        with (
            storage.open_output(settings, f"{sound}/part-00000.parquet") as sound_out,
            storage.open_output(settings, f"{held}/part-00000.parquet") as held_out,
        ):
            sound_writer = pq.ParquetWriter(sound_out, schema, compression="snappy")
            held_writer = pq.ParquetWriter(held_out, schema, compression="snappy")
            try:
                result = read_extract(
                    extract, source, dataset, sound_writer.write_batch, held_writer.write_batch
                )
            finally:
                sound_writer.close()
                held_writer.close()
        counted = count_records(extract, source, result.encoding) if result.rows else 0
    except FileRefused:
        storage.delete_tree(settings, staging)
        raise
    with storage.open_input(settings, f"{held}/part-00000.parquet") as handle:
        held_rows = pq.ParquetFile(handle).metadata.num_rows
    return Staged(sound, held, held_rows, result, counted)


# ---------------------------------------------------------------- load (Spark, Delta)


#: Tables this process has created or checked, with the DDL they were checked against.
_ENSURED: set[tuple[str, str]] = set()


def _ensure_table(
    spark: SparkSession, settings: Settings, path: str, ddl: str, partition_by: str | None = None
) -> None:
    """Create the table if it is missing; add columns a later version of ``ddl`` has (once a process)."""
    from delta.tables import DeltaTable

    # Checked once a process; later only that its first commit is still there (a file check).
    if (path, ddl) in _ENSURED and storage.exists(settings, f"{path}/_delta_log/{0:020d}.json"):
        return
    schema = spark.createDataFrame([], ddl).schema
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(partition_by)
    builder.execute()
    present = set(spark.read.format("delta").load(path).columns)
    missing = [f for f in schema.fields if f.name not in present]
    if missing:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    _ENSURED.add((path, ddl))


def _append_once(df: DataFrame, path: str, app_id: str) -> None:
    delta.append_once(df, path, app_id, TXN_VERSION)


def load_file(source_id: str, file_hash: str, settings: Settings) -> dict[str, Any]:
    """Load one landed file into bronze; return its accounting. Safe to call again at any time.

    Holds the writer leases of the three tables it appends to (govlake.lake.writers): the sources
    of one dataset, and every source for the ingest log and quarantine, load one file at a time.
    """
    from govlake.lake.writers import writing

    registry = load_registry(settings.registry_path)
    dataset = registry.dataset_of(registry.source(source_id))
    tables = (bronze_id(dataset.name), INGEST_LOG, QUARANTINE)
    with writing(Lake(settings), tables, owner=f"ingest.{source_id} {file_hash[:12]}"):
        return _load_file(source_id, file_hash, settings)


def _load_file(source_id: str, file_hash: str, settings: Settings) -> dict[str, Any]:
    from pyspark.sql import functions as F

    lake = Lake(settings)
    registry = load_registry(settings.registry_path)
    source = registry.source(source_id)
    dataset = registry.dataset_of(source)
    meta = read_metadata(settings, source_id, file_hash)
    spark = lake.spark
    bronze_path, log_path, quarantine_path = (
        lake.path(bronze_id(dataset.name)),
        lake.path(INGEST_LOG),
        lake.path(QUARANTINE),
    )
    summary: dict[str, Any] = {
        "source_id": source_id,
        "file_hash": file_hash,
        "dataset": dataset.name,
        "original_name": meta.original_name,
    }

    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal started
        now = time.perf_counter()
        seconds[phase] = round(now - started, 3)
        started = now

    # The marker follows the log entry; a load that died in between simply runs again, its three
    # appends being idempotent (the log is not read: a Spark job per file saved).
    if storage.exists(settings, loaded_marker_path(settings, source_id, file_hash)):
        log.info("%s: %s (%s) was loaded before; nothing to do", source_id, meta.original_name, file_hash)
        storage.write_bytes(settings, loaded_marker_path(settings, source_id, file_hash), b"")
        return summary | {"status": "ALREADY_LOADED"}

    app_id = f"govlake-bronze:{source_id}:{file_hash}"
    staging = lake.location("bronze.staging", source_id=source_id, file_hash=file_hash)
    ingested_at = datetime.now(UTC)
    _ensure_table(spark, settings, bronze_path, bronze_ddl(dataset), partition_by="_source_id")
    _ensure_table(spark, settings, quarantine_path, QUARANTINE_DDL, partition_by="_dataset")
    _ensure_table(spark, settings, log_path, INGEST_LOG_DDL)
    lap("prepare")
    try:
        staged = stage_file(
            settings, source, dataset, raw_object_path(settings, source_id, file_hash), staging
        )
    except FileRefused as over:
        lap("read")
        read = ReadResult(None, file_reason=over.reason, file_detail=over.detail)
        rows_in = n_accepted = n_quarantined = 0
        status = "REJECTED"
    else:
        lap("read")
        read = staged.read
        lineage = [
            F.lit(source_id).alias("_source_id"),
            F.lit(source.prefecture).cast("string").alias("_prefecture"),
            F.lit(meta.batch_id).alias("_batch_id"),
            F.lit(file_hash).alias("_file_hash"),
            F.col("_row_number").cast("int").alias("_row_number"),
            F.lit(ingested_at).alias("_ingested_at"),
        ]
        sound = spark.read.parquet(staged.sound)
        held = spark.read.parquet(staged.held)
        if read.file_reason is not None:  # the whole file is held back: every record, one reason
            sound = sound.withColumn("_reason", F.lit(read.file_reason.value))
            sound = sound.withColumn("_detail", F.lit(read.file_detail))
            held = held.withColumn("_reason", F.lit(read.file_reason.value))
            held = held.withColumn("_detail", F.lit(read.file_detail))
        else:
            sound = flag_required_values(sound, dataset, source)
        totals = sound.agg(
            F.count_if(F.col("_reason").isNull()).alias("ok"), F.count("*").alias("all")
        ).first()
        n_accepted, n_flagged = int(totals["ok"]), int(totals["all"]) - int(totals["ok"])
        n_quarantined = n_flagged + staged.held_rows
        rows_in = staged.counted
        lap("check")
        if rows_in != n_accepted + n_quarantined:
            storage.delete_tree(settings, staging)
            raise AccountingError(
                f"{source_id} file {meta.original_name} ({file_hash}): the raw bytes hold {rows_in} records "
                f"but {n_accepted} were accepted + {n_quarantined} quarantined (the reader emitted "
                f"{read.rows}); nothing was written"
            )
        if read.file_reason is Reason.EMPTY_FILE or rows_in == 0:  # e.g. a header and no rows
            status = "EMPTY"
        elif read.file_reason is not None:
            status = "REJECTED"
        else:
            status = "LOADED_WITH_QUARANTINE" if n_quarantined else "LOADED"
        if n_quarantined:
            # Only the reader's own quarantine, a small file, is read whole; the sound records are
            # scanned again only when Spark flagged some of them.
            rejected = held.unionByName(sound.where(F.col("_reason").isNotNull())) if n_flagged else held
            quarantined = rejected.select(
                *lineage[:4],
                F.lit(dataset.name).alias("_dataset"),
                lineage[4],
                F.col("_raw_text").alias("raw_text"),
                F.col("_reason").alias("reason_code"),
                F.col("_detail").alias("reason_detail"),
                lineage[5],
                F.col("_raw_offset").alias("raw_offset"),
                F.col("_raw_length").alias("raw_length"),
            )
            _append_once(quarantined.select(*QUARANTINE_COLUMNS), quarantine_path, app_id)
            lap("quarantine")
        if n_accepted:
            accepted = sound.where(F.col("_reason").isNull()).select(
                *dataset.column_names, F.col("_extra"), *lineage
            )
            _append_once(accepted, bronze_path, app_id)
            lap("bronze")

    entry = {
        "source_id": source_id,
        "dataset": dataset.name,
        "prefecture": source.prefecture,
        "file_hash": file_hash,
        "original_name": meta.original_name,
        "batch_id": meta.batch_id,
        "size_bytes": meta.size_bytes,
        "encoding_declared": source.encoding,
        "encoding_used": read.encoding,
        "rows_in": rows_in,
        "rows_accepted": n_accepted,
        "rows_quarantined": n_quarantined,
        "status": status,
        "file_reason": read.file_reason.value if read.file_reason else None,
        "file_detail": read.file_detail,
        "drift_columns": read.drift_columns[:MAX_DRIFT_LOGGED],
        "loaded_at": ingested_at,
    }
    # The log entry is written last: it is what marks the file as loaded.
    _append_once(spark.createDataFrame([entry], INGEST_LOG_DDL), log_path, app_id)
    storage.write_bytes(settings, loaded_marker_path(settings, source_id, file_hash), b"")
    storage.delete_tree(settings, staging)
    lap("log")

    if read.drift_columns:
        log.warning(
            "%s: schema drift in %s: %d unexpected column(s) %s kept in _extra",
            source_id,
            meta.original_name,
            len(read.drift_columns),
            read.drift_columns[:20],
        )
    if read.file_reason is not None:
        log.warning("%s: %s %s: %s", source_id, meta.original_name, status, read.file_detail)
        if read.file_reason in LIMIT_REASONS or rows_in == 0:
            log.warning("%s: %s stays in raw at %s", source_id, meta.original_name, meta.raw_path)
    log.info(
        "%s: %s rows in=%d accepted=%d quarantined=%d (seconds: %s)",
        source_id,
        meta.original_name,
        rows_in,
        n_accepted,
        n_quarantined,
        seconds,
    )
    return (
        summary
        | {
            key: entry[key]
            for key in (
                "rows_in",
                "rows_accepted",
                "rows_quarantined",
                "status",
                "file_reason",
                "drift_columns",
            )
        }
        | {"seconds": seconds}
    )
