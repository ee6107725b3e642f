"""The bronze gate validates the rows appended since the published version (jobs.quality.appended_slice)
when that gives the whole table's verdict, and the whole table otherwise; the outcome says which."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from govlake.lake import Lake, Publication
from govlake.lake.published import MAINTENANCE_SUITE
from jobs.quality import gate as gate_module
from jobs.quality.gate import QualityGateFailed, gate_tables
from jobs.quality.gx_runner import VALIDATIONS, read_validations
from jobs.quality.suites import bronze_suite_of, suite_fingerprint, suite_from_json, suite_to_json

TABLE = "bronze.household_registration"
A, B, C = "a" * 64, "b" * 64, "c" * 64
NOT_NULL_NAME = "expect_column_values_to_not_be_null(column='name')"
UNIQUE_ROW = "expect_compound_columns_to_be_unique(column_list=['_file_hash', '_row_number'])"


@pytest.fixture
def lake(spark, own_lake, request) -> Lake:
    """A fresh lake per test: the bronze table id is the real one, its versions are this test's."""
    return Lake(own_lake(f"slice_{request.node.name[:40]}"), spark)


@pytest.fixture
def quality_log(caplog):
    caplog.set_level(logging.INFO, logger="govlake.quality")
    return caplog


def _gate(lake: Lake):
    return gate_tables(lake, "test", "bronze", [TABLE])


def _only_outcome(result):
    (outcome,) = result.outcomes
    return outcome


def _records(spark, lake: Lake):
    return (
        read_validations(spark, lake.settings)
        .where(f"`table` = '{TABLE}'")
        .orderBy("validated_at")
        .select("delta_version", "passed", "row_count", "scope", "since_version", "suite_fingerprint")
        .collect()
    )


def test_first_gate_validates_the_whole_table(spark, lake, rows, write):
    write(lake.path(TABLE), rows(4))
    result = _gate(lake)
    outcome = _only_outcome(result)
    assert outcome.passed and outcome.delta_version == 0
    assert (outcome.since_version, outcome.scope, outcome.row_count) == (None, "whole table", 4)
    assert "4 rows (whole table)" in outcome.summary()
    assert (
        "published bronze.household_registration @ Delta v0 (validated 4 rows, whole table)"
        in result.report()
    )
    (record,) = _records(spark, lake)
    assert (record.delta_version, record.passed, record.row_count) == (0, True, 4)
    assert (record.scope, record.since_version) == ("whole table", None)
    # the fingerprint recorded is the one of the suite run: what the next gate looks for
    assert record.suite_fingerprint == suite_fingerprint(bronze_suite_of("household_registration"))


def test_second_gate_validates_only_the_appended_rows(spark, lake, rows, write, quality_log):
    path = lake.path(TABLE)
    write(path, rows(50))  # v0: file A
    assert _gate(lake).published[0].delta_version == 0
    write(path, rows(7, file_hash=B), mode="append")  # v1: file B
    result = _gate(lake)
    outcome = _only_outcome(result)
    assert outcome.passed and outcome.delta_version == 1
    assert (outcome.since_version, outcome.scope, outcome.row_count) == (0, "appended since v0", 7)
    assert all(e.element_count in (None, 7) for e in outcome.expectations)
    assert "7 rows (appended since v0)" in outcome.summary()
    assert "@ Delta v1 (validated 7 rows, appended since v0)" in result.report()
    assert "validating the 7 row(s) appended since v0" in quality_log.text
    # what is published is the whole version
    (publication,) = result.published
    assert publication.delta_version == 1 and lake.read_published(TABLE).count() == 57
    assert "appended since v0" in lake.publications()[TABLE].summary

    write(path, rows(3, file_hash=C), mode="append")  # v2: file C, sliced from v1 now
    outcome = _only_outcome(_gate(lake))
    assert (outcome.delta_version, outcome.since_version, outcome.row_count) == (2, 1, 3)
    records = _records(spark, lake)
    assert [(r.delta_version, r.row_count, r.scope, r.since_version) for r in records] == [
        (0, 50, "whole table", None),
        (1, 7, "appended since v0", 0),
        (2, 3, "appended since v1", 1),
    ]


def test_an_appended_null_fails_the_gate_although_the_old_rows_are_fine(spark, lake, rows, write):
    path = lake.path(TABLE)
    write(path, rows(5))
    _gate(lake)
    bad = rows(3, file_hash=B)
    bad[1]["name"] = None
    write(path, bad, mode="append")  # v1
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert (outcome.delta_version, outcome.since_version, outcome.row_count) == (1, 0, 3)
    assert {o.label for o in outcome.failed} == {NOT_NULL_NAME}
    assert outcome.failed[0].unexpected_count == 1
    assert "1 of 3 rows unexpected" in str(failed.value) and "(appended since v0)" in str(failed.value)
    assert lake.published_version(TABLE) == 0

    # a clean file after it: the slice is still taken from the published v0, so the bad row is in it
    write(path, rows(4, file_hash=C), mode="append")  # v2
    with pytest.raises(QualityGateFailed) as again:
        _gate(lake)
    assert (again.value.outcome.since_version, again.value.outcome.row_count) == (0, 7)
    assert {o.label for o in again.value.outcome.failed} == {NOT_NULL_NAME}
    assert lake.published_version(TABLE) == 0 and lake.read_published(TABLE).count() == 5


def test_a_file_loaded_again_under_a_published_hash_is_validated_whole(spark, lake, rows, write, quality_log):
    path = lake.path(TABLE)
    write(path, rows(5))  # v0: file A
    _gate(lake)
    write(path, rows(2), mode="append")  # v1: rows 1-2 of file A once more (a duplicate landing)
    write(path, rows(3, file_hash=B), mode="append")  # v2: file B
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert (outcome.delta_version, outcome.since_version, outcome.scope) == (2, None, "whole table")
    assert outcome.row_count == 10
    assert {o.label for o in outcome.failed} == {UNIQUE_ROW}
    assert outcome.failed[0].unexpected_count == 4  # rows 1 and 2 of A, twice each
    assert "1 file(s) of v0 have other row counts in v2, e.g. aaaaaaaaaaaa: 7 rows, not 5" in quality_log.text
    assert lake.published_version(TABLE) == 0


def test_a_version_that_removed_rows_is_validated_whole(spark, lake, rows, write, quality_log):
    path = lake.path(TABLE)
    write(path, rows(5))  # v0
    _gate(lake)
    write(path, rows(3, file_hash=B), mode="append")  # v1
    spark.sql(f"DELETE FROM delta.`{path}` WHERE _file_hash = '{A}' AND _row_number = 2")  # v2
    outcome = _only_outcome(_gate(lake))
    assert outcome.passed and outcome.delta_version == 2
    assert (outcome.since_version, outcome.scope, outcome.row_count) == (None, "whole table", 7)
    assert "rows changed since v0: v2 DELETE" in quality_log.text


def test_an_update_of_a_published_row_is_validated_whole_although_the_counts_add_up(
    spark, lake, rows, write, quality_log
):
    """The counts cannot see an UPDATE (or a DELETE plus a re-append): the Delta history does."""
    path = lake.path(TABLE)
    write(path, rows(5))  # v0
    _gate(lake)
    spark.sql(f"UPDATE delta.`{path}` SET name = NULL WHERE _row_number = 4")  # v1
    write(path, rows(3, file_hash=B), mode="append")  # v2: count(v2) = 5 + 3
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert (outcome.since_version, outcome.row_count) == (None, 8)
    assert {o.label for o in outcome.failed} == {NOT_NULL_NAME}
    assert "rows changed since v0: v1 UPDATE" in quality_log.text


def test_a_changed_suite_validates_the_whole_table(spark, lake, rows, write, monkeypatch, quality_log):
    """A published version passed the suite of its day: a stricter suite judges every row again."""
    path = lake.path(TABLE)
    write(path, rows(5))  # phone is null in every row
    _gate(lake)
    write(path, rows(3, file_hash=B), mode="append")  # v1

    def stricter(dataset, registry=None):
        doc = json.loads(suite_to_json(bronze_suite_of(dataset, registry)))
        doc["expectations"].append(
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "phone"}, "meta": {}}
        )
        return suite_from_json(json.dumps(doc))

    monkeypatch.setattr(gate_module, "bronze_suite_of", stricter)
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert (outcome.since_version, outcome.row_count) == (None, 8)
    (broken,) = outcome.failed
    assert broken.label == "expect_column_values_to_not_be_null(column='phone')"
    assert broken.unexpected_count == 8
    assert "no recorded pass of v0 against this suite" in quality_log.text


def test_validations_recorded_before_scopes_still_append_and_the_next_gate_slices(spark, lake, rows, write):
    """A validations table written without the scope columns: appends add them (older rows read
    null), and a pass recorded without a fingerprint is not trusted for a slice."""
    path = lake.path(TABLE)
    write(path, rows(5))
    _gate(lake)
    records_path = lake.path(VALIDATIONS)
    old = spark.read.format("delta").load(records_path).drop("scope", "since_version", "suite_fingerprint")
    old.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(records_path)
    assert "scope" not in spark.read.format("delta").load(records_path).columns

    write(path, rows(3, file_hash=B), mode="append")  # v1: v0's pass has no fingerprint -> whole
    assert _only_outcome(_gate(lake)).since_version is None
    write(path, rows(2, file_hash=C), mode="append")  # v2: v1's pass has one -> slice
    assert _only_outcome(_gate(lake)).since_version == 1
    records = _records(spark, lake)
    assert [(r.delta_version, r.row_count, r.scope, r.since_version) for r in records] == [
        (0, 5, None, None),
        (1, 8, "whole table", None),
        (2, 2, "appended since v1", 1),
    ]
    assert records[0].suite_fingerprint is None and records[2].suite_fingerprint


def test_a_maintenance_republication_stands_for_the_version_it_compacted(spark, lake, rows, write):
    """Housekeeping republishes a compaction of v_P as v_M (suite maintenance): the slice is taken
    from v_M, trusting the recorded pass of v_P."""
    from delta.tables import DeltaTable

    path = lake.path(TABLE)
    write(path, rows(5))  # v0
    write(path, rows(5, file_hash=B), mode="append")  # v1
    (published,) = _gate(lake).published  # v1: whole table
    DeltaTable.forPath(spark, path).optimize().executeCompaction()  # v2: same rows, one file
    compacted = lake.latest_version(TABLE)
    assert compacted == 2
    now = datetime.now(UTC)
    lake.publish(
        [
            Publication(
                TABLE,
                path,
                compacted,
                MAINTENANCE_SUITE,
                "maintenance-run",
                now,
                now,
                json.dumps({"same_data_as": [published.delta_version], "note": "test"}),
            )
        ]
    )
    write(path, rows(4, file_hash=C), mode="append")  # v3
    outcome = _only_outcome(_gate(lake))
    assert outcome.passed and (outcome.delta_version, outcome.since_version, outcome.row_count) == (3, 2, 4)


def test_a_published_version_that_cannot_be_read_any_more_means_the_whole_table(
    spark, lake, rows, write, quality_log
):
    """VACUUM after a compaction removed the published version's files: nothing to compare with."""
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    from delta.tables import DeltaTable

    path = lake.path(TABLE)
    write(path, rows(5))  # v0
    _gate(lake)
    published_files = set(spark.read.format("delta").option("versionAsOf", 0).load(path).inputFiles())
    write(path, rows(3, file_hash=B), mode="append")  # v1
    DeltaTable.forPath(spark, path).optimize().executeCompaction()  # v2: v0's files are tombstones
    assert not published_files & set(spark.read.format("delta").load(path).inputFiles())
    for uri in published_files:  # what VACUUM does to them once they are old enough
        Path(unquote(urlparse(uri).path)).unlink()
    outcome = _only_outcome(_gate(lake))
    assert outcome.passed and (outcome.delta_version, outcome.since_version, outcome.row_count) == (
        2,
        None,
        8,
    )
    assert "v0 cannot be compared" in quality_log.text
