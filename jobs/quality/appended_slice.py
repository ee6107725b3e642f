"""A gate validates the rows appended since the published version, not the whole table, when that
gives the whole version's verdict.

Some tables grow a landed file at a time and every row names its file: bronze tables
(``_file_hash``: the loader appends each batch of files in one commit) and the records tables of the
entity libraries that declare it (:meth:`jobs.quality.silver.SilverSuite.appended_by_file`;
``silver.population.person_records``: an incremental build appends the records of the new files).
Validating the whole newest version at every gate costs as much as the build at scale; validating
only the appended rows gives the same verdict when version V of the table is exactly the published
version P plus those rows, and the suite judges rows one by one.

:func:`appended_slice` returns the *slice* -- the rows of V whose file is not among P's -- only when
all of these hold, and ``None`` otherwise (the gate then validates the whole of V):

0. The suite is *sliceable* (:func:`not_sliceable`): each expectation judges a row on its own
   (columns present, not null, a pattern, a set, a range, a pair of columns, a row-level derived
   rule) with ``mostly = 1``, or is a uniqueness whose key holds the file column or a key that a
   row-level rule of the suite ties to it. A foreign key, a uniqueness among some rows, a row count
   or a ``mostly`` below 1 make the suite whole-table only.
1. P passed the very suite that V is judged with: a passed validation of P (or of a version P
   stands for, :attr:`Publication.same_data_as`) is recorded with the suite's fingerprint. A
   publication that no gate of this suite made (another suite, a changed registry, a test) does
   not count.
2. Every commit after P up to V appended rows or changed none (Delta history: ``WRITE`` in append
   mode, compaction, table properties, added columns, VACUUM): no row of P was deleted or updated,
   so V is P plus the appended rows (as a multiset).
3. ``count(V) == count(P) + count(slice)``, file by file: every file of P has as many rows in V as
   in P. No appended row names a file of P (a file loaded again) and none of P's is gone, so the
   appended rows are exactly the slice.

Why that is enough. By 2 and 3, V = P + slice. The slice has V's schema, so the columns that exist
are V's. A row-wise expectation (0) holds on V when it holds on P (1) and on the slice. A unique key
holding the file, or tied to it row by row, cannot occur twice in P (1), nor twice in the slice
(checked), nor in both: the slice's files are not P's by construction. A recorded pass of P that was
itself such a slice stands for the whole of P by the same argument, one gate earlier. (A rule on
``current_date()``, "not in the future", held for P's rows on P's day and still holds.)

The expectations that GX reports per row (counts, examples) are then about the slice; the outcome's
scope says so (``appended since v<P>``). A ``warn`` expectation does not block, so P may have passed
with warnings: its counts are added to the slice's (:func:`with_published_warnings`), exact for a
row-wise expectation, so that the record, the gate's report and the scorecard count the whole
version's warned rows as a whole validation would.

What it costs besides the GX run on the slice: the Delta history since P, one look-up in
``quality.validations``, and two Spark jobs that count V's and P's rows per file (scans of that
column only, whatever the table's width; one small row per landed file to the driver). The slice is
then read by file and persisted for the GX run, which scans it a few times; the caller unpersists
it (:meth:`AppendedSlice.release`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govlake.lake import Lake, Publication
from jobs.quality.gx_runner import ValidationOutcome, kwargs_json, passed_record, resolve_suite
from jobs.quality.silver import DERIVED_PREFIX, Severity
from jobs.quality.suites import suite_fingerprint

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row

log = logging.getLogger("govlake.quality")

#: The column that says which landed file a bronze row came from.
BRONZE_FILE_COLUMN = "_file_hash"

#: Expectations that judge each row on its own (or the schema): on P + S they hold exactly when
#: they hold on P and on S, as long as every row must meet them (``mostly`` = 1).
ROW_WISE = frozenset(
    {
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
#: Uniqueness expectations, and the argument naming their key's columns.
UNIQUE_KEYS = {
    "expect_column_values_to_be_unique": "column",
    "expect_compound_columns_to_be_unique": "column_list",
}


@dataclass(frozen=True)
class AppendedSlice:
    """The rows of ``version`` appended since the published ``since_version`` (persisted), and the
    recorded validation that P passed (condition 1)."""

    since_version: int
    version: int
    rows: DataFrame
    count: int
    trusted: Row

    def release(self) -> None:
        self.rows.unpersist()


def not_sliceable(suite: Any, file_column: str) -> str | None:
    """None when every expectation of ``suite`` gives its verdict on P + S from its verdicts on P
    and on S (condition 0 of the module docstring); else the first that does not, and why."""
    row_level = {d.column for d in getattr(suite, "derived_checks", ()) if d.row_level}
    tied = {file_column, *getattr(suite, "keys_of_file", ())}
    for expectation in resolve_suite(suite).suite.expectations:
        kind = expectation.expectation_type
        column = getattr(expectation, "column", None)
        if getattr(expectation, "mostly", 1) != 1:
            return f"{kind}({column}) holds for a share of the rows (mostly < 1)"
        if kind in UNIQUE_KEYS:
            key = getattr(expectation, UNIQUE_KEYS[kind])
            key = [key] if isinstance(key, str) else list(key)
            if not tied & set(key):
                return f"the key {key} is not tied to the file column {file_column}"
        elif kind not in ROW_WISE:
            return f"{kind} is not a row-by-row expectation"
        elif str(column).startswith(DERIVED_PREFIX) and column not in row_level:
            return f"the derived check {column} is not row-level (a join or an aggregate)"
    return None


def _keeps_rows(operation: str, parameters: dict[str, str] | None) -> bool:
    """Every row of the version before this commit is in the version after it, unchanged: an
    append, housekeeping that changes no row, or added columns (null in the old rows; a suite
    requiring a new column is another suite, so condition 1 fails then). Anything else (DELETE,
    UPDATE, MERGE, an overwrite, RESTORE, a replaced table, ...) may have changed rows."""
    from jobs.maintenance.housekeeping import NO_DATA_CHANGE_OPERATIONS

    if operation == "WRITE":
        return (parameters or {}).get("mode") == "Append"
    return operation in NO_DATA_CHANGE_OPERATIONS or operation == "ADD COLUMNS"


def _rows_per_file(df: DataFrame, file_column: str) -> dict[str | None, int]:
    """File -> rows. One small row per landed file; two of these collected beat a join of them on
    Spark (measured: 3.5 s against 7 s for a 200k-row table on 2 busy cores)."""
    return {r[file_column]: int(r["count"]) for r in df.groupBy(file_column).count().collect()}


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
    lake: Lake, table_id: str, version: int, publication: Publication, suite: Any, file_column: str
) -> AppendedSlice | None:
    """The rows of ``version`` to validate instead of the whole version, or None (whole version):
    see the module docstring for the conditions and why they suffice. ``file_column`` names each
    row's landed file. Every ``None`` is logged with its reason."""

    started = time.perf_counter()

    def whole(reason: str) -> None:
        log.info("%s @ Delta v%s: validating the whole table (%s)", table_id, version, reason)

    since = int(publication.delta_version)
    if version <= since:
        return whole(f"the published version is v{since}")
    obstacle = not_sliceable(suite, file_column)
    if obstacle:
        return whole(f"suite {suite.name}: {obstacle}")
    rewritten = only_appended(lake, table_id, since, version)
    if rewritten:
        return whole(rewritten)
    fingerprint = suite_fingerprint(resolve_suite(suite).suite)
    trusted = passed_record(lake.spark, lake.settings, table_id, publication.same_data_as, fingerprint)
    if trusted is None:
        return whole(f"no recorded pass of v{since} against this suite ({suite.name}, {fingerprint[:12]})")

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    try:
        current, published = lake.read_version(table_id, version), lake.read_version(table_id, since)
        now, then = _rows_per_file(current, file_column), _rows_per_file(published, file_column)
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
    selected = F.col(file_column).isin([h for h in hashes if h is not None])
    if None in hashes:
        selected = selected | F.col(file_column).isNull()
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
    return AppendedSlice(since_version=since, version=version, rows=rows, count=appended, trusted=trusted)


def with_published_warnings(outcome: ValidationOutcome, trusted: Row) -> ValidationOutcome:
    """``outcome`` (of a slice) with the rows that the trusted validation of P found breaking each
    ``warn`` expectation added: V = P + slice row by row, so the counts add up to what a whole
    validation of V finds. The examples stay the slice's; a percentage is kept only where it is
    exact (no row of V breaks the expectation), since GX's base (rows with a value) is not recorded.
    Blocking expectations passed on P (condition 1): nothing to add."""
    import dataclasses

    recorded = {
        (e["expectation_type"], e["kwargs"]): e for e in trusted["expectations"] if e["severity"] == "warn"
    }
    merged = []
    for e in outcome.expectations:
        earlier = recorded.get((e.expectation_type, kwargs_json(e.kwargs)))
        if e.severity is not Severity.WARN or earlier is None or e.unexpected_count is None:
            merged.append(e)
            continue
        unexpected = e.unexpected_count + int(earlier["unexpected_count"] or 0)
        merged.append(
            dataclasses.replace(
                e,
                success=e.success and bool(earlier["success"]),
                unexpected_count=unexpected,
                element_count=(e.element_count or 0) + int(earlier["element_count"] or 0),
                unexpected_percent=0.0 if unexpected == 0 else None,
            )
        )
    return dataclasses.replace(outcome, expectations=tuple(merged), success=all(e.success for e in merged))
