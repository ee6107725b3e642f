"""The bronze gate validates the rows appended since the published version, not the whole table.

Bronze tables are append-only: the loader appends each landed file's rows in one commit, every row
carrying its file's content hash (``_file_hash``). Validating the whole newest version at every
gate costs as much as the build at scale; validating only the appended rows gives the same verdict
when version V of the table is exactly the published version P plus those rows.

:func:`appended_slice` returns the *slice* -- the rows of V whose ``_file_hash`` is not among P's --
only when all of these hold, and ``None`` otherwise (the gate then validates the whole of V):

1. P passed the very suite that V is judged with: a passed validation of P (or of a version P
   stands for, :attr:`Publication.same_data_as`) is recorded with the suite's fingerprint. A
   publication that no gate of this suite made (another suite, a changed registry, a test) does
   not count.
2. Every commit after P up to V appended rows or changed none (Delta history: ``WRITE`` in append
   mode, compaction, table properties, added columns, VACUUM): no row of P was deleted or updated,
   so V is P plus the appended rows (as a multiset).
3. ``count(V) == count(P) + count(slice)``, file by file: every file hash of P has as many rows in V
   as in P. No appended row carries a hash of P (a file loaded again) and none of P's is gone, so
   the appended rows are exactly the slice.

Why that is enough. The bronze suite checks that columns exist, that columns are not null (row by
row) and that ``(_file_hash, _row_number)`` is unique. By 2 and 3, V = P + slice. The slice has V's
schema, so the columns that exist are V's. A row-wise check holds on V when it holds on P (1) and
on the slice. A ``(_file_hash, _row_number)`` pair cannot occur twice in P (1), nor twice in the
slice (checked), nor in both: slice hashes are not P's by construction. The expectations that GX
reports per row (counts, percentages, examples) are then about the slice: the outcome's scope says
so (``appended since v<P>``). A recorded pass of P that was itself such a slice stands for the
whole of P by the same argument, one gate earlier.

What it costs besides the GX run on the slice: the Delta history since P, one look-up in
``quality.validations``, and two Spark jobs that count V's and P's rows per ``_file_hash`` (scans of
that column only, whatever the table's width; one small row per landed file to the driver). The
slice is then read by file hash and persisted for the GX run, which scans it a few times; the
caller unpersists it (:meth:`AppendedSlice.release`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govlake.lake import Lake, Publication
from jobs.quality.gx_runner import passed_with_suite
from jobs.quality.suites import suite_fingerprint

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger("govlake.quality")

#: The column that says which landed file a bronze row came from.
FILE_HASH = "_file_hash"


@dataclass(frozen=True)
class AppendedSlice:
    """The rows of ``version`` appended since the published ``since_version`` (persisted)."""

    since_version: int
    version: int
    rows: DataFrame
    count: int

    def release(self) -> None:
        self.rows.unpersist()


def _keeps_rows(operation: str, parameters: dict[str, str] | None) -> bool:
    """Every row of the version before this commit is in the version after it, unchanged: an
    append, housekeeping that changes no row, or added columns (null in the old rows; a suite
    requiring a new column is another suite, so condition 1 fails then). Anything else (DELETE,
    UPDATE, MERGE, an overwrite, RESTORE, a replaced table, ...) may have changed rows."""
    from jobs.maintenance.housekeeping import NO_DATA_CHANGE_OPERATIONS

    if operation == "WRITE":
        return (parameters or {}).get("mode") == "Append"
    return operation in NO_DATA_CHANGE_OPERATIONS or operation == "ADD COLUMNS"


def _rows_per_file(df: DataFrame) -> dict[str | None, int]:
    """File hash -> rows. One small row per landed file; two of these collected beat a join of them
    on Spark (measured: 3.5 s against 7 s for a 200k-row table on 2 busy cores)."""
    return {r[FILE_HASH]: int(r["count"]) for r in df.groupBy(FILE_HASH).count().collect()}


def only_appended(lake: Lake, table_id: str, since: int, version: int) -> str | None:
    """None when every commit in (``since``, ``version``] only appended or changed no row; else why not."""
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(lake.spark, lake.path(table_id)).history(version - since)
    commits = {
        int(r["version"]): (r["operation"], r["operationParameters"])
        for r in history.select("version", "operation", "operationParameters").collect()
    }
    if set(commits) != set(range(since + 1, version + 1)):
        return f"the Delta history does not hold exactly v{since + 1}..v{version}"
    changed = [f"v{v} {op}" for v, (op, params) in sorted(commits.items()) if not _keeps_rows(op, params)]
    return f"rows changed since v{since}: {', '.join(changed)}" if changed else None


def appended_slice(
    lake: Lake, table_id: str, version: int, publication: Publication, suite: Any
) -> AppendedSlice | None:
    """The rows of ``version`` to validate instead of the whole version, or None (whole version):
    see the module docstring for the conditions and why they suffice. Every ``None`` is logged
    with its reason."""

    started = time.perf_counter()

    def whole(reason: str) -> None:
        log.info("%s @ Delta v%s: validating the whole table (%s)", table_id, version, reason)

    since = int(publication.delta_version)
    if version <= since:
        return whole(f"the published version is v{since}")
    rewritten = only_appended(lake, table_id, since, version)
    if rewritten:
        return whole(rewritten)
    fingerprint = suite_fingerprint(suite)
    if not passed_with_suite(lake.spark, lake.settings, table_id, publication.same_data_as, fingerprint):
        return whole(f"no recorded pass of v{since} against this suite ({suite.name}, {fingerprint[:12]})")

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    try:
        current, published = lake.read_version(table_id, version), lake.read_version(table_id, since)
        now, then = _rows_per_file(current), _rows_per_file(published)
    except Exception as exc:  # P's files vacuumed, its log entries expired, a column gone, ...
        return whole(f"v{since} cannot be compared: {type(exc).__name__}: {str(exc)[:200]}")
    changed = [(h, now.get(h, 0), n) for h, n in then.items() if now.get(h, 0) != n]
    if changed:
        h, n_now, n_then = changed[0]
        return whole(
            f"{len(changed)} file(s) of v{since} have other row counts in v{version}, e.g."
            f" {str(h)[:12]}: {n_now} rows, not {n_then} (rows removed, or a file loaded again)"
        )
    new = {h: n for h, n in now.items() if h not in then}
    appended = sum(new.values())
    if not appended:  # V holds P's rows (e.g. compacted but not republished): rare, not worth a path
        return whole(f"no row appended since v{since}")
    hashes = list(new)
    selected = F.col(FILE_HASH).isin([h for h in hashes if h is not None])
    if None in hashes:
        selected = selected | F.col(FILE_HASH).isNull()
    rows = current.where(selected).persist(StorageLevel.MEMORY_AND_DISK)
    if rows.count() != appended:  # cannot happen (one snapshot); the count fills the cache
        rows.unpersist()
        return whole("the appended rows changed while they were read")
    log.info(
        "%s @ Delta v%s: validating the %s row(s) appended since v%s (found in %.1fs)",
        table_id,
        version,
        appended,
        since,
        time.perf_counter() - started,
    )
    return AppendedSlice(since_version=since, version=version, rows=rows, count=appended)
