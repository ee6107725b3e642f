"""Load raw extracts into their datasets' bronze Delta tables: extract -> transform -> validate -> load.

extract    the streaming reader (:mod:`jobs.bronze.readers`) turns the raw bytes into Arrow batches
           written to a Parquet staging folder of the file, a chunk at a time: the driver never
           holds the file;
transform  Spark reads the staging folders (one read per dataset) and flags records whose required
           values are empty or unparseable (built-in functions only);
validate   the accounting check: the records a separate count of the raw bytes finds
           (:mod:`jobs.bronze.counting`, not the reader) must equal the records staged, by the
           Parquet footers; then Spark's accepted + flagged per file (one counting job) must equal
           the sound records staged. Both before anything is written;
load       quarantine and bronze side by side, then the ingest log, each an idempotent Delta
           append (``txnAppId`` = the batch, ``txnVersion`` = 1), so a retried or killed load never
           duplicates rows and a re-run completes whatever the previous attempt did not. The log
           entries, written last, are what marks the files as loaded.

Files load in batches (:class:`Batch`): every file of a batch is staged and checked, then each
table takes one commit for the whole batch. A Delta commit costs seconds whatever its size, and
three per file made ingestion several times its I/O floor. ``govlake ingest`` loads everything
waiting as one batch; an ingestion DAG, the files of its source.

A file over one of its source's ``limits`` is REJECTED unread: no rows, a log entry naming the
limit, and its bytes stay in raw.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake import storage
from govlake.config import Settings
from govlake.lake import Lake, bronze_id, delta
from govlake.registry import ColumnType, Dataset, Registry, Source, load_registry
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
    """Rows in != rows accepted + rows quarantined: something would be lost. Raised after the batch's
    other files are loaded; nothing of the file was written and it stays in raw, unloaded."""


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


def flag_required_values(df: DataFrame, dataset: Dataset, date_formats: tuple[str, ...]) -> DataFrame:
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
        unparseable = ~_parses_as(column.name, column.type, date_formats)
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
    sound_rows: int  # rows in ``sound`` by its Parquet footer
    held_rows: int  # rows in ``held`` by its Parquet footer
    read: ReadResult
    counted: int  # records by the independent count of the raw bytes


#: The file's lineage, stamped on each of its staged records: constant columns, which Parquet's
#: dictionary encoding stores about once a row group. Spark then reads them rather than working out
#: per record which file it came from (a lookup by ``_metadata.file_path`` cost ~9 s of bronze at
#: 1M persons) or planning one read per file.
FILE_LINEAGE_COLUMNS = ("_source_id", "_dataset", "_prefecture", "_batch_id", "_file_hash")


def stamped_schema(base: Any) -> Any:  # pa.Schema -> pa.Schema
    """A staging schema with the file's lineage columns after its own."""
    import pyarrow as pa

    return pa.schema([*base, *(pa.field(name, pa.string()) for name in FILE_LINEAGE_COLUMNS)])


def _stamper(lineage: Mapping[str, str | None], schema: Any, sink: Any) -> Any:
    import pyarrow as pa

    def stamp(batch: Any) -> None:
        rows = batch.num_rows
        constants = [pa.repeat(pa.scalar(lineage[name], pa.string()), rows) for name in FILE_LINEAGE_COLUMNS]
        sink(pa.RecordBatch.from_arrays([*batch.columns, *constants], schema=schema))

    return stamp


def stage_file(
    settings: Settings,
    source: Source,
    dataset: Dataset,
    raw_path: str,
    staging: str,
    lineage: Mapping[str, str | None],
) -> Staged:
    """Read the raw file into Parquet under ``staging`` (replacing any earlier attempt) and count it.

    Every record carries ``lineage`` (:data:`FILE_LINEAGE_COLUMNS`).

    Raises :class:`FileRefused` for a file over a limit or an unreadable workbook (the staging
    folder is then removed).
    """
    import pyarrow.parquet as pq

    from jobs.bronze.readers import staging_schema

    storage.delete_tree(settings, staging)
    extract = LakeExtract(settings, raw_path)
    schema = stamped_schema(staging_schema(dataset))
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
                    extract,
                    source,
                    dataset,
                    _stamper(lineage, schema, sound_writer.write_batch),
                    _stamper(lineage, schema, held_writer.write_batch),
                )
            finally:
                sound_writer.close()
                held_writer.close()
        counted = count_records(extract, source, result.encoding) if result.rows else 0
    except FileRefused:
        storage.delete_tree(settings, staging)
        raise
    sound_rows, held_rows = (_footer_rows(settings, f"{part}/part-00000.parquet") for part in (sound, held))
    return Staged(sound, held, sound_rows, held_rows, result, counted)


def _footer_rows(settings: Settings, path: str) -> int:
    import pyarrow.parquet as pq

    with storage.open_input(settings, path) as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


# ---------------------------------------------------------------- load (Spark, Delta)


#: Tables this process has created or checked, with the DDL they were checked against.
_ENSURED: set[tuple[str, str]] = set()


#: Columns whose min/max Delta keeps per data file (``delta.dataSkippingStatsColumns``): the ones
#: bronze is read by (file, batch, load time). Stats on every column cost about a third of the
#: bronze append (measured at 1M persons: 14 s of 49 s) and no reader filters bronze on them.
BRONZE_STATS_COLUMNS = "_file_hash,_batch_id,_row_number,_ingested_at"
QUARANTINE_STATS_COLUMNS = "_source_id,_file_hash,_row_number,reason_code"


def _ensure_table(
    spark: SparkSession,
    settings: Settings,
    path: str,
    ddl: str,
    partition_by: str | None = None,
    stats_columns: str | None = None,
) -> None:
    """Create the table if it is missing; add columns a later version of ``ddl`` has, and set its
    stats columns when they differ (checked once a process)."""
    from delta.tables import DeltaTable

    # Checked once a process; later only that its first commit is still there (a file check).
    exists = storage.exists(settings, f"{path}/_delta_log/{0:020d}.json")
    if exists and (path, ddl) in _ENSURED:
        return
    schema = spark.createDataFrame([], ddl).schema
    if not exists:
        builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
        if partition_by:
            builder = builder.partitionedBy(partition_by)
        if stats_columns:
            builder = builder.property("delta.dataSkippingStatsColumns", stats_columns)
        builder.execute()
        # Made just now from this DDL (a loader racing to create it runs the same registry).
        _ENSURED.add((path, ddl))
        return
    table = DeltaTable.forPath(spark, path)
    present = set(table.toDF().columns)
    missing = [f for f in schema.fields if f.name not in present]
    if missing:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    if stats_columns:
        properties = table.detail().first()["properties"] or {}
        if properties.get("delta.dataSkippingStatsColumns") != stats_columns:  # a table made before
            spark.sql(
                f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES "
                f"('delta.dataSkippingStatsColumns' = '{stats_columns}')"
            )
    _ENSURED.add((path, ddl))


def _append_once(df: DataFrame, path: str, app_id: str) -> None:
    delta.append_once(df, path, app_id, TXN_VERSION)


# ---------------------------------------------------------------- batches

#: A batch's bounds. Each table takes one Delta commit per batch (a commit's fixed cost, seconds,
#: dwarfs a small file's rows), but every file of a batch is staged before the first commit.
MAX_BATCH_FILES = 200
MAX_BATCH_BYTES = 8 * 2**30


@dataclass(frozen=True)
class Batch:
    """Raw files loaded together: one quarantine, one ingest-log and one append per bronze table.

    Its id is a digest of its files. The plan is stored (``bronze.batches`` location) before the
    first commit and deleted after the last, so a re-run after a crash loads the same files under
    the same ``txnAppId`` and Delta skips whatever had committed, even when new files have arrived.
    """

    batch_id: str
    files: tuple[tuple[str, str], ...]  # (source_id, file_hash), sorted

    @classmethod
    def of(cls, files: Iterable[tuple[str, str]]) -> Batch:
        ordered = tuple(sorted(set(files)))
        digest = hashlib.sha256("\n".join(f"{s}:{h}" for s, h in ordered).encode()).hexdigest()
        return cls(digest[:24], ordered)

    @property
    def app_id(self) -> str:
        return f"govlake-bronze-batch:{self.batch_id}"

    def as_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "files": [list(f) for f in self.files]}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Batch:
        return cls(str(value["batch_id"]), tuple((str(s), str(h)) for s, h in value["files"]))


def _plan_path(settings: Settings, batch_id: str) -> str:
    return f"{Lake(settings).location('bronze.batches')}/{batch_id}.json"


def _open_plans(settings: Settings) -> list[Batch]:
    """Batches planned and not finished (a crash or a failure between plan and last commit)."""
    plans = []
    for stored in storage.list_files(settings, Lake(settings).location("bronze.batches")):
        if stored.path.endswith(".json"):
            plans.append(Batch.from_json(json.loads(storage.read_bytes(settings, stored.path))))
    return plans


def _is_loaded(settings: Settings, source_id: str, file_hash: str) -> bool:
    return storage.exists(settings, loaded_marker_path(settings, source_id, file_hash))


def plan_batches(settings: Settings, files: Iterable[tuple[str, str]]) -> list[Batch]:
    """The batches that load ``files`` (source_id, file_hash), stored before anything is written.

    Files already loaded are left out. An unfinished batch holding any of the files is taken as it
    was planned, other files and all; the rest are cut into new batches of at most
    ``MAX_BATCH_FILES`` files and ``MAX_BATCH_BYTES`` raw bytes. Planning twice gives the same
    batches.
    """
    pending = {f for f in files if not _is_loaded(settings, *f)}
    batches = [plan for plan in _open_plans(settings) if pending & set(plan.files)]
    for plan in batches:
        pending -= set(plan.files)
    chunk: list[tuple[str, str]] = []
    chunk_bytes = 0
    for source_id, file_hash in sorted(pending):
        size = read_metadata(settings, source_id, file_hash).size_bytes
        if chunk and (len(chunk) >= MAX_BATCH_FILES or chunk_bytes + size > MAX_BATCH_BYTES):
            batches.append(Batch.of(chunk))
            chunk, chunk_bytes = [], 0
        chunk.append((source_id, file_hash))
        chunk_bytes += size
    if chunk:
        batches.append(Batch.of(chunk))
    for batch in batches:
        path = _plan_path(settings, batch.batch_id)
        if not storage.exists(settings, path):
            storage.write_bytes(settings, path, json.dumps(batch.as_json()).encode())
    return batches


def load_files(files: Iterable[tuple[str, str]], settings: Settings) -> list[dict[str, Any]]:
    """Load landed files (source_id, file_hash) into bronze, in batches; the accounting of each file.

    Safe to call again at any time. A file loaded before is reported ``ALREADY_LOADED``.
    """
    files = list(dict.fromkeys(files))
    summaries: list[dict[str, Any]] = []
    batched: set[tuple[str, str]] = set()
    for batch in plan_batches(settings, files):
        summaries += load_batch(batch, settings)
        batched |= set(batch.files)
    for source_id, file_hash in files:
        if (source_id, file_hash) not in batched:
            summaries.append(_already_loaded(settings, source_id, file_hash))
    return summaries


def load_file(source_id: str, file_hash: str, settings: Settings) -> dict[str, Any]:
    """Load one landed file (a batch of one); its accounting."""
    return next(s for s in load_files([(source_id, file_hash)], settings) if s["file_hash"] == file_hash)


def _already_loaded(settings: Settings, source_id: str, file_hash: str) -> dict[str, Any]:
    meta = read_metadata(settings, source_id, file_hash)
    log.info("%s: %s (%s) was loaded before; nothing to do", source_id, meta.original_name, file_hash)
    return {
        "source_id": source_id,
        "file_hash": file_hash,
        "original_name": meta.original_name,
        "status": "ALREADY_LOADED",
    }


def load_batch(batch: Batch, settings: Settings) -> list[dict[str, Any]]:
    """Load one planned batch; the accounting of each of its files. Safe to call again at any time.

    Holds the writer leases of every table it appends to (govlake.lake.writers): each bronze table
    of its files' datasets, the ingest log and quarantine.
    """
    from govlake.lake.writers import writing

    registry = load_registry(settings.registry_path)
    datasets = {registry.dataset_of(registry.source(source_id)).name for source_id, _ in batch.files}
    tables = (*(bronze_id(d) for d in datasets), INGEST_LOG, QUARANTINE)
    owner = f"ingest batch {batch.batch_id[:12]} ({len(batch.files)} file(s))"
    with writing(Lake(settings), tables, owner=owner):
        return _load_batch(batch, settings, registry)


@dataclass
class _File:
    """One file of a batch while it loads."""

    source: Source
    dataset: Dataset
    meta: Any  # jobs.raw.land.LandedFile
    file_hash: str
    staged: Staged | None = None
    refused: FileRefused | None = None
    read_seconds: float = 0.0
    rows_in: int = 0
    accepted: int = 0
    flagged: int = 0  # sound records Spark found wanting (all of them when the file is held back)

    @property
    def stage(self) -> Staged:
        """The staging of a file that was read (not refused)."""
        assert self.staged is not None, f"{self.source.id} file {self.file_hash} was not staged"
        return self.staged

    @property
    def key(self) -> tuple[str, str]:
        return self.source.id, self.file_hash

    @property
    def lineage(self) -> dict[str, str | None]:
        """What :func:`stage_file` stamps on each of its records."""
        return {
            "_source_id": self.source.id,
            "_dataset": self.dataset.name,
            "_prefecture": None if self.source.prefecture is None else str(self.source.prefecture),
            "_batch_id": str(self.meta.batch_id),
            "_file_hash": self.file_hash,
        }

    @property
    def held_back(self) -> bool:
        """The reader held back the whole file: every record is quarantined with one reason."""
        return self.staged is not None and self.staged.read.file_reason is not None

    @property
    def quarantined(self) -> int:
        return self.flagged + (self.stage.held_rows if self.staged else 0)

    @property
    def read(self) -> ReadResult:
        if self.staged is not None:
            return self.staged.read
        assert self.refused is not None
        return ReadResult(None, file_reason=self.refused.reason, file_detail=self.refused.detail)

    @property
    def status(self) -> str:
        read = self.read
        if self.refused is not None:
            return "REJECTED"
        if read.file_reason is Reason.EMPTY_FILE or self.rows_in == 0:  # e.g. a header and no rows
            return "EMPTY"
        if read.file_reason is not None:
            return "REJECTED"
        return "LOADED_WITH_QUARANTINE" if self.quarantined else "LOADED"

    @property
    def balanced(self) -> bool:
        """The independent count of the raw bytes equals the records staged (Parquet footers)."""
        return self.stage.counted == self.stage.sound_rows + self.stage.held_rows


def _read_staged(
    spark: SparkSession, files: list[_File], folder: str, columns: Any, ingested_at: datetime
) -> DataFrame:
    """One read of the ``folder`` ("sound" or "held") of every file, each record with its lineage.

    One read, not one per file: Spark lists and plans each read, 0.14-0.25 s per folder measured
    (39 small folders, schema given); reading all 39 at once took 0.9 s. The schema is given, so
    no footer is read to infer it.
    """
    from pyspark.sql import functions as F

    paths = [f.stage.sound if folder == "sound" else f.stage.held for f in files]
    frame = spark.read.schema(columns).parquet(*paths)
    return frame.withColumns(
        {"_row_number": F.col("_row_number").cast("int"), "_ingested_at": F.lit(ingested_at)}
    )


def _staging_struct(dataset: Dataset | None = None) -> Any:  # -> pyspark.sql.types.StructType
    """The staged Parquet's schema for Spark: a dataset's, or (None) the columns quarantine keeps,
    which every dataset's staging has."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from jobs.bronze.readers import STAGING_FATE_COLUMNS, staging_schema

    return from_arrow_schema(
        stamped_schema(STAGING_FATE_COLUMNS if dataset is None else staging_schema(dataset))
    )


def _sound_records(
    spark: SparkSession, files: list[_File], ingested_at: datetime
) -> list[tuple[Dataset, DataFrame]]:
    """The sound records of every file not held back, flagged by Spark: one read per dataset and
    date formats (the formats a required date is parsed with are the source's)."""
    groups: dict[tuple[str, tuple[str, ...]], list[_File]] = {}
    for file in files:
        if not file.held_back and file.stage.sound_rows:
            groups.setdefault((file.dataset.name, file.source.date_formats), []).append(file)
    frames = []
    for (_, date_formats), members in sorted(groups.items()):
        dataset = members[0].dataset
        sound = _read_staged(spark, members, "sound", _staging_struct(dataset), ingested_at)
        frames.append((dataset, flag_required_values(sound, dataset, date_formats)))
    return frames


def _union(frames: list[DataFrame]) -> DataFrame:
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


def _as_quarantine(frame: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return frame.select(
        "_source_id",
        "_dataset",
        "_prefecture",
        "_batch_id",
        "_file_hash",
        "_row_number",
        F.col("_raw_text").alias("raw_text"),
        F.col("_reason").alias("reason_code"),
        F.col("_detail").alias("reason_detail"),
        "_ingested_at",
        F.col("_raw_offset").alias("raw_offset"),
        F.col("_raw_length").alias("raw_length"),
    )


def _count(sound: list[tuple[Dataset, DataFrame]]) -> dict[tuple[str, str], tuple[int, int]]:
    """Accepted and flagged records per file (source_id, file_hash), in one Spark job for the batch."""
    from pyspark.sql import functions as F

    if not sound:
        return {}
    key = ("_source_id", "_file_hash")
    frames = [frame.select(*key, F.col("_reason").isNull().alias("ok")) for _, frame in sound]
    counted = _union(frames).groupBy(*key).agg(F.count_if("ok").alias("ok"), F.count("*").alias("all"))
    return {(r[key[0]], r[key[1]]): (int(r["ok"]), int(r["all"]) - int(r["ok"])) for r in counted.collect()}


def _load_batch(batch: Batch, settings: Settings, registry: Registry) -> list[dict[str, Any]]:
    lake = Lake(settings)
    spark = lake.spark
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal started
        now = time.perf_counter()
        seconds[phase] = round(seconds.get(phase, 0.0) + now - started, 3)
        started = now

    summaries: list[dict[str, Any]] = []
    files: list[_File] = []
    # A marker follows its log entry; a batch that died in between simply runs again, its appends
    # being idempotent (the log is not read: a Spark job saved).
    for source_id, file_hash in batch.files:
        if _is_loaded(settings, source_id, file_hash):
            summaries.append(_already_loaded(settings, source_id, file_hash))
            continue
        source = registry.source(source_id)
        meta = read_metadata(settings, source_id, file_hash)
        files.append(_File(source, registry.dataset_of(source), meta, file_hash))

    ingested_at = datetime.now(UTC)
    # Staging is Python and the tables' checks are Spark's: the JVM checks while the files are read.
    with ThreadPoolExecutor(1, thread_name_prefix="ensure-tables") as background:
        prepared = background.submit(_prepare_tables, lake, files)
        _stage_files(settings, lake, files)
        lap("read")
        prepared.result()
        lap("prepare")  # what the checks took beyond the reading

    # The accounting check, before anything is written. The records the raw bytes hold (counted apart
    # from the reader) against the records staged, by the Parquet footers; then what Spark counts
    # accepted + flagged against the sound records staged.
    for file in files:
        if file.staged is not None:
            file.rows_in = file.stage.counted
    wrong = [f for f in files if f.staged is not None and not f.balanced]
    staged = [f for f in files if f.staged is not None and f not in wrong]
    sound = _sound_records(spark, staged, ingested_at)
    lap("open")  # Spark lists the staged folders it reads
    counts = _count(sound)
    for file in staged:
        if file.held_back:
            file.flagged = file.stage.sound_rows
        else:
            file.accepted, file.flagged = counts.get(file.key, (0, 0))
    miscounted = [f for f in staged if f.accepted + f.flagged != f.stage.sound_rows]
    if miscounted:  # left out of the reads the appends make
        staged = [f for f in staged if f not in miscounted]
        sound = _sound_records(spark, staged, ingested_at)
    wrong += miscounted
    for file in wrong:  # nothing of such a file is written: it stays unloaded, in raw
        storage.delete_tree(settings, _staging(lake, file))
    files = [f for f in files if f not in wrong]
    lap("check")

    appends: list[tuple[DataFrame, str, int]] = []  # (rows, table path, rows staged: the order)
    quarantined = [f for f in staged if f.quarantined]
    if quarantined:
        from pyspark.sql import functions as F

        parts = []
        held = [f for f in quarantined if f.stage.held_rows and not f.held_back]
        if held:
            parts.append(_read_staged(spark, held, "held", _staging_struct(), ingested_at))
        for file in (f for f in quarantined if f.held_back):  # rare: each takes its file's reason
            read = file.read
            reason = {
                "_reason": F.lit(read.file_reason and read.file_reason.value),
                "_detail": F.lit(read.file_detail),
            }
            for folder, rows in (("sound", file.stage.sound_rows), ("held", file.stage.held_rows)):
                if rows:
                    parts.append(
                        _read_staged(spark, [file], folder, _staging_struct(), ingested_at).withColumns(
                            reason
                        )
                    )
        flagged = {f.dataset.name for f in quarantined if f.flagged and not f.held_back}
        parts += [frame.where(F.col("_reason").isNotNull()) for d, frame in sound if d.name in flagged]
        rows = _union([_as_quarantine(p) for p in parts]).select(*QUARANTINE_COLUMNS)
        appends.append((rows, lake.path(QUARANTINE), sum(f.quarantined for f in quarantined)))
    for dataset in {f.dataset.name: f.dataset for f in staged if f.accepted}.values():
        accepted = _union([frame for d, frame in sound if d.name == dataset.name]).where("_reason IS NULL")
        columns = (*dataset.column_names, "_extra", *LINEAGE_COLUMNS)
        size = sum(f.accepted for f in staged if f.dataset.name == dataset.name)
        appends.append((accepted.select(*columns), lake.path(bronze_id(dataset.name)), size))
    _append_concurrently(appends, batch.app_id)
    lap("append")

    entries = [_log_entry(f, ingested_at) for f in files]
    if entries:
        # The log entries are written last: they are what marks the files as loaded.
        _append_once(spark.createDataFrame(entries, INGEST_LOG_DDL), lake.path(INGEST_LOG), batch.app_id)
    for file in files:
        storage.write_bytes(settings, loaded_marker_path(settings, file.source.id, file.file_hash), b"")
        if file.staged is not None:
            storage.delete_tree(settings, _staging(lake, file))
    storage.delete(settings, _plan_path(settings, batch.batch_id))
    lap("log")

    for file, entry in zip(files, entries, strict=True):
        _log_outcome(file, entry)
        summaries.append(_summary(file, entry, batch, seconds))
    log.info("ingest batch %s: %d file(s) in %s s", batch.batch_id[:12], len(batch.files), seconds)
    if wrong:
        raise AccountingError(
            "; ".join(_miscount(f) for f in wrong)
            + (f" (the batch's {len(files)} other file(s) were loaded)" if files else "")
        )
    return summaries


#: Appends of one batch that Spark runs at once. A table's append is one Spark job whose tasks are
#: its staged files (one per landed file), so a dataset sent as one large file keeps one core busy
#: while the others wait; jobs side by side fill them, and overlap each commit's fixed cost.
CONCURRENT_APPENDS = 3


def _append_concurrently(appends: list[tuple[DataFrame, str, int]], app_id: str) -> None:
    """Each (rows, path) appended once (:func:`_append_once`), as concurrent Spark jobs, the
    largest first (Spark schedules the tasks of jobs submitted earlier first). Every append is
    waited for; the first failure is raised then (each append is idempotent: a re-run of the
    batch completes the others)."""
    ordered = sorted(appends, key=lambda a: -a[2])
    with ThreadPoolExecutor(CONCURRENT_APPENDS, thread_name_prefix="append") as pool:
        futures = [pool.submit(_append_once, rows, path, app_id) for rows, path, _ in ordered]
    for future in futures:
        future.result()


def _miscount(file: _File) -> str:
    stage = file.stage
    where = f"{file.source.id} file {file.meta.original_name} ({file.file_hash})"
    if not file.balanced:
        return (
            f"{where}: the raw bytes hold {file.rows_in} records but the reader staged {stage.sound_rows} "
            f"sound + {stage.held_rows} quarantined (it reported {file.read.rows}); nothing of it was written"
        )
    return (
        f"{where}: {stage.sound_rows} sound records staged but Spark counted {file.accepted} accepted + "
        f"{file.flagged} flagged; nothing of it was written"
    )


def _prepare_tables(lake: Lake, files: list[_File]) -> None:
    """Create or check the tables the batch writes (bronze of each dataset, quarantine, the log)."""
    spark, settings = lake.spark, lake.settings
    for dataset in {f.dataset.name: f.dataset for f in files}.values():
        path = lake.path(bronze_id(dataset.name))
        _ensure_table(spark, settings, path, bronze_ddl(dataset), "_source_id", BRONZE_STATS_COLUMNS)
    if files:
        _ensure_table(
            spark, settings, lake.path(QUARANTINE), QUARANTINE_DDL, "_dataset", QUARANTINE_STATS_COLUMNS
        )
        _ensure_table(spark, settings, lake.path(INGEST_LOG), INGEST_LOG_DDL)


#: Worker processes stage a batch only when its bytes repay starting them: a spawned worker
#: imports pyarrow and the readers first (2.2 s for two, measured on 2 cores), and one core reads
#: 5-15 MB a second.
PARALLEL_STAGING_MIN_BYTES = 64 * 2**20


def _stage_files(settings: Settings, lake: Lake, files: list[_File]) -> None:
    """Stage every file: in worker processes (``settings.ingest_workers``, largest file first)
    when there are several and enough bytes, else one after the other in this process.

    The workers are spawned, so they import the main module: a script that loads must keep its
    work under ``if __name__ == "__main__":`` (the CLI, Airflow's task runner and pytest do)."""
    work = [
        (file, raw_object_path(settings, file.source.id, file.file_hash), _staging(lake, file))
        for file in files
    ]
    total_bytes = sum(int(file.meta.size_bytes) for file in files)
    workers = min(settings.ingest_workers, len(files))
    if workers <= 1 or total_bytes < PARALLEL_STAGING_MIN_BYTES:
        for file, raw_path, staging in work:
            file.staged, file.refused, file.read_seconds = _stage_timed(
                settings, file.source, file.dataset, raw_path, staging, file.lineage
            )
        return
    work.sort(key=lambda item: -int(item[0].meta.size_bytes))
    # spawn, not fork: this process holds the Py4J gateway's sockets and threads.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            pool.submit(
                _stage_timed, settings, file.source, file.dataset, raw_path, staging, file.lineage
            ): file
            for file, raw_path, staging in work
        }
        for future in as_completed(futures):
            file = futures[future]
            file.staged, file.refused, file.read_seconds = future.result()


def _stage_timed(*stage_args: Any) -> tuple[Staged | None, FileRefused | None, float]:
    """:func:`stage_file` of these arguments, its refusal and its seconds (a worker process's unit
    of work)."""
    started = time.perf_counter()
    staged, refused = None, None
    try:
        staged = stage_file(*stage_args)
    except FileRefused as over:
        refused = over
    return staged, refused, round(time.perf_counter() - started, 3)


def _staging(lake: Lake, file: _File) -> str:
    return lake.location("bronze.staging", source_id=file.source.id, file_hash=file.file_hash)


def _log_entry(file: _File, ingested_at: datetime) -> dict[str, Any]:
    read = file.read
    return {
        "source_id": file.source.id,
        "dataset": file.dataset.name,
        "prefecture": file.source.prefecture,
        "file_hash": file.file_hash,
        "original_name": file.meta.original_name,
        "batch_id": file.meta.batch_id,
        "size_bytes": file.meta.size_bytes,
        "encoding_declared": file.source.encoding,
        "encoding_used": read.encoding,
        "rows_in": file.rows_in,
        "rows_accepted": file.accepted,
        "rows_quarantined": file.quarantined,
        "status": file.status,
        "file_reason": read.file_reason.value if read.file_reason else None,
        "file_detail": read.file_detail,
        "drift_columns": read.drift_columns[:MAX_DRIFT_LOGGED],
        "loaded_at": ingested_at,
    }


def _log_outcome(file: _File, entry: Mapping[str, Any]) -> None:
    read, name, source_id = file.read, file.meta.original_name, file.source.id
    if read.drift_columns:
        log.warning(
            "%s: schema drift in %s: %d unexpected column(s) %s kept in _extra",
            source_id,
            name,
            len(read.drift_columns),
            read.drift_columns[:20],
        )
    if read.file_reason is not None:
        log.warning("%s: %s %s: %s", source_id, name, entry["status"], read.file_detail)
        if read.file_reason in LIMIT_REASONS or file.rows_in == 0:
            log.warning("%s: %s stays in raw at %s", source_id, name, file.meta.raw_path)
    log.info(
        "%s: %s rows in=%d accepted=%d quarantined=%d (read in %.2f s)",
        source_id,
        name,
        file.rows_in,
        file.accepted,
        file.quarantined,
        file.read_seconds,
    )


def _summary(
    file: _File, entry: Mapping[str, Any], batch: Batch, seconds: Mapping[str, float]
) -> dict[str, Any]:
    keys = ("rows_in", "rows_accepted", "rows_quarantined", "status", "file_reason", "drift_columns")
    return {
        "source_id": file.source.id,
        "file_hash": file.file_hash,
        "dataset": file.dataset.name,
        "original_name": file.meta.original_name,
        **{key: entry[key] for key in keys},
        "read_seconds": file.read_seconds,
        # The batch's phases, shared by its files: Spark and Delta work once per batch, not per file.
        "batch": {"id": batch.batch_id, "files": len(batch.files), "seconds": dict(seconds)},
    }
