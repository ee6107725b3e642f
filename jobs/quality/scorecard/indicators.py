"""The GB/T 36344-2018 data-quality indicators, per prefecture x department (pure Spark).

Every function here takes DataFrames and returns a *long* frame of counts::

    source_id, prefecture, indicator, numerator, denominator

which :func:`score_cells` sums per (prefecture, department, indicator). A figure is always a ratio of
summed counts (never a mean of ratios), so a cell with three rows weighs three rows.

Who is scored: the department is the source's (registry). The prefecture is the source's own for a
prefecture's extract; for a province-wide extract it is the prefecture of the row's admin code
(3201..3213) when the row carries one, otherwise ``32`` (province-wide, prefecture unknown). File-level
indicators (timeliness, accessibility) of a province-wide extract are scored under ``32``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from govlake.registry import ColumnType

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from govlake.registry import Registry

PROVINCE = "32"
SCHEDULE_TIMEZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Indicator:
    key: str
    name_zh: str
    name_en: str
    definition: str


#: The indicators in the order the scorecard shows them; each definition is printed beside its figure.
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "conformity",
        "规范性",
        "Conformity",
        "Rows that conform to their standards, over rows received: the row was well-formed (not "
        "quarantined at bronze: field count, encoding, required values parse), every typed value it "
        "carries (date, integer, decimal) parses in a format its source's registry entry declares, and "
        "every identifier it carries passes its national standard's check character (citizen ID "
        "GB 11643, unified social credit code GB 32100; a legacy 15-digit ID or registration number in "
        "their place does not). Empty values are completeness's business, not conformity's.",
    ),
    Indicator(
        "completeness",
        "完整性",
        "Completeness",
        "Filled cells over expected cells: for every accepted row, the columns its source's registry "
        "entry says it sends, counted non-empty.",
    ),
    Indicator(
        "accuracy",
        "准确性",
        "Accuracy",
        "Records that agree with the base libraries, over records linked to them: a person record's "
        "name, sex and birth date equal its person's golden record (population library); a legal-person "
        "record's name equals its golden record (legal-person library). Only values present on both "
        "sides are compared.",
    ),
    Indicator(
        "consistency",
        "一致性",
        "Consistency",
        "Records without internal contradictions, over records: a person's stated birth date and sex "
        "agree with those encoded in the ID number; a legal person's registered address lies in the "
        "prefecture its USCC was issued in (code characters 3-6).",
    ),
    Indicator(
        "timeliness",
        "时效性",
        "Timeliness",
        "Files on time, over files whose extract date is known (the date in the file name): an extract "
        "dated D is due at the registry schedule's (cron, China Standard Time) first run after D ends "
        "and is on time if it landed within one schedule period of that. Average lateness (days past "
        "due) is shown beside the cells.",
    ),
    Indicator(
        "accessibility",
        "可访问性",
        "Accessibility",
        "Files that could be opened and read, over files delivered: decoded in their declared encoding "
        "and parsed in their declared format (not rejected as truncated, unreadable or missing a "
        "required column).",
    ),
    Indicator(
        "uniqueness",
        "唯一性",
        "Uniqueness",
        "Rows that are not repeats, over accepted rows: a row is a repeat when an earlier row of the same "
        "source has the same business key (the dataset's row key in the registry).",
    ),
)
INDICATOR_KEYS = tuple(i.key for i in INDICATORS)

LONG_SCHEMA = "source_id string, prefecture string, indicator string, numerator double, denominator double"


# --------------------------------------------------------------------------------- attribution


def _jiangsu_prefecture(code: Column) -> Column:
    """The 4-digit prefecture of a 6-digit admin code inside Jiangsu's 13 cities, else null."""
    from pyspark.sql import functions as F

    prefix = F.substring(F.regexp_replace(F.trim(code), r"\s", ""), 1, 4)
    return F.when(prefix.rlike(r"^32(0[1-9]|1[0-3])$"), prefix)


def row_prefecture(source_prefecture: Column, admin_codes: Sequence[Column] = ()) -> Column:
    """The source's prefecture, else the first admin code's prefecture, else the province (``32``)."""
    from pyspark.sql import functions as F

    return F.coalesce(source_prefecture, *[_jiangsu_prefecture(c) for c in admin_codes], F.lit(PROVINCE))


def _long(df: DataFrame, prefecture: Column, measures: Mapping[str, tuple[Column, Column]]) -> DataFrame:
    """One output row per input row and indicator: (numerator, denominator) as doubles."""
    from pyspark.sql import functions as F

    entries = [
        F.struct(
            F.lit(key).alias("indicator"),
            num.cast("double").alias("numerator"),
            den.cast("double").alias("denominator"),
        )
        for key, (num, den) in measures.items()
    ]
    return (
        df.select(
            F.col("_source_id").alias("source_id"),
            prefecture.alias("prefecture"),
            F.explode(F.array(*entries)).alias("m"),
        )
        .select("source_id", "prefecture", "m.indicator", "m.numerator", "m.denominator")
        .where("denominator > 0")
    )


# ------------------------------------------------------------------------------ row indicators


#: Columns that hold an identifier with a check character: citizen IDs and credit codes.
def citizen_id_columns(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c == "id_number" or c.endswith("_id_number")]


def credit_code_columns(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c in ("uscc", "taxpayer_id") or c.endswith("_uscc")]


ADMIN_CODE_COLUMNS = ("admin_code", "birthplace_admin_code", "office_admin_code", "code")


def typed_values_parse(
    typed_columns: Mapping[str, ColumnType], date_formats: Mapping[str, Sequence[str]]
) -> list[Column]:
    """Per typed column: true when its value is empty or parses as bronze would parse it.

    ``date_formats`` maps a source id to its declared date formats; a date is read with the formats
    of the row's own source (sources of one dataset write dates differently).
    """
    from pyspark.sql import functions as F

    # bronze's own test for a required value, so "parses" means the same thing in both places
    from jobs.bronze.load import _parses_as

    by_formats: dict[tuple[str, ...], list[str]] = {}
    for source_id, formats in date_formats.items():
        by_formats.setdefault(tuple(formats), []).append(source_id)
    checks = []
    for column, kind in typed_columns.items():
        empty = F.nullif(F.trim(F.col(column)), F.lit("")).isNull()
        if kind is ColumnType.DATE:
            parses = _parses_as(column, kind, ())  # a source with no declared format: ISO only
            for formats, sources in by_formats.items():
                in_formats = _parses_as(column, kind, formats)
                parses = F.when(F.col("_source_id").isin(sources), in_formats).otherwise(parses)
        else:
            parses = _parses_as(column, kind, ())
        checks.append(empty | F.coalesce(parses, F.lit(False)))
    return checks


def bronze_row_indicators(
    bronze: DataFrame,
    *,
    columns: Sequence[str],
    sent_columns: Mapping[str, Sequence[str]],
    row_key: Sequence[str],
    typed_columns: Mapping[str, ColumnType] | None = None,
    date_formats: Mapping[str, Sequence[str]] | None = None,
) -> DataFrame:
    """Conformity (typed values, identifiers), completeness and uniqueness of one bronze table's rows.

    ``columns`` are the dataset's canonical columns; ``sent_columns`` maps a source id to the
    canonical columns that source sends (its registry column mapping); ``row_key`` is the dataset's
    business key; ``typed_columns`` the dataset's non-string columns and their types, checked with
    each source's ``date_formats``. Quarantined rows are added to conformity's denominator by
    :func:`quarantine_indicators`.
    """
    from functools import reduce

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from jobs.quality.silver import citizen_id_checksum_ok, uscc_checksum_ok

    checks = typed_values_parse(typed_columns or {}, date_formats or {})
    checks += [citizen_id_checksum_ok(c) for c in citizen_id_columns(columns)]
    checks += [uscc_checksum_ok(c) for c in credit_code_columns(columns)]
    # null (no identifier sent) passes; a present identifier must pass its checksum
    conforming = reduce(lambda a, b: a & b, [F.coalesce(c, F.lit(True)) for c in checks], F.lit(True))

    def _is_sent(column: str) -> Column:
        senders = [s for s, cols in sent_columns.items() if column in cols]
        return F.col("_source_id").isin(senders) if senders else F.lit(False)

    expected = sum((F.when(_is_sent(c), 1).otherwise(0) for c in columns), F.lit(0))
    filled = sum(
        (
            F.when(_is_sent(c) & F.nullif(F.trim(F.col(c)), F.lit("")).isNotNull(), 1).otherwise(0)
            for c in columns
        ),
        F.lit(0),
    )
    key = [F.coalesce(F.trim(F.col(c)), F.lit("")) for c in row_key]
    first_of_key = F.row_number().over(
        Window.partitionBy("_source_id", *key).orderBy("_file_hash", "_row_number")
    )
    admin = [F.col(c) for c in ADMIN_CODE_COLUMNS if c in columns]
    keyed = bronze.withColumn("_first", first_of_key == 1)
    return _long(
        keyed,
        row_prefecture(F.col("_prefecture"), admin),
        {
            "conformity": (conforming.cast("int"), F.lit(1)),
            "completeness": (filled, expected),
            "uniqueness": (F.col("_first").cast("int"), F.lit(1)),
        },
    )


def quarantine_indicators(quarantine: DataFrame) -> DataFrame:
    """Every quarantined row is a received row that did not conform (prefecture: the source's)."""
    from pyspark.sql import functions as F

    return _long(quarantine, row_prefecture(F.col("_prefecture")), {"conformity": (F.lit(0), F.lit(1))})


def person_indicators(records: DataFrame, crosswalk: DataFrame, persons: DataFrame) -> DataFrame:
    """Accuracy against the population library and consistency with the ID, per person record."""
    from pyspark.sql import functions as F

    golden = persons.where("is_current").select(
        "person_id",
        F.col("name").alias("g_name"),
        F.col("sex").alias("g_sex"),
        F.col("birth_date").alias("g_birth_date"),
    )
    linked = records.join(crosswalk.select("record_key", "person_id"), "record_key", "left").join(
        golden, "person_id", "left"
    )
    compared = [("name", "g_name"), ("sex", "g_sex"), ("birth_date", "g_birth_date")]
    agrees = [F.coalesce(F.col(a) == F.col(b), F.lit(True)) for a, b in compared]
    accurate = agrees[0] & agrees[1] & agrees[2]
    conflict = F.coalesce(F.col("birth_date_conflict"), F.lit(False)) | F.coalesce(
        F.col("sex_conflict"), F.lit(False)
    )
    return _long(
        linked.withColumnRenamed("source_id", "_source_id"),
        row_prefecture(F.col("prefecture"), [F.col("admin_code")]),
        {
            "accuracy": (accurate.cast("int"), F.col("g_name").isNotNull().cast("int")),
            "consistency": ((~conflict).cast("int"), F.lit(1)),
        },
    )


def legal_person_indicators(records: DataFrame, crosswalk: DataFrame, legal_persons: DataFrame) -> DataFrame:
    """Accuracy against the legal-person library and address/USCC consistency, per record."""
    from pyspark.sql import functions as F

    golden = legal_persons.where("is_current").select("legal_person_id", F.col("name").alias("g_name"))
    linked = records.join(crosswalk.select("record_key", "legal_person_id"), "record_key", "left").join(
        golden, "legal_person_id", "left"
    )
    accurate = F.coalesce(F.col("name") == F.col("g_name"), F.lit(True))
    issued_in = _jiangsu_prefecture(F.substring("uscc", 3, 6))
    located_in = _jiangsu_prefecture(F.col("admin_code"))
    consistent = F.coalesce(issued_in == located_in, F.lit(True))
    return _long(
        linked.withColumnRenamed("source_id", "_source_id"),
        row_prefecture(F.col("prefecture"), [F.col("admin_code")]),
        {
            "accuracy": (accurate.cast("int"), F.col("g_name").isNotNull().cast("int")),
            "consistency": (consistent.cast("int"), F.lit(1)),
        },
    )


# ----------------------------------------------------------------------------- file indicators


def expected_arrival(schedule: str, extract_date: datetime) -> tuple[datetime, timedelta]:
    """When an extract dated ``extract_date`` is due (the schedule's first run after that day ends),
    and the schedule's period there (the grace allowed)."""
    from croniter import croniter

    day_end = datetime.combine(extract_date.date(), datetime.min.time()) + timedelta(days=1)
    runs = croniter(schedule, day_end - timedelta(seconds=1))
    due = runs.get_next(datetime)
    return due, runs.get_next(datetime) - due


def landed_at(batch_id: str | None) -> datetime | None:
    """When a file landed (UTC, naive), read from its batch id.

    jobs.raw.land names a batch ``<UTC landing time %Y%m%dT%H%M%S>-<hash prefix>``, and the batch id
    is in the ingest log: no need to open every file's raw metadata (one object-store read per file).
    """
    stamp = re.match(r"(\d{8}T\d{6})-", batch_id or "")
    return datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S") if stamp else None


def extract_date(file_name: str | None) -> datetime | None:
    """The extract's date as its file name states it (``..._20250630...``), if it does."""
    stamp = re.search(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)", file_name or "")
    return datetime.strptime(stamp.group(0), "%Y%m%d") if stamp else None


def file_indicators(ingest_log: DataFrame, registry: Registry, spark: SparkSession) -> DataFrame:
    """Timeliness and accessibility per delivered file (small: one row per file, done in Python).

    Accessibility: status not REJECTED (EMPTY is a readable file with no rows). Timeliness: the file's
    landing time (from its batch id; the bronze load time if that is unknown) against when the
    registry's schedule expected it; ``lateness_days`` carries the days past due per file.
    """
    from datetime import UTC

    rows = []
    columns = ("source_id", "prefecture", "original_name", "batch_id", "status", "loaded_at")
    for f in ingest_log.select(*columns).collect():
        source = registry.sources.get(f["source_id"])
        if source is None:
            continue
        prefecture = f["prefecture"] or PROVINCE
        rows.append((f["source_id"], prefecture, "accessibility", float(f["status"] != "REJECTED"), 1.0))
        dated = extract_date(f["original_name"])
        landed_utc = landed_at(f["batch_id"])
        if landed_utc is None and f["loaded_at"] is not None:
            # PySpark gives a naive time in this machine's zone: make it UTC like the batch id
            landed_utc = f["loaded_at"].astimezone(UTC).replace(tzinfo=None)
        if dated is None or landed_utc is None:
            continue
        due, period = expected_arrival(source.schedule, dated)
        # schedules are China Standard Time, as in the DAGs
        landed = landed_utc.replace(tzinfo=UTC).astimezone(SCHEDULE_TIMEZONE).replace(tzinfo=None)
        late_days = max((landed - due).total_seconds(), 0.0) / 86400
        rows.append((f["source_id"], prefecture, "timeliness", float(landed <= due + period), 1.0))
        rows.append((f["source_id"], prefecture, "lateness_days", late_days, 1.0))
    return spark.createDataFrame(rows, LONG_SCHEMA)


# --------------------------------------------------------------------------------- aggregation


def score_cells(long: DataFrame, departments: DataFrame) -> DataFrame:
    """Sum the long counts per (prefecture, department, indicator); value = numerator / denominator.

    ``departments``: (source_id, department). ``lateness_days`` is averaged (days per file), the rest
    are shares in [0, 1].
    """
    from pyspark.sql import functions as F

    return (
        long.join(departments, "source_id")
        .groupBy("prefecture", "department", "indicator")
        .agg(F.sum("numerator").alias("numerator"), F.sum("denominator").alias("denominator"))
        .withColumn("value", F.col("numerator") / F.col("denominator"))
    )
