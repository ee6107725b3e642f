"""Incremental person resolution: work in proportion to the delivery, not to the library.

:func:`jobs.silver.population.resolve.resolve_persons` with a previous crosswalk and model lands
here. What an incremental run decides (see that module's docstring) concerns few records:

* the **new** records (no row in the previous crosswalk);
* the **reopened** persons: every record of an existing person one of whose ID-less records a new
  record meets in some blocking rule (the new record may be the evidence that joins it elsewhere);
* the **candidates** the backend links: the unsettled records (ID-less ones among the two above)
  and every record one of them meets in some blocking rule.

Every other record keeps its crosswalk row and is read only by scans that find those few: each
record's blocking keys (:func:`_rule_keys`, one row per rule with a value; the link columns they
come from are computed once a run and held, :class:`_Linkable`) semi-joined with the few records'
keys, broadcast. Only the records found are prepared in full (IDs hashed with the
person-id key, :func:`~jobs.silver.population.resolve._hash_ids`); the scans compare valid IDs as
written, a one-to-one stand-in for their hashes. A mention that borrows its partner's residence
(:func:`~jobs.silver.population.resolve._borrow_homes`) borrows it from the homes of only the
partners such mentions name, looked up the same way.

The result is the same crosswalk as preparing and settling every record
(``tests/silver/population/test_incremental.py`` checks it against linking the whole table); its
rows outside the new and reopened records are the previous crosswalk's, and
``crosswalk_changes`` holds only those records' rows.
"""

from __future__ import annotations

import re
import time
from functools import reduce
from typing import TYPE_CHECKING, Any

from govlake.spark import broadcast_if_few
from jobs.silver.population import resolve as r
from jobs.silver.tables import KeyedChanges

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: A blocking key's value columns (a rule compares one or two columns).
_KEY_COLUMNS = ("k1", "k2")


def _rule_columns(rules: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    columns = []
    for rule in rules:
        terms = [t.strip() for t in re.split(r"\band\b", rule)]
        pairs = [re.fullmatch(r"l\.(\w+) = r\.(\w+)", t) for t in terms]
        if not all(p and p.group(1) == p.group(2) for p in pairs) or not 1 <= len(pairs) <= 2:
            raise ValueError(f"blocking rule {rule!r} is not one or two equalities of a column")
        columns.append(tuple(p.group(1) for p in pairs if p))
    return tuple(columns)


#: Per blocking rule, the columns it compares for equality (every rule is a conjunction of
#: ``l.<c> = r.<c>``; :func:`_rule_columns` refuses any other shape).
RULE_COLUMNS = _rule_columns(r.BLOCKING_RULES)


def _rule_keys(frame: DataFrame) -> DataFrame:
    """(unique_id, rule, k1, k2): a record's value for every blocking rule it can meet another in.

    Two records meet in a rule exactly when they share its (rule, k1, k2) row: a rule compares
    equal columns, and a null equals nothing, so a rule with a null column gives no row. ``k2`` of
    a one-column rule is the empty string, which no prepared column holds (blanks are NULL).
    """
    from pyspark.sql import functions as F

    keys = []
    for i, columns in enumerate(RULE_COLUMNS):
        present = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in columns])
        values = [F.col(c) for c in columns] + [F.lit("")] * (2 - len(columns))
        key = F.struct(
            F.lit(i).alias("rule"), *[v.alias(k) for v, k in zip(values, _KEY_COLUMNS, strict=True)]
        )
        keys.append(F.when(present, key))
    exploded = frame.select("unique_id", F.explode(F.array(*keys)).alias("_k")).where(F.col("_k").isNotNull())
    return exploded.select("unique_id", "_k.rule", *[f"_k.{k}" for k in _KEY_COLUMNS])


def _meeting(records: DataFrame, few: DataFrame) -> DataFrame:
    """unique_id of every record of ``records`` that meets one of ``few`` in some blocking rule:
    one scan of ``records`` against the few's keys, broadcast.

    (Keeping first the records whose hash of some rule's columns is among the few's, by a set
    lookup per rule, was measured slower at 300,000 persons: 15.3 s against 2.1 s to find the
    persons a 5,532-record delivery reopens, the sets of hashes being literals of the plan.)
    """
    from pyspark.sql import functions as F

    keys = F.broadcast(_rule_keys(few).select("rule", *_KEY_COLUMNS).distinct().localCheckpoint(eager=True))
    return _rule_keys(records).join(keys, ["rule", *_KEY_COLUMNS], "left_semi").select("unique_id").distinct()


def _only(frame: DataFrame, ids: DataFrame, column: str = "unique_id") -> DataFrame:
    """The rows of ``frame`` whose ``column`` is among ``ids`` (few: broadcast)."""
    return frame.join(broadcast_if_few(ids.select(column).distinct()), column, "left_semi")


class _Linkable:
    """Every record's prepared columns, IDs unhashed, partners' homes borrowed (:attr:`every`), or
    a few records' (:meth:`of`).

    The columns are computed from the records once and held (a narrow copy of the records table:
    every lookup of an incremental run scans it, and computing them costs ~2 s a scan at 583,882
    records on 2 cores, most of it regular expressions). The homes are computed for the partners
    that borrowing mentions name only.
    """

    def __init__(self, records: DataFrame) -> None:
        from pyspark.sql import functions as F

        base = r._link_columns(records, None).localCheckpoint(eager=True)
        if "partner_id_number" in records.columns:
            partners = base.where(r._borrows()).select(F.col("partner_person_id").alias("id_person_id"))
            homes = r._partner_homes(_only(base, partners, "id_person_id"))
            base = r._borrow_homes(base, F.broadcast(homes.localCheckpoint(eager=True)))
        self.every = r._finish(base)

    def of(self, ids: DataFrame) -> DataFrame:
        """The records whose ``unique_id`` is among ``ids`` (few)."""
        return _only(self.every, ids)


def resolve_increment(
    spark: SparkSession,
    records: DataFrame,
    *,
    key: str,
    backend: str,
    threshold: float,
    existing: DataFrame,
    model: dict[str, Any],
    seed: int,
) -> r.ResolutionResult:
    """An incremental resolution (see the module docstring); arguments as for ``resolve_persons``."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    clock = r.Stopwatch()
    previous = existing.select(
        F.col("record_key").alias("unique_id"),
        F.col("person_id").alias("known_person_id"),
        F.col("match_method").alias("known_method"),
        F.col("match_probability").alias("known_probability"),
    )
    keys = records.select(F.col("record_key").cast("string").alias("unique_id"))
    new_ids = keys.join(previous.select("unique_id"), "unique_id", "left_anti").localCheckpoint(eager=True)
    counts = new_ids.agg(F.count("*").alias("n"), F.countDistinct("unique_id").alias("keys")).first()
    n_new = int(counts["n"])
    if int(counts["keys"]) != n_new:
        raise ValueError(f"record_key is not unique: {n_new} new records, {counts['keys']} distinct keys")
    clock.lap("new_records")
    n_records = keys.count()
    n_known = n_records - n_new
    vanished = None
    if n_known != existing.count():  # records of files gone from bronze
        vanished = previous.join(keys, "unique_id", "left_anti").localCheckpoint(eager=True)
    clock.lap("vanished")
    linkable = _Linkable(records)
    clock.lap("partner_homes")

    new = linkable.of(new_ids).localCheckpoint(eager=True)
    # Reopened: persons one of whose ID-less records a new record meets in some rule.
    idless = linkable.every.where(F.col("id_person_id").isNull())
    met = _meeting(idless, new) if n_new else new_ids.limit(0)
    reopened = _only(previous, met).select("known_person_id").distinct().localCheckpoint(eager=True)
    reopened_rows = _only(previous, reopened, "known_person_id").localCheckpoint(eager=True)
    clock.lap("reopen")
    active_ids = new_ids.unionByName(reopened_rows.select("unique_id"))
    active = r._hash_ids(linkable.of(active_ids), key).join(F.broadcast(reopened_rows), "unique_id", "left")
    active = active.localCheckpoint(eager=True)
    unsettled = active.where(F.col("id_person_id").isNull())
    n_unsettled = unsettled.count()
    clock.lap("active")

    records_linked = 0
    if n_unsettled == 0:
        link = r._LinkOutput(
            spark.createDataFrame([], r._ASSIGNED_DDL), 0, 0, model, "none", {}, "no pair to score"
        )
    else:
        candidates, frequencies = _link_candidates(linkable, unsettled, previous, reopened, key, clock)
        records_linked = candidates.count()
        clock.lap("name_frequencies")
        link = (r._link_duckdb if backend == "duckdb" else r._link_spark)(
            spark, candidates, threshold, seed, model, frequencies
        )
    clock._last = time.perf_counter()

    rows, touched, merges, splits, crosswalk = _assemble(spark, active, link, existing, vanished, key)
    clock.lap("assemble")
    by_method = dict.fromkeys(r.MATCH_METHODS, 0)
    for row in crosswalk.groupBy("match_method").count().collect():
        by_method[row["match_method"]] = int(row["count"])
    removed = vanished.select(F.col("unique_id").alias("record_key")) if vanished is not None else None
    # A new record's key is in no previous row (that is what makes it new): appended, not merged.
    new_rows = F.col("known_person_id").isNull()
    changes = KeyedChanges(
        upserted=rows.where(~new_rows).select(*r.CROSSWALK_COLUMNS),
        removed=removed,
        inserted=rows.where(new_rows).select(*r.CROSSWALK_COLUMNS),
    )
    clock.lap("count_methods")
    seconds = time.perf_counter() - started
    r.log.info(
        "resolved %d records incrementally (%d new, %d reopened persons; %d linked) with %s in %.1fs: "
        "%d pairs compared",
        n_records,
        n_new,
        reopened.count(),
        records_linked,
        backend,
        seconds,
        link.pairs_compared,
    )
    return r.ResolutionResult(
        crosswalk=crosswalk,
        backend=backend,
        threshold=threshold,
        pairs_compared=link.pairs_compared,
        records_by_method=by_method,
        conflicts_split=link.conflicts,
        seconds=seconds,
        timings={**clock.timings, **link.timings},
        m_training=link.m_training,
        model=link.model,
        touched_person_ids=touched,
        training_note=link.training_note,
        records_linked=records_linked,
        merges=merges,
        splits=splits,
        crosswalk_changes=changes,
    )


def _link_candidates(
    linkable: _Linkable,
    unsettled: DataFrame,
    previous: DataFrame,
    reopened: DataFrame,
    key: str,
    clock: r.Stopwatch,
) -> tuple[DataFrame, DataFrame | None]:
    """The records the backend needs to score every pair a full table would give, and the term
    frequencies of their names over every record (``name``, ``tf_name``).

    Splink scores only the pairs a blocking rule generates with one side without an ID, and every
    settled record has one (its person's, ``settled_person_id``): so every pair holds an unsettled
    record and a record it meets in some rule. The frequencies are what Splink would compute from
    the whole table (rows per name / rows with a name), for the candidates' names only.
    """
    from pyspark.sql import functions as F

    wanted = _candidate_ids(linkable, unsettled)
    known = _only(previous, wanted).join(
        F.broadcast(reopened.withColumn("_reopened", F.lit(True))), "known_person_id", "left"
    )
    candidates = r._hash_ids(linkable.of(wanted), key).join(F.broadcast(known), "unique_id", "left")
    settled = F.col("known_person_id").isNotNull() & F.col("_reopened").isNull()
    candidates = candidates.withColumn(
        "settled_person_id",
        F.when(settled, F.coalesce("id_person_id", "known_person_id")).otherwise(F.col("id_person_id")),
    ).drop("_reopened", "known_method", "known_probability")
    candidates = candidates.localCheckpoint(eager=True)
    clock.lap("candidates")
    return candidates, _name_frequencies(linkable, candidates)


def _candidate_ids(linkable: _Linkable, unsettled: DataFrame) -> DataFrame:
    """unique_id of the unsettled records and of every record one of them meets in some rule."""
    return _meeting(linkable.every, unsettled).unionByName(unsettled.select("unique_id")).distinct()


def _name_frequencies(linkable: _Linkable, candidates: DataFrame) -> DataFrame:
    """(name, tf_name) for the candidates' names: rows per name / rows with a name, over every
    record, as Splink computes them from a whole table."""
    from pyspark.sql import functions as F

    named = linkable.every.where(F.col("name").isNotNull()).select("name")
    total = named.count()
    frequencies = (
        _only(named, candidates.select("name").where(F.col("name").isNotNull()), "name")
        .groupBy("name")
        .agg((F.count("*").cast("double") / F.lit(total)).alias("tf_name"))
    )
    return frequencies.localCheckpoint(eager=True)


def _assemble(
    spark: SparkSession,
    active: DataFrame,
    link: Any,
    existing: DataFrame,
    vanished: DataFrame | None,
    key: str,
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame, DataFrame]:
    """The crosswalk rows of the new and reopened records (``active``), and from them: touched
    person_ids, merges, splits, and the whole crosswalk (the previous one's other rows with these).

    As in a full run (:func:`~jobs.silver.population.resolve._name_free_clusters`): only the active
    records can hold a reopened person's id, so what "taken" needs is among them, and collisions
    are looked up among them and the previous crosswalk's person_ids.
    """
    from pyspark.sql import functions as F

    joined = r._with_links(active, link.assigned)
    names = r._name_free_clusters(spark, joined, existing, key)
    rows = r._resolved_rows(joined, F.broadcast(names))
    moved = rows.where(r._differs()).select(
        F.explode(F.array("person_id", "known_person_id")).alias("person_id")
    )
    if vanished is not None:
        moved = moved.unionByName(vanished.select(F.col("known_person_id").alias("person_id")))
    touched = moved.where(F.col("person_id").isNotNull()).distinct().localCheckpoint(eager=True)
    replaced = rows.select(F.col("record_key").alias("unique_id"))
    if vanished is not None:
        replaced = replaced.unionByName(vanished.select("unique_id"))
    kept = existing.join(
        broadcast_if_few(replaced.withColumnRenamed("unique_id", "record_key")), "record_key", "left_anti"
    )
    crosswalk = kept.select(*r.CROSSWALK_COLUMNS).unionByName(rows.select(*r.CROSSWALK_COLUMNS))
    moves = rows.where(F.col("known_person_id").isNotNull() & r._differs()).select(
        F.col("known_person_id").alias("old"), F.col("person_id").alias("new")
    )
    # A moved record's previous person was reopened, so all its records are among the active
    # ones: whether that person still holds a record is seen in their rows alone.
    merges, splits = r._lineage(moves, rows, existing)
    return rows, touched, merges, splits, crosswalk
