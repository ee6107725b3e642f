"""A records table appended file by file (person_records) is gated on the files appended since the
published version, with the published version's warnings added (jobs.quality.appended_slice); a
suite that cannot be judged so is validated whole."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from govlake.lake import Lake
from jobs.quality.appended_slice import BRONZE_FILE_COLUMN, not_sliceable
from jobs.quality.gate import QualityGateFailed, gate_tables
from jobs.quality.gx_runner import read_validations
from jobs.quality.silver import SilverSuite
from jobs.quality.silver_suites import References, silver_suite
from jobs.quality.suites import bronze_suites

TABLE = "silver.population.person_records"
A, B, C = "a" * 64, "b" * 64, "c" * 64
SCHEMA = (
    "record_key string, source_id string, dataset string, file_hash string, row_number int, name string,"
    " id_number string, id_number_raw string, id_invalid_reason string, id_valid boolean, sex string,"
    " phone string, birth_date date, death_date date"
)
SEX_WARNING = "expect_column_values_to_be_in_set"


def _records(n: int, file_hash: str, *, start: int = 1, sex: str = "1") -> list[tuple]:
    lineage = ("hh_3201", "household_registration", file_hash)  # source_id, dataset, file_hash
    no_id = (None, None, None, False)  # id_number, id_number_raw, id_invalid_reason, id_valid
    rest = (sex, None, date(1980, 1, 1), None)  # sex, phone, birth_date, death_date
    keys = [(i, f"hh_3201|{file_hash}|{i}|self") for i in range(start, start + n)]
    return [(key, *lineage, i, f"张{i}", *no_id, *rest) for i, key in keys]


@pytest.fixture
def lake(spark, own_lake, request) -> Lake:
    return Lake(own_lake(f"silver_slice_{request.node.name[:40]}"), spark)


@pytest.fixture
def append(spark, lake):
    def write(rows: list[tuple], mode: str = "append") -> None:
        spark.createDataFrame(rows, SCHEMA).write.format("delta").mode(mode).save(lake.path(TABLE))

    return write


def _gate(lake: Lake):
    (outcome,) = gate_tables(lake, "test", "silver", [TABLE]).outcomes
    return outcome


def _sex_warning(outcome):
    (warning,) = [e for e in outcome.expectations if e.expectation_type == SEX_WARNING and e.column == "sex"]
    return warning


# ------------------------------------------------------------------------------ which suites


def test_person_records_can_be_judged_on_a_slice_and_the_golden_tables_cannot():
    refs = References()
    records = silver_suite(TABLE, refs)
    assert records.appended_by == "file_hash" and not_sliceable(records, "file_hash") is None
    # SCD2 golden records: one current version per key is an aggregate, not a row
    persons = silver_suite("silver.population.persons", refs)
    assert persons.appended_by is None and not_sliceable(persons, "file_hash") is not None
    for suite in bronze_suites():  # what the bronze gate has always sliced
        assert not_sliceable(suite, BRONZE_FILE_COLUMN) is None, suite.name


def _tied() -> SilverSuite:
    return (
        SilverSuite("silver.x")
        .unique("record_key")
        .appended_by_file("file_hash", key="record_key", file_of_key="split_part(record_key, '|', 2)")
    )


def test_a_key_not_tied_to_the_file_or_a_share_of_rows_keeps_the_whole_table():
    untied = SilverSuite("silver.x").not_null("record_key").unique("record_key")
    assert "not tied to the file column" in not_sliceable(untied, "file_hash")
    assert not_sliceable(_tied(), "file_hash") is None
    assert "mostly < 1" in not_sliceable(_tied().not_null("name", mostly=0.9), "file_hash")
    assert "not a row-by-row" in not_sliceable(_tied().row_count_between(1), "file_hash")
    unique_current = _tied().unique_where("name", "birth_date IS NOT NULL")
    assert "not row-level" in not_sliceable(unique_current, "file_hash")


# ---------------------------------------------------------------------------------- the gate


def test_person_records_gate_validates_the_appended_files_and_counts_every_warning(
    spark, lake, append, caplog
):
    caplog.set_level(logging.INFO, logger="govlake.quality")
    append(_records(20, A) + _records(2, A, start=21, sex="9"), mode="overwrite")  # v0, 2 warnings
    first = _gate(lake)
    assert (first.delta_version, first.scope, first.row_count) == (0, "whole table", 22)
    assert _sex_warning(first).unexpected_count == 2

    append(_records(5, B) + _records(1, B, start=6, sex="9"))  # v1: one more warning
    second = _gate(lake)
    assert (second.delta_version, second.scope, second.row_count) == (1, "appended since v0", 6)
    assert "validating the 6 row(s) appended since v0" in caplog.text
    # the warning counts the whole version's rows, as a whole validation would
    warning = _sex_warning(second)
    assert (warning.success, warning.unexpected_count, warning.element_count) == (False, 3, 28)
    assert lake.published_version(TABLE) == 1 and lake.read_published(TABLE).count() == 28

    append(_records(4, C))  # v2: sliced from v1, whose record already holds v0's warnings
    third = _gate(lake)
    assert (third.since_version, third.row_count) == (1, 4)
    assert (_sex_warning(third).unexpected_count, _sex_warning(third).element_count) == (3, 32)
    recorded = read_validations(spark, lake.settings).where(f"`table` = '{TABLE}'").orderBy("delta_version")
    assert [(r.scope, r.row_count) for r in recorded.collect()] == [
        ("whole table", 22),
        ("appended since v0", 6),
        ("appended since v1", 4),
    ]


def test_an_appended_row_under_a_published_key_fails_the_slice(lake, append):
    """The slice holds only new files' rows, so it cannot see a key of the published version
    again: the rule tying the key to the row's file does (a whole validation's uniqueness would)."""
    append(_records(3, A), mode="overwrite")
    _gate(lake)
    (stolen,) = _records(1, A)  # record_key names file A ...
    append([(stolen[0], *stolen[1:3], B, *stolen[4:])])  # ... on a row of file B
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert (outcome.scope, outcome.row_count) == ("appended since v0", 1)
    assert [e.column for e in outcome.blocking] == ["_dq_record_key_names_its_file"]
    assert lake.published_version(TABLE) == 0
