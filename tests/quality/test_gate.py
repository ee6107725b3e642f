"""The publish gate end to end on tiny bronze tables: pass -> published, defects -> refused, recorded."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobs.quality.context import data_docs_index
from jobs.quality.gate import (
    NotPublished,
    QualityGateFailed,
    publish_if_valid,
    published_version,
    read_published,
)
from jobs.quality.gx_runner import latest_version, read_validations
from jobs.quality.suites import bronze_suite_name

SUITE = bronze_suite_name("household_registration")


def test_clean_version_is_published_defective_one_is_not(spark, settings, table_path, rows, write, caplog):
    from pyspark.sql import functions as F

    table = f"bronze.{Path(table_path).name}"
    assert published_version(table, spark=spark, settings=settings) is None
    with pytest.raises(NotPublished):
        read_published(spark, table, settings=settings)

    # v0: clean -> passes and is published
    write(table_path, rows(4))
    publication = publish_if_valid(table, table_path, SUITE, spark=spark, settings=settings)
    assert publication.delta_version == 0
    assert publication.suite == SUITE
    assert published_version(table, spark=spark, settings=settings) == 0
    assert sorted(r.record_no for r in read_published(spark, table, settings=settings).collect()) == [
        "R000001",
        "R000002",
        "R000003",
        "R000004",
    ]

    # v1: append rows with a null required column, a null lineage column and a re-loaded row
    bad = rows(3, start=5)
    bad[0]["name"] = None
    bad[1]["_batch_id"] = None
    bad[2]["_row_number"] = 1  # same (_file_hash, _row_number) as a v0 row
    write(table_path, bad, mode="append")
    assert latest_version(spark, table_path) == 1

    caplog.set_level(logging.WARNING, logger="govlake.quality")
    with pytest.raises(QualityGateFailed) as failed:
        publish_if_valid(table, table_path, SUITE, spark=spark, settings=settings)
    outcome = failed.value.outcome
    assert not outcome.success and outcome.delta_version == 1 and outcome.row_count == 7
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

    # nothing was published: readers still get v0
    assert published_version(table, spark=spark, settings=settings) == 0
    assert read_published(spark, table, settings=settings).count() == 4

    # v2: the defects are fixed -> the gate moves on
    fixed = rows(7)
    write(table_path, fixed)
    assert publish_if_valid(table, table_path, SUITE, spark=spark, settings=settings).delta_version == 2
    assert published_version(table, spark=spark, settings=settings) == 2
    assert read_published(spark, table, settings=settings).count() == 7

    # every validation is recorded, pass and fail
    runs = (
        read_validations(spark, settings)
        .where(F.col("table") == table)
        .orderBy("validated_at")
        .select("delta_version", "success", "suite", "failed", "failed_expectations", "expectations")
        .collect()
    )
    assert [(r.delta_version, r.success) for r in runs] == [(0, True), (1, False), (2, True)]
    assert all(r.suite == SUITE for r in runs)
    assert runs[1].failed == 3 and set(runs[1].failed_expectations) == set(by_label)
    recorded = {e.expectation_type + ":" + (e.column or ""): e for e in runs[1].expectations}
    assert recorded["expect_column_values_to_not_be_null:name"].unexpected_count == 1
    assert recorded["expect_column_values_to_not_be_null:record_no"].success

    # Data Docs: built on every validation, in the quality zone
    index = Path(data_docs_index(settings))
    assert index.is_file() and index.is_relative_to(Path(settings.zone("quality")))
    assert SUITE in index.read_text(encoding="utf-8")
    assert outcome.data_docs_url and Path(outcome.data_docs_url.removeprefix("file://")).is_file()


def test_missing_column_fails_with_a_readable_error(spark, settings, table_path, rows, write):
    from pyspark.sql import functions as F

    table = f"bronze.{Path(table_path).name}"
    write(table_path, rows(2))
    spark.read.format("delta").load(table_path).drop("name").withColumn("x", F.lit(1)).write.format(
        "delta"
    ).mode("overwrite").option("overwriteSchema", "true").save(table_path)
    with pytest.raises(QualityGateFailed) as failed:
        publish_if_valid(table, table_path, SUITE, spark=spark, settings=settings)
    failed_labels = {o.label for o in failed.value.outcome.failed}
    assert "expect_column_to_exist(column='name')" in failed_labels
    not_null = next(o for o in failed.value.outcome.failed if o.label.endswith("not_be_null(column='name')"))
    assert not_null.error  # GX could not compute it: the column is gone
    assert published_version(table, spark=spark, settings=settings) is None
