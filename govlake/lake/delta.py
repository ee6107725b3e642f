"""Delta Lake operations every zone needs, written once: exists, versions, time travel, appends.

Spark is imported lazily: callers that only plan paths (DAG parsing, the CLI's help) stay light.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from govlake.config import Settings

#: Commit conflicts of concurrent first writers that a plain append may retry.
_RETRYABLE = ("Concurrent", "ProtocolChanged", "MetadataChanged", "FileAlreadyExists")


def is_delta_table(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, path))


def latest_version(spark: SparkSession, path: str) -> int | None:
    """The newest committed version of the Delta table at ``path``; None when there is no table."""
    from delta.tables import DeltaTable

    if not is_delta_table(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


_COMMIT_FILE = re.compile(r"/_delta_log/(\d{20})\.json$")


def newest_commit(settings: Settings, path: str) -> tuple[int, int] | None:
    """(version, size of its commit file) of the newest commit of the table at ``path``, from its
    log's file listing (None: no table).

    One listing of ``_delta_log`` and no Spark job: cheap enough to ask before every read of a
    small table that is cached while it does not change (the size tells a table deleted and
    made again at the same version apart).
    """
    from govlake import storage

    commits = [
        (int(m.group(1)), f.size)
        for f in storage.list_files(settings, f"{path}/_delta_log")
        if (m := _COMMIT_FILE.search(f.path))
    ]
    return max(commits) if commits else None


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """Version ``version`` of the Delta table at ``path`` (time travel)."""
    return spark.read.format("delta").option("versionAsOf", int(version)).load(path)


def read_latest(spark: SparkSession, path: str) -> DataFrame | None:
    """The newest version, or None when there is no table yet. Only writers and gates read this."""
    return spark.read.format("delta").load(path) if is_delta_table(spark, path) else None


def append(df: DataFrame, path: str, *, attempts: int = 5, merge_schema: bool = False) -> None:
    """Append ``df``, retrying the commit races of concurrent first writers."""
    for attempt in range(1, attempts + 1):
        try:
            writer = df.write.format("delta").mode("append")
            if merge_schema:
                writer = writer.option("mergeSchema", "true")
            writer.save(path)
            return
        except Exception as exc:  # Delta raises JVM-side exception classes: match on the text
            text = f"{type(exc).__name__}: {exc}"
            if not any(marker in text for marker in _RETRYABLE) or attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def append_once(df: DataFrame, path: str, app_id: str, version: int = 1) -> None:
    """An idempotent append: Delta skips it when ``(app_id, version)`` was committed before.

    ``txnAppId`` names the unit of work (a file, a build run) and ``txnVersion`` its attempt of
    record, so a retried or killed writer never adds the same rows twice.
    """
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", int(version))
        .save(path)
    )
