"""The maintenance step compacts and vacuums without changing a row or losing a published version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govlake.lake import Lake

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
#: Published, unpartitioned, 8 files per version (one per shuffle partition); legal persons read it.
#: (Bronze tables are partitioned by source: one file per partition, nothing to compact.)
MANY_FILES = "silver.population.persons"
DOWNSTREAM = "silver.legal_persons"
ONE_ROW_COMMITS = "bronze._ingest_log"  # one row per file: many tiny files, never published
STALE = "bronze.death_records"  # gets a newer version that no gate passed


@pytest.fixture(scope="module")
def lake(built_lake, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return built_lake.copy(tmp_path_factory.mktemp("maintenance") / "lake")


@pytest.fixture(scope="module")
def graph(lake):
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph(load_registry(lake.settings.registry_path), lake.catalogue)


def _rows(df) -> list[tuple]:
    return sorted(tuple(str(v) for v in row) for row in df.collect())


@pytest.fixture(scope="module")
def maintained(spark, lake, graph):
    """State before, one maintenance run with a zero retention floor, and a second run."""
    from jobs.maintenance.housekeeping import maintain_tables
    from jobs.pipeline.run import up_to_date

    before = {t: _rows(lake.read_published(t)) for t in (MANY_FILES, STALE)}
    # A build after the published version whose gate never passed: it tombstones the published files.
    stale_published = lake.published_version(STALE)
    lake.read_latest(STALE).limit(1).write.format("delta").mode("overwrite").save(lake.path(STALE))
    silver_current = up_to_date(graph.step(DOWNSTREAM), lake)

    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    spark.conf.set(check, "false")  # a zero floor, so that the test sees what VACUUM would delete
    try:
        tables = (MANY_FILES, ONE_ROW_COMMITS, STALE)
        first = maintain_tables(lake, tables, run_id="t1", min_retention=timedelta(0))
        second = maintain_tables(lake, tables, run_id="t2", min_retention=timedelta(0))
    finally:
        spark.conf.unset(check)
    return {
        "before": before,
        "stale_published": stale_published,
        "silver_current": silver_current,
        "first": first,
        "second": second,
    }


def test_compaction_changes_no_published_row_and_is_republished(lake, maintained):
    counts = maintained["first"][MANY_FILES]
    assert counts["files_before"] > 1 and counts["files_after"] < counts["files_before"]
    assert maintained["first"]["republished"][MANY_FILES] == counts["versions"][1]
    assert lake.published_version(MANY_FILES) == lake.latest_version(MANY_FILES)
    assert _rows(lake.read_published(MANY_FILES)) == maintained["before"][MANY_FILES]
    publication = lake.publications()[MANY_FILES]
    assert publication.suite == "maintenance" and counts["versions"][0] in publication.same_data_as


def test_a_compacted_input_rebuilds_nothing_downstream(lake, graph, maintained):
    from jobs.pipeline.run import up_to_date

    assert maintained["silver_current"]
    assert up_to_date(graph.step(DOWNSTREAM), lake)  # its population input was only compacted


def test_vacuum_never_deletes_the_files_of_the_version_in_force(lake, maintained):
    assert lake.published_version(STALE) == maintained["stale_published"]  # the unvalidated one is not
    assert STALE not in maintained["first"]["republished"]
    assert maintained["first"][STALE]["vacuum_retention_hours"] >= 1
    assert _rows(lake.read_published(STALE)) == maintained["before"][STALE]


def test_unpublished_small_files_are_compacted_and_vacuumed(maintained):
    counts = maintained["first"][ONE_ROW_COMMITS]
    assert counts["files_before"] > 1 and counts["files_after"] == 1
    assert counts["files_vacuumed"] >= counts["files_before"]  # zero floor: the old files go at once


def test_retention_settings_are_set(lake):
    props = {
        r["key"]: r["value"]
        for r in lake.spark.sql(f"SHOW TBLPROPERTIES delta.`{lake.path(MANY_FILES)}`").collect()
    }
    assert props["delta.deletedFileRetentionDuration"] == "interval 7 days"
    assert props["delta.logRetentionDuration"] == "interval 30 days"
    assert props["delta.checkpointInterval"] == "10"


def test_a_second_run_changes_nothing(maintained):
    second = maintained["second"]
    assert second["republished"] == {}
    for table in (MANY_FILES, ONE_ROW_COMMITS, STALE):
        versions = second[table]["versions"]
        assert versions[0] == versions[1], table
        assert not second[table]["properties_set"]


def test_retention_covers_the_commit_that_tombstoned_the_published_files():
    from jobs.maintenance.housekeeping import MIN_VACUUM_RETENTION, vacuum_retention

    now = datetime(2026, 12, 1, tzinfo=UTC)
    times = {5: now - timedelta(days=40), 6: now - timedelta(days=30), 7: now - timedelta(days=1)}
    assert vacuum_retention(7, 7, times, now) == MIN_VACUUM_RETENTION  # the newest is in force
    assert vacuum_retention(None, 7, times, now) == MIN_VACUUM_RETENTION  # never published
    assert vacuum_retention(5, 7, times, now) == timedelta(days=30, hours=1)  # v6 tombstoned v5's files
    assert vacuum_retention(6, 7, times, now) == MIN_VACUUM_RETENTION  # v7 is a day old: a week covers it
