"""The publish gate end to end on tiny bronze tables: pass -> published, defects -> refused, recorded;
readers are served the published version only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from govlake.lake import Lake, NotPublished
from jobs.quality.context import data_docs_index
from jobs.quality.gate import QualityGateFailed, gate_tables
from jobs.quality.gx_runner import read_validations
from jobs.quality.suites import bronze_suite_name

TABLE = "bronze.household_registration"
SUITE = bronze_suite_name("household_registration")


@pytest.fixture
def lake(spark, own_lake, request) -> Lake:
    """A fresh lake per test: the bronze table id is the real one, its versions are this test's."""
    return Lake(own_lake(f"gate_{request.node.name[:40]}"), spark)


def _gate(lake: Lake):
    return gate_tables(lake, "test", "bronze", [TABLE])


def test_clean_version_is_published_defective_one_is_not(spark, lake, rows, write, caplog):
    from pyspark.sql import functions as F

    path = lake.path(TABLE)
    assert lake.published_version(TABLE) is None
    with pytest.raises(NotPublished):
        lake.read_published(TABLE)

    # v0: clean -> passes and is published
    write(path, rows(4))
    (publication,) = _gate(lake).published
    assert (publication.delta_version, publication.suite) == (0, SUITE)
    assert lake.published_version(TABLE) == 0
    assert sorted(r.record_no for r in lake.read_published(TABLE).collect()) == [
        "R000001",
        "R000002",
        "R000003",
        "R000004",
    ]
    # a re-run validates nothing
    again = _gate(lake)
    assert not again.published and not again.outcomes and again.already_published == (TABLE,)

    # v1: append rows with a null required column, a null lineage column and a re-loaded row
    bad = rows(3, start=5)
    bad[0]["name"] = None
    bad[1]["_batch_id"] = None
    bad[2]["_row_number"] = 1  # same (_file_hash, _row_number) as a v0 row
    write(path, bad, mode="append")
    assert lake.latest_version(TABLE) == 1

    caplog.set_level(logging.WARNING, logger="govlake.quality")
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    outcome = failed.value.outcome
    assert not outcome.passed and outcome.delta_version == 1 and outcome.row_count == 7
    by_label = {o.label: o for o in outcome.failed}
    assert set(by_label) == {
        "expect_column_values_to_not_be_null(column='name')",
        "expect_column_values_to_not_be_null(column='_batch_id')",
        "expect_compound_columns_to_be_unique(column_list=['_file_hash', '_row_number'])",
    }
    assert by_label["expect_column_values_to_not_be_null(column='name')"].unexpected_count == 1
    duplicate = by_label["expect_compound_columns_to_be_unique(column_list=['_file_hash', '_row_number'])"]
    assert duplicate.unexpected_count == 2
    assert {"_file_hash": "a" * 64, "_row_number": 1} in duplicate.examples
    # the error names the failed expectations with examples, and so does the task log
    message = str(failed.value)
    assert "not published" in message and "FAILED bronze." in message
    assert "expect_column_values_to_not_be_null(column='name'): 1 of 7 rows unexpected" in message
    assert '"_row_number": 1' in message
    assert "expect_compound_columns_to_be_unique" in caplog.text

    # nothing was published: readers still get v0, and a pin taken now says v0
    assert lake.published_version(TABLE) == 0
    assert lake.read_published(TABLE).count() == 4
    pins = lake.pin([TABLE])
    assert pins[TABLE] == 0 and pins.read(spark, TABLE).count() == 4

    # v2: the defects are fixed -> the gate moves on
    write(path, rows(7))
    assert _gate(lake).published[0].delta_version == 2
    assert lake.published_version(TABLE) == 2
    assert lake.read_published(TABLE).count() == 7
    # the pin taken before still reads what it pinned: a run sees one version from start to end
    assert pins.read(spark, TABLE).count() == 4

    # every validation is recorded, pass and fail
    runs = (
        read_validations(spark, lake.settings)
        .where(F.col("table") == TABLE)
        .orderBy("validated_at")
        .select("delta_version", "passed", "suite", "failed", "failed_expectations", "expectations")
        .collect()
    )
    assert [(r.delta_version, r.passed) for r in runs] == [(0, True), (1, False), (2, True)]
    assert all(r.suite == SUITE for r in runs)
    assert runs[1].failed == 3 and set(runs[1].failed_expectations) == set(by_label)
    recorded = {e.expectation_type + ":" + (e.column or ""): e for e in runs[1].expectations}
    assert recorded["expect_column_values_to_not_be_null:name"].unexpected_count == 1
    assert recorded["expect_column_values_to_not_be_null:name"].severity == "fail"
    assert recorded["expect_column_values_to_not_be_null:record_no"].success

    # Data Docs: built on every validation, in the quality zone
    index = Path(data_docs_index(lake.settings))
    assert index.is_file() and index.is_relative_to(Path(lake.settings.zone("quality")))
    assert SUITE in index.read_text(encoding="utf-8")
    assert outcome.data_docs_url and Path(outcome.data_docs_url.removeprefix("file://")).is_file()


def test_missing_column_fails_with_a_readable_error(spark, lake, rows, write):
    from pyspark.sql import functions as F

    path = lake.path(TABLE)
    write(path, rows(2))
    spark.read.format("delta").load(path).drop("name").withColumn("x", F.lit(1)).write.format("delta").mode(
        "overwrite"
    ).option("overwriteSchema", "true").save(path)
    with pytest.raises(QualityGateFailed) as failed:
        _gate(lake)
    failed_labels = {o.label for o in failed.value.outcome.failed}
    assert "expect_column_to_exist(column='name')" in failed_labels
    not_null = next(o for o in failed.value.outcome.failed if o.label.endswith("not_be_null(column='name')"))
    assert not_null.error  # GX could not compute it: the column is gone
    assert lake.published_version(TABLE) is None


def test_pins_refuse_unpublished_tables_and_undeclared_inputs(spark, lake):
    from govlake.lake.context import StepContext

    with pytest.raises(ValueError, match="not a published table"):
        lake.pin(["bronze._ingest_log"])
    ctx = StepContext.open(lake, "test", [TABLE, "bronze._ingest_log"])
    assert ctx.pins[TABLE] is None and ctx.read(TABLE) is None  # never published: nothing to read
    with pytest.raises(KeyError, match=r"does not declare silver\.population\.persons"):
        ctx.read("silver.population.persons")


def test_an_unchanged_version_built_from_newer_inputs_is_published_again_with_them(lake, rows, write):
    """A build that read newer inputs but changed no row: the same version, re-validated and
    published with the new lineage, so the step is up to date afterwards."""
    write(lake.path(TABLE), rows(2))
    (first,) = gate_tables(lake, "test", "bronze", [TABLE], inputs={"bronze.birth_records": 1}).published
    again = gate_tables(lake, "test", "bronze", [TABLE], inputs={"bronze.birth_records": 2})
    (republished,) = again.published
    assert republished.delta_version == first.delta_version == 0 and not again.already_published
    assert lake.publications()[TABLE].inputs == {"bronze.birth_records": 2}
    settled = gate_tables(lake, "test", "bronze", [TABLE], inputs={"bronze.birth_records": 2})
    assert not settled.published and settled.already_published == (TABLE,)
