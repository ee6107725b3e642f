"""The suites every silver table must pass before it is published for sharing.

One suite per gated table of the three base libraries (the tables are the catalogue's:
``registry/lake.yaml``), in the order the gate takes them (references before the tables that point
at them). The expectation part of each suite is also written to ``expectations/expectations/silver/``
so quality officers can read it in git and in Data Docs; the derived checks (checksums, foreign keys,
one current version per key) are computed with Spark at validation time (see
:mod:`jobs.quality.silver`).

Severities (:class:`jobs.quality.silver.Severity`) follow what a quality officer expects: keys, golden
identifiers and a library's own consistency (crosswalk <-> golden records) **fail**; implausible
rows of a records table (dates out of range, death before birth, coordinates outside Jiangsu) are
**dropped** to ``quarantine.silver_<library>`` while the table is built; references to other libraries
and soft plausibility on golden records **warn**.

Thresholds are exact (``mostly=1``) unless a figure says otherwise: silver keeps a flagged record rather
than hiding it (an ID whose checksum fails stays in ``person_records`` with ``id_valid = false``), so
the checks below test what silver *promises*, e.g. "id_valid is true exactly when the checksum is
right", and that golden records carry only valid identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobs.quality.silver import Severity, SilverSuite
from jobs.silver.incremental import FILE_OF_RECORD_KEY_SQL

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DROP, WARN = Severity.DROP, Severity.WARN

#: Jiangsu's extent in WGS84 with a margin (the province spans about 116.3-121.9 E, 30.7-35.2 N).
JIANGSU_LON = (116.0, 122.5)
JIANGSU_LAT = (30.5, 35.5)
#: Earliest plausible dates: births of living records, founding of legal persons (PRC registrations).
EARLIEST_BIRTH = "1890-01-01"
EARLIEST_ESTABLISHMENT = "1949-10-01"

# The birth date an 18-digit ID carries, and its sex digit (odd: male "1", even: female "2").
ID_BIRTH_DATE = "to_date(substring(id_number, 7, 8), 'yyyyMMdd')"
ID_SEX = "CASE WHEN cast(substring(id_number, 17, 1) AS int) % 2 = 1 THEN '1' ELSE '2' END"


@dataclass(frozen=True)
class References:
    """The table versions a gate's reference checks read: table id -> (path, version).

    The tables of the library being gated are read at the versions being judged (they are published
    together), upstream libraries at the versions the build was pinned to. Built by the gate; a suite
    exported to git or used for drops at build time has none (its reference checks never run there).
    """

    versions: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    def reader(self, table_id: str) -> Callable[[SparkSession], DataFrame]:
        def read(spark: SparkSession) -> DataFrame:
            if table_id not in self.versions:
                raise LookupError(f"reference {table_id} has no pinned version in this gate run")
            path, version = self.versions[table_id]
            return spark.read.format("delta").option("versionAsOf", version).load(path)

        return read

    def current(self, table_id: str) -> Callable[[SparkSession], DataFrame]:
        """The current rows (``is_current``) of an SCD2 golden table."""
        read = self.reader(table_id)
        return lambda spark: read(spark).where("is_current")


# ------------------------------------------------------------------------------- references


def _admin_codes(refs: References) -> Callable[[SparkSession], DataFrame]:
    """The current codes of the GB/T 2260 gazetteer (reference data, the admin-division table's source).

    Population is built (and gated) before geography, so the check cannot wait for the geography
    library. Only current codes: the records' admin codes are current already (an abolished code
    sent is replaced by its successor, :mod:`jobs.silver.rules.admin_codes`), and an abolished one
    left (no successor) is worth a warning.
    """

    def read(spark: SparkSession) -> DataFrame:
        from govlake.reference.admin_divisions import jiangsu_divisions

        return spark.createDataFrame([(d.code,) for d in jiangsu_divisions()], "code string")

    return read


# ----------------------------------------------------------------------------------- suites


def _golden_history(suite: SilverSuite, key: str, entity: str) -> SilverSuite:
    """What every SCD2 golden table promises: one current version per ``key``, closed history."""
    return (
        suite.not_null(key, "name", "valid_from", "is_current")
        .unique_where(key, "is_current", name=f"one_current_version_per_{entity.replace(' ', '_')}")
        .unique(key, "valid_from", description=f"one history row per {entity} and validity start")
        .rule(
            "history_is_closed",
            "is_current = (valid_to IS NULL)",
            example_columns=[key, "valid_from", "valid_to"],
            description="exactly the current version has no valid_to",
        )
    )


def _crosswalk(
    suite: SilverSuite, refs: References, library: str, tables: tuple[str, str], key: str, entity: str
) -> SilverSuite:
    """What every crosswalk promises: each record of ``tables[0]`` linked once to a current golden
    record of ``tables[1]`` (both of the versions published with it: a library's own consistency)."""
    records, golden = (f"silver.{library}.{t}" for t in tables)
    return (
        suite.not_null("record_key", "source_id", key, "match_method")
        .unique("record_key", description=f"every source record is linked to exactly one {entity}")
        .foreign_key(
            "record_key",
            refs.reader(records),
            name=f"record_is_a_{entity.replace(' ', '_')}_record",
            reference_name=records,
        )
        .foreign_key(
            key,
            refs.current(golden),
            name=f"{entity.replace(' ', '_')}_has_a_golden_record",
            reference_name=f"{golden} (current)",
            example_columns=["record_key"],
        )
    )


def _dated(
    suite: SilverSuite, column: str, earliest: str, key: str, severity: Severity = DROP
) -> SilverSuite:
    """``column`` lies between ``earliest`` and today: a plausibility range (dropped rows by default).

    "Not in the future" is a derived check on ``current_date()``, so the suite's JSON in git does not
    change from one day to the next.
    """
    return suite.between(column, earliest, severity=severity, example_columns=[key]).rule(
        f"{column}_not_in_future",
        f"{column} <= current_date()",
        example_columns=[key, column],
        description=f"{column} is not in the future",
        severity=severity,
    )


def person_records_suite(refs: References) -> SilverSuite:
    suite = (
        SilverSuite("silver.population.person_records", meta={"library": "population"})
        .columns_exist("record_key", "source_id", "id_number", "id_valid", "name", "birth_date")
        .not_null("record_key", "source_id", "dataset", "file_hash", "row_number", "name", "id_valid")
        .unique("record_key")
        # source_id|file_hash|row_number|role (jobs.silver.incremental.bronze_record_key): the gate
        # validates only the files appended since the published version
        .appended_by_file("file_hash", key="record_key", file_of_key=FILE_OF_RECORD_KEY_SQL)
        .id_format("id_number", "citizen_id")
        .id_checksum("id_number", "citizen_id", example_columns=["record_key"])
        .rule(
            "id_valid_iff_standardized_id",
            "id_valid = (id_number IS NOT NULL)",
            example_columns=["record_key", "id_number_raw", "id_invalid_reason"],
            description="id_valid is true exactly when a standardized ID number was kept",
        )
        .in_set("sex", ["1", "2"], severity=WARN)
        .ordered("birth_date", "death_date", severity=DROP, example_columns=["record_key"])
        .matches("phone", r"^1[3-9]\d{9}$", description="mainland mobile number, 11 digits", severity=WARN)
    )
    return _dated(suite, "birth_date", EARLIEST_BIRTH, "record_key")


def crosswalk_suite(refs: References) -> SilverSuite:
    suite = SilverSuite("silver.population.crosswalk", meta={"library": "population"})
    return (
        _crosswalk(suite, refs, "population", ("person_records", "persons"), "person_id", "person")
        .in_set("match_method", ["id_number", "probabilistic", "singleton"])
        .between("match_probability", 0, 1)
    )


def persons_suite(refs: References) -> SilverSuite:
    history = _golden_history(
        SilverSuite("silver.population.persons", meta={"library": "population"}), "person_id", "person"
    )
    suite = (
        history.unique_where("id_number", "is_current", name="one_current_person_per_id_number")
        .id_format("id_number", "citizen_id")
        .id_checksum("id_number", "citizen_id", example_columns=["person_id"])
        .rule(
            "birth_date_matches_id",
            f"id_number IS NULL OR birth_date = {ID_BIRTH_DATE}",
            example_columns=["person_id", "id_number", "birth_date"],
            description="the birth date is the one the ID number carries",
        )
        .rule(
            "sex_matches_id",
            f"id_number IS NULL OR sex = {ID_SEX}",
            example_columns=["person_id", "id_number", "sex"],
            description="the sex is the one the ID number's 17th digit carries",
        )
        .in_set("sex", ["1", "2"], severity=WARN)
        # Identity lineage: a person closed by a merge points at the person it lives on as.
        .columns_exist("merged_into", "split_from")
        .rule(
            "merged_only_when_closed",
            "merged_into IS NULL OR (NOT is_current AND merged_into <> person_id)",
            example_columns=["person_id", "merged_into", "is_current"],
            description="only a closed version names the (other) person it was merged into",
        )
        .rule(
            "not_split_from_itself",
            "split_from IS NULL OR split_from <> person_id",
            example_columns=["person_id", "split_from"],
            description="a person split off another names that other person",
        )
        # Golden attributes come from several records: each was plausible alone (drops happen on
        # person_records), their combination is recorded when it is not.
        .ordered("birth_date", "death_date", severity=WARN)
        .ordered("valid_from", "valid_to", or_equal=False)
        .foreign_key(
            "admin_code",
            _admin_codes(refs),
            "code",
            name="admin_code_in_admin_divisions",
            reference_name="GB/T 2260 gazetteer (silver.geography.admin_divisions)",
            example_columns=["person_id"],
            severity=WARN,
        )
    )
    suite = _dated(suite, "birth_date", EARLIEST_BIRTH, "person_id", severity=WARN)
    return _dated(suite, "death_date", EARLIEST_BIRTH, "person_id", severity=WARN)


def legal_person_records_suite(refs: References) -> SilverSuite:
    suite = (
        SilverSuite("silver.legal_persons.records", meta={"library": "legal_persons"})
        .not_null("record_key", "source_id", "dataset", "name")
        .unique("record_key")
        .id_format("uscc", "uscc")
        .id_checksum("uscc", "uscc", example_columns=["record_key"])
        .rule(
            "uscc_kept_or_explained",
            "uscc IS NOT NULL OR uscc_raw IS NULL OR uscc_invalid_reason IS NOT NULL"
            " OR org_code IS NOT NULL OR registration_no IS NOT NULL",
            example_columns=["record_key", "uscc_raw"],
            description="a code sent as the USCC is kept, recognised as a legacy organization code or"
            " registration number, or has its invalid reason recorded",
        )
    )
    return _dated(suite, "established_on", EARLIEST_ESTABLISHMENT, "record_key")


def legal_person_crosswalk_suite(refs: References) -> SilverSuite:
    suite = SilverSuite("silver.legal_persons.crosswalk", meta={"library": "legal_persons"})
    return _crosswalk(
        suite, refs, "legal_persons", ("records", "legal_persons"), "legal_person_id", "legal person"
    )


def legal_persons_suite(refs: References) -> SilverSuite:
    history = _golden_history(
        SilverSuite("silver.legal_persons.legal_persons", meta={"library": "legal_persons"}),
        "legal_person_id",
        "legal person",
    )
    suite = (
        history.id_format("uscc", "uscc")
        .id_checksum("uscc", "uscc", example_columns=["legal_person_id"])
        .matches(
            "industry_code",
            r"^[A-T](\d{2}|\d{3}|\d{4})?$",
            description="a GB/T 4754-2017 code: section letter, then division, group or class digits",
        )
        .foreign_key(
            "legal_representative_person_id",
            refs.reader("silver.population.persons"),
            "person_id",
            name="legal_representative_is_a_person",
            reference_name="silver.population.persons (the version this build read)",
            example_columns=["legal_person_id", "legal_representative_name"],
            severity=WARN,
        )
        .foreign_key(
            "admin_code",
            _admin_codes(refs),
            "code",
            name="admin_code_in_admin_divisions",
            reference_name="GB/T 2260 gazetteer (silver.geography.admin_divisions)",
            example_columns=["legal_person_id", "registered_address"],
            severity=WARN,
        )
    )
    return _dated(suite, "established_on", EARLIEST_ESTABLISHMENT, "legal_person_id", severity=WARN)


def admin_divisions_suite(refs: References) -> SilverSuite:
    from govlake.reference.admin_divisions import JIANGSU_UNMAPPABLE
    from jobs.quality.silver import with_foreign_key_flag

    table = "silver.geography.admin_divisions"
    unmappable = ", ".join(f"'{code}'" for code in sorted(JIANGSU_UNMAPPABLE))

    def current_parent_is_current(df: DataFrame, flag: str) -> DataFrame:
        from pyspark.sql import functions as F

        checked = with_foreign_key_flag(df, flag, "parent_code", refs.current(table), "code")
        return checked.withColumn(flag, F.col(flag) | ~F.col("is_current"))

    return (
        SilverSuite(table, meta={"library": "geography"})
        .not_null("code", "name", "level", "is_current")
        .unique("code")
        .matches("code", r"^32\d{4}$", description="a six-digit GB/T 2260 code in Jiangsu (32)")
        .in_set("level", ["province", "city", "district"])
        .ordered("valid_from_year", "valid_to_year")
        .rule(
            "only_the_province_has_no_parent",
            "(level = 'province') = (parent_code IS NULL)",
            example_columns=["code", "level", "parent_code"],
        )
        .rule(
            "current_iff_no_end_year",
            "is_current = (valid_to_year IS NULL)",
            example_columns=["code", "valid_from_year", "valid_to_year"],
            description="a code is current exactly when its validity has no end year",
        )
        .rule(
            "current_code_has_no_successor",
            "NOT is_current OR successor_code IS NULL",
            example_columns=["code", "name", "successor_code"],
            description="only an abolished code has a successor",
        )
        .rule(
            "abolished_code_has_a_successor",
            f"is_current OR successor_code IS NOT NULL OR code IN ({unmappable})",
            example_columns=["code", "name", "valid_to_year"],
            description="an abolished code has a successor, unless it is one of the 1983 prefectures"
            " (地区) whose counties went to several cities",
        )
        .foreign_key(
            "successor_code",
            refs.current(table),
            "code",
            name="successor_is_a_current_division",
            reference_name="silver.geography.admin_divisions (current)",
            example_columns=["code", "name"],
        )
        .foreign_key(
            "parent_code",
            refs.reader(table),
            "code",
            name="parent_is_a_division",
            reference_name="silver.geography.admin_divisions",
        )
        .derived(
            "current_parent_is_current",
            current_parent_is_current,
            description="a current division's parent is current",
            example_columns=["code", "name", "parent_code"],
        )
    )


def address_points_suite(refs: References) -> SilverSuite:
    return (
        SilverSuite("silver.geography.address_points", meta={"library": "geography"})
        .not_null("address_id")
        # A point whose coordinates could not be read or converted has no place on the map.
        .not_null("lon_wgs84", "lat_wgs84", "h3_cell", severity=DROP)
        .unique("address_id")
        .between("lon_wgs84", *JIANGSU_LON, severity=DROP, example_columns=["address_id"])
        .between("lat_wgs84", *JIANGSU_LAT, severity=DROP, example_columns=["address_id"])
        .in_set("crs_sent", ["WGS84", "GCJ02"], severity=WARN)
        .foreign_key(
            "admin_code",
            _admin_codes(refs),
            "code",
            name="admin_code_in_admin_divisions",
            reference_name="GB/T 2260 gazetteer (silver.geography.admin_divisions)",
            example_columns=["address_id"],
            severity=WARN,
        )
    )


def grid_cells_suite(refs: References) -> SilverSuite:
    return (
        SilverSuite("silver.geography.grid_cells", meta={"library": "geography"})
        .not_null("h3_cell", "address_points", "persons", "legal_persons")
        .unique("h3_cell")
        .between("address_points", 1)
        .between("persons", 0)
        .between("legal_persons", 0)
        .foreign_key(
            "h3_cell",
            refs.reader("silver.geography.address_points"),
            name="cell_has_address_points",
            reference_name="silver.geography.address_points",
        )
    )


#: Every gated silver table's suite, by catalogue table id.
SUITES: dict[str, Callable[[References], SilverSuite]] = {
    "silver.population.person_records": person_records_suite,
    "silver.population.persons": persons_suite,
    "silver.population.crosswalk": crosswalk_suite,
    "silver.legal_persons.records": legal_person_records_suite,
    "silver.legal_persons.legal_persons": legal_persons_suite,
    "silver.legal_persons.crosswalk": legal_person_crosswalk_suite,
    "silver.geography.admin_divisions": admin_divisions_suite,
    "silver.geography.address_points": address_points_suite,
    "silver.geography.grid_cells": grid_cells_suite,
}


def silver_suite(table_id: str, refs: References | None = None) -> SilverSuite:
    """The suite of one silver table (``refs``: the gate's pinned references; none at build time)."""
    try:
        build = SUITES[table_id]
    except KeyError:
        raise LookupError(f"no silver suite for {table_id} (jobs/quality/silver_suites.py)") from None
    return build(refs or References())


# ---------------------------------------------------------------------------- suites in git


def silver_suites() -> list[Any]:
    """Every silver suite's GX part (derived checks appear as expectations on ``_dq_*`` columns)."""
    return [silver_suite(table_id).expectation_suite() for table_id in SUITES]
