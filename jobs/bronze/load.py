"""Load one raw extract into its dataset's bronze Delta table: extract -> transform -> validate -> load.

For every file: rows in = rows accepted (bronze) + rows quarantined (with a reason), checked before
anything is written and recorded in the ingest log. Each of the three writes is an idempotent
Delta append (``txnAppId`` = the file, ``txnVersion`` = 1), so a retried or killed load never
duplicates rows and a re-run completes whatever the previous attempt did not.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.config import Settings
from govlake.lake import Lake, bronze_id, delta
from govlake.registry import ColumnType, Dataset, Source, load_registry
from jobs.bronze.readers import ParsedFile, Reason, parse_extract
from jobs.raw.land import loaded_marker_path, raw_object_path, read_metadata

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

LINEAGE_COLUMNS = ("_source_id", "_prefecture", "_batch_id", "_file_hash", "_row_number", "_ingested_at")
INGEST_LOG = "bronze._ingest_log"
QUARANTINE = "quarantine.bronze_rows"
TXN_VERSION = 1  # a file is written once; its txnAppId says which file


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
    "_row_number int, raw_text string, reason_code string, reason_detail string, _ingested_at timestamp"
)
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


# ---------------------------------------------------------------- extract / load (I/O)


def _rows_frame(spark: SparkSession, parsed: ParsedFile, dataset: Dataset) -> DataFrame:
    """Every parsed row as one DataFrame: canonical strings, drift as JSON, reader's reason."""
    import pandas as pd

    names = list(dataset.column_names)
    records = {name: [r.fields.get(name) for r in parsed.rows] for name in names}
    records |= {
        "_extra_json": [json.dumps(r.extra, ensure_ascii=False) if r.extra else None for r in parsed.rows],
        "_row_number": [r.row_number for r in parsed.rows],
        "_raw_text": [r.raw_text for r in parsed.rows],
        "_reason": [r.reason.value if r.reason else None for r in parsed.rows],
        "_detail": [r.detail for r in parsed.rows],
    }
    schema = ", ".join(
        [
            *(f"`{n}` string" for n in names),
            "_extra_json string",
            "_row_number int",
            "_raw_text string",
            "_reason string",
            "_detail string",
        ]
    )
    return spark.createDataFrame(pd.DataFrame(records, dtype=object), schema)


def _ensure_table(spark: SparkSession, path: str, ddl: str, partition_by: str | None = None) -> None:
    from delta.tables import DeltaTable

    builder = (
        DeltaTable.createIfNotExists(spark).location(path).addColumns(spark.createDataFrame([], ddl).schema)
    )
    if partition_by:
        builder = builder.partitionedBy(partition_by)
    builder.execute()


def _append_once(df: DataFrame, path: str, app_id: str) -> None:
    delta.append_once(df, path, app_id, TXN_VERSION)


def already_logged(spark: SparkSession, settings: Settings, source_id: str, file_hash: str) -> bool:
    from pyspark.sql import functions as F

    log_path = Lake(settings, spark).path(INGEST_LOG)
    if not storage.list_files(settings, f"{log_path}/_delta_log"):
        return False
    rows = (
        spark.read.format("delta")
        .load(log_path)
        .where((F.col("source_id") == source_id) & (F.col("file_hash") == file_hash))
    )
    return not rows.isEmpty()


def load_file(source_id: str, file_hash: str, settings: Settings) -> dict[str, Any]:
    """Load one landed file into bronze; return its accounting. Safe to call again at any time."""
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

    if already_logged(spark, settings, source_id, file_hash):
        log.info("%s: %s (%s) was loaded before; nothing to do", source_id, meta.original_name, file_hash)
        storage.write_bytes(settings, loaded_marker_path(settings, source_id, file_hash), b"")
        return summary | {"status": "ALREADY_LOADED"}

    parsed = parse_extract(
        storage.read_bytes(settings, raw_object_path(settings, source_id, file_hash)), source, dataset
    )
    ingested_at = datetime.now(UTC)
    lineage = [
        F.lit(source_id).alias("_source_id"),
        F.lit(source.prefecture).cast("string").alias("_prefecture"),
        F.lit(meta.batch_id).alias("_batch_id"),
        F.lit(file_hash).alias("_file_hash"),
        F.col("_row_number"),
        F.lit(ingested_at).alias("_ingested_at"),
    ]
    rows = flag_required_values(_rows_frame(spark, parsed, dataset), dataset, source).cache()
    try:
        accepted = rows.where(F.col("_reason").isNull()).select(
            *dataset.column_names, F.from_json("_extra_json", "map<string,string>").alias("_extra"), *lineage
        )
        quarantined = rows.where(F.col("_reason").isNotNull()).select(
            *lineage[:4],
            F.lit(dataset.name).alias("_dataset"),
            F.col("_row_number"),
            F.col("_raw_text").alias("raw_text"),
            F.col("_reason").alias("reason_code"),
            F.col("_detail").alias("reason_detail"),
            lineage[5],
        )
        rows_in, n_accepted, n_quarantined = len(parsed.rows), accepted.count(), quarantined.count()
        if rows_in != n_accepted + n_quarantined:
            raise AccountingError(
                f"{source_id} file {meta.original_name} ({file_hash}): {rows_in} rows in but "
                f"{n_accepted} accepted + {n_quarantined} quarantined; nothing was written"
            )
        if parsed.file_reason is Reason.EMPTY_FILE or rows_in == 0:  # e.g. a header and no rows
            status = "EMPTY"
        elif parsed.file_reason is not None:
            status = "REJECTED"
        else:
            status = "LOADED_WITH_QUARANTINE" if n_quarantined else "LOADED"

        app_id = f"govlake-bronze:{source_id}:{file_hash}"
        _ensure_table(spark, bronze_path, bronze_ddl(dataset), partition_by="_source_id")
        _ensure_table(spark, quarantine_path, QUARANTINE_DDL, partition_by="_dataset")
        _ensure_table(spark, log_path, INGEST_LOG_DDL)
        if n_quarantined:
            _append_once(
                quarantined.select(*spark.read.format("delta").load(quarantine_path).columns),
                quarantine_path,
                app_id,
            )
        if n_accepted:
            _append_once(accepted, bronze_path, app_id)
    finally:
        rows.unpersist()

    entry = {
        "source_id": source_id,
        "dataset": dataset.name,
        "prefecture": source.prefecture,
        "file_hash": file_hash,
        "original_name": meta.original_name,
        "batch_id": meta.batch_id,
        "size_bytes": meta.size_bytes,
        "encoding_declared": source.encoding,
        "encoding_used": parsed.encoding,
        "rows_in": rows_in,
        "rows_accepted": n_accepted,
        "rows_quarantined": n_quarantined,
        "status": status,
        "file_reason": parsed.file_reason.value if parsed.file_reason else None,
        "file_detail": parsed.file_detail,
        "drift_columns": parsed.drift_columns,
        "loaded_at": ingested_at,
    }
    # The log entry is written last: it is what marks the file as loaded.
    _append_once(spark.createDataFrame([entry], INGEST_LOG_DDL), log_path, app_id)
    storage.write_bytes(settings, loaded_marker_path(settings, source_id, file_hash), b"")

    if parsed.drift_columns:
        log.warning(
            "%s: schema drift in %s: unexpected column(s) %s kept in _extra",
            source_id,
            meta.original_name,
            parsed.drift_columns,
        )
    if parsed.file_reason is not None:
        log.warning("%s: %s %s: %s", source_id, meta.original_name, status, parsed.file_detail)
    log.info(
        "%s: %s rows in=%d accepted=%d quarantined=%d",
        source_id,
        meta.original_name,
        rows_in,
        n_accepted,
        n_quarantined,
    )
    return summary | {
        key: entry[key]
        for key in ("rows_in", "rows_accepted", "rows_quarantined", "status", "file_reason", "drift_columns")
    }
