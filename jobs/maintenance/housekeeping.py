"""Housekeeping of every Delta table the catalogue knows: retention settings, compaction, VACUUM.

The ``maintenance.lake`` step (weekly, and ``govlake maintain``). For each table, in one pass:

1. **Retention settings** (only when they differ, one metadata commit): the transaction log is
   kept :data:`LOG_RETENTION` (time travel to a published version needs its log entries), removed
   data files :data:`DELETED_FILE_RETENTION`, a checkpoint every :data:`CHECKPOINT_INTERVAL`
   commits (the one-row commits of the ingest log, quarantine, validations and publications make
   logs long; a reader replays at most that many JSON commits after the newest checkpoint).
2. **Compaction** (``OPTIMIZE``): many small files (one append per delivered file, one row per
   validation) become few. A compaction changes no row (``dataChange=false``).
3. **VACUUM** with a retention of at least :data:`MIN_VACUUM_RETENTION` and never less than what
   keeps the **published** version readable: when the version in force is older than the newest
   (a later build failed its gate), its files were tombstoned by the commit after it, so the
   retention grows to cover that commit.

Published tables: readers read the version in force, never the newest. When no commit after the
version in force changed a row (only settings, compactions and VACUUM, see
:data:`NO_DATA_CHANGE_OPERATIONS`), the newest version holds exactly the same rows, so it is
published in its place once VACUUM is done (suite ``maintenance``, summary ``same_data_as``: every
version it stands for). Steps that compare their recorded input versions with the ones in force
treat those as the same (``Publication.same_data_as``), so a weekly compaction rebuilds nothing
downstream. When a later build changed rows (its gate failed), nothing is republished: the newer
versions never passed a gate.

Every catalogue table is written by exactly one step; maintenance is the exception the graph
allows because it changes no row. It runs in the Spark pool (one slot by default), so it never
commits at the same time as a writer on the object store.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from govlake.lake import Lake, delta
from govlake.lake.context import StepContext
from govlake.lake.published import MAINTENANCE_SUITE, Publication
from govlake.lake.writers import writing
from jobs.gold.published_views import repoint_endpoint_views

log = logging.getLogger(__name__)

LOG_RETENTION = "interval 30 days"
DELETED_FILE_RETENTION = "interval 7 days"
CHECKPOINT_INTERVAL = 10
#: Delta operations that change no row: a version made only by these after the published one
#: holds the published data (VACUUM START/END are logged on stores that allow concurrent writes).
NO_DATA_CHANGE_OPERATIONS = frozenset({"OPTIMIZE", "SET TBLPROPERTIES", "VACUUM START", "VACUUM END"})
#: The least VACUUM retention: a week (Delta's own safety default; readers and retried tasks that
#: started before a compaction still find the files they planned to read).
MIN_VACUUM_RETENTION = timedelta(days=7)

TABLE_PROPERTIES = {
    "delta.logRetentionDuration": LOG_RETENTION,
    "delta.deletedFileRetentionDuration": DELETED_FILE_RETENTION,
    "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
}


def vacuum_retention(
    published_version: int | None,
    latest_version: int,
    commit_times: Mapping[int, datetime],
    now: datetime,
    floor: timedelta = MIN_VACUUM_RETENTION,
) -> timedelta:
    """The VACUUM retention that keeps the published version's files: at least ``floor``, and more
    when the commit after the published version (which tombstoned its files) is older than that."""
    if published_version is None or published_version >= latest_version:
        return floor
    tombstoned_at = commit_times[published_version + 1]
    return max(floor, now - tombstoned_at + timedelta(hours=1))


def maintain_lake(ctx: StepContext) -> dict[str, Any]:
    """The step's job: every existing Delta table of the catalogue, one after the other."""
    return maintain_tables(ctx.lake, [t.id for t in ctx.lake.catalogue.tables.values()], run_id=ctx.run_id)


def maintain_tables(
    lake: Lake,
    table_ids: Iterable[str],
    *,
    run_id: str,
    min_retention: timedelta = MIN_VACUUM_RETENTION,
) -> dict[str, Any]:
    """Settings, compaction and VACUUM of ``table_ids`` (absent tables are skipped); then the SQL
    endpoint's views of the republished tables follow them to the compacted versions.

    ``min_retention`` below a week is for tests only (Delta refuses it unless its retention check
    is off in the session); the published version stays protected whatever the floor.
    """
    republished: list[Publication] = []
    counts: dict[str, Any] = {}
    for table_id in table_ids:
        path = lake.path(table_id)
        if not delta.is_delta_table(lake.spark, path):
            continue
        # The lease keeps every writer (and gate) of the table out until its republication is in.
        with writing(lake, [table_id], owner=f"maintenance.lake run {run_id}"):
            counts[table_id] = _maintain(lake, table_id, path, republished, run_id, min_retention)
    counts["republished"] = {p.table: p.delta_version for p in republished}
    log.info(
        "maintenance: %d table(s), %d -> %d files, %d republished",
        len(counts) - 1,
        sum(c["files_before"] for k, c in counts.items() if k != "republished"),
        sum(c["files_after"] for k, c in counts.items() if k != "republished"),
        len(republished),
    )
    counts["sql_views"] = repoint_endpoint_views(lake.spark, lake, counts["republished"]).as_dict()
    return counts


def _maintain(
    lake: Lake,
    table_id: str,
    path: str,
    republished: list[Publication],
    run_id: str,
    min_retention: timedelta,
) -> dict[str, Any]:
    """One table's settings, compaction and VACUUM (the caller holds its writer lease)."""
    started = time.perf_counter()
    before = lake.latest_version(table_id)
    assert before is not None
    publication = lake.publications().get(table_id) if lake.table(table_id).published else None
    properties_set = _set_properties(lake, path)
    files_before, files_after = _compact(lake, path)
    history = _history(lake, path)
    # The data in force is the newest version's when nothing after the published one changed a row
    # (this run's settings and compaction, an earlier VACUUM): those files are the ones to keep.
    same_data = publication is not None and all(
        op in NO_DATA_CHANGE_OPERATIONS for v, (op, _) in history.items() if v > publication.delta_version
    )
    in_force = max(history) if same_data else (publication.delta_version if publication else None)
    commit_times = {v: t for v, (_, t) in history.items()}
    retention = vacuum_retention(in_force, max(history), commit_times, datetime.now(UTC), floor=min_retention)
    removed = _vacuum(lake, path, retention)
    # Republished last: VACUUM itself commits (VACUUM START/END) on stores that log it.
    after = lake.latest_version(table_id)
    assert after is not None
    if publication is not None and same_data and after != publication.delta_version:
        republished += lake.publish([_republication(publication, after, run_id)])
    return {
        "properties_set": properties_set,
        "files_before": files_before,
        "files_after": files_after,
        "versions": [before, after],
        "vacuum_retention_hours": math.ceil(retention.total_seconds() / 3600),
        "files_vacuumed": removed,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _republication(publication: Publication, version: int, run_id: str) -> Publication:
    now = datetime.now(UTC)
    summary = {
        "same_data_as": list(publication.same_data_as),
        "note": f"compaction of published version {publication.delta_version}: no row changed",
    }
    return replace(
        publication,
        delta_version=version,
        suite=MAINTENANCE_SUITE,
        run_id=run_id,
        validated_at=now,
        published_at=now,
        summary=json.dumps(summary),
    )


def _set_properties(lake: Lake, path: str) -> bool:
    current = {
        row["key"]: row["value"] for row in lake.spark.sql(f"SHOW TBLPROPERTIES delta.`{path}`").collect()
    }
    wanted = {k: v for k, v in TABLE_PROPERTIES.items() if current.get(k) != v}
    if not wanted:
        return False
    assignments = ", ".join(f"'{k}' = '{v}'" for k, v in wanted.items())
    lake.spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
    return True


def _file_count(lake: Lake, path: str) -> int:
    return int(lake.spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["numFiles"])


def _compact(lake: Lake, path: str) -> tuple[int, int]:
    from delta.tables import DeltaTable

    before = _file_count(lake, path)
    if before > 1:
        DeltaTable.forPath(lake.spark, path).optimize().executeCompaction()
    return before, _file_count(lake, path)


def _history(lake: Lake, path: str) -> dict[int, tuple[str, datetime]]:
    """Every version's operation and commit time."""
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(lake.spark, path).history()
    rows = history.select("version", "operation", "timestamp").collect()
    return {int(r["version"]): (r["operation"], r["timestamp"].astimezone(UTC)) for r in rows}


def _vacuum(lake: Lake, path: str, retention: timedelta) -> int:
    """VACUUM at ``retention``; returns how many files it deleted (its dry run lists them first)."""
    hours = math.ceil(retention.total_seconds() / 3600)
    doomed = lake.spark.sql(f"VACUUM delta.`{path}` RETAIN {hours} HOURS DRY RUN").count()
    if doomed:
        lake.spark.sql(f"VACUUM delta.`{path}` RETAIN {hours} HOURS")
    return int(doomed)
