"""Bronze suites generated from the registry: content, JSON round trip, checked-in files, GX project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govlake.registry import load_registry, parse_registry
from jobs.quality.suites import (
    LINEAGE_COLUMNS,
    SUITES_DIR,
    SuiteNotFound,
    bronze_suite,
    bronze_suites,
    list_suites,
    load_suite,
    stale_bronze_suites,
    suite_from_json,
    suite_path,
    suite_to_json,
    write_bronze_suites,
)


def _configs(suite) -> list[tuple[str, str]]:
    return [
        (e.expectation_type, json.dumps(e.configuration.kwargs, sort_keys=True, default=str))
        for e in suite.expectations
    ]


def test_bronze_suite_content():
    dataset = load_registry().datasets["household_registration"]
    suite = bronze_suite(dataset)
    assert suite.name == "bronze.household_registration"
    configs = [(e.expectation_type, e.configuration.kwargs) for e in suite.expectations]
    exist = [k["column"] for t, k in configs if t == "expect_column_to_exist"]
    assert exist == [*dataset.column_names, *LINEAGE_COLUMNS]
    not_null = [k["column"] for t, k in configs if t == "expect_column_values_to_not_be_null"]
    assert not_null == ["record_no", "name", *LINEAGE_COLUMNS]
    assert ("expect_compound_columns_to_be_unique", {"column_list": ["_file_hash", "_row_number"]}) in configs


def test_generated_suite_json_round_trips(tmp_path: Path):
    registry = load_registry()
    paths = write_bronze_suites(registry, tmp_path)
    assert len(paths) == len(registry.datasets)
    for suite, path in zip(bronze_suites(registry), paths, strict=True):
        assert path == suite_path(suite.name, tmp_path)
        text = path.read_text(encoding="utf-8")
        again = suite_from_json(text)
        assert again.name == suite.name
        assert _configs(again) == _configs(suite)
        assert again.meta["dataset"] == suite.meta["dataset"]
        assert suite_to_json(again) == text  # stable: regenerating gives the same bytes
        assert load_suite(suite.name, tmp_path).name == suite.name
    assert stale_bronze_suites(registry, tmp_path) == []
    # an orphan (dataset gone from the registry) is reported, then removed on rewrite
    orphan = suite_path("bronze.gone", tmp_path)
    orphan.write_text(paths[0].read_text(encoding="utf-8"), encoding="utf-8")
    assert stale_bronze_suites(registry, tmp_path) == ["bronze.gone"]
    write_bronze_suites(registry, tmp_path)
    assert not orphan.exists()


def test_checked_in_bronze_suites_are_up_to_date():
    assert stale_bronze_suites() == [], "run `python -m jobs.quality.suites` and commit expectations/"
    names = list_suites()
    assert {f"bronze.{d}" for d in load_registry().datasets} <= set(names)
    assert (SUITES_DIR / "bronze" / "household_registration.json").is_file()
    with pytest.raises(SuiteNotFound):
        load_suite("bronze.no_such_dataset")


def test_province_level_sources_may_have_no_prefecture(spark, settings):
    from pyspark.sql import Row

    from jobs.quality.gx_runner import validate_dataframe

    doc = {
        "datasets": {
            "admin_divisions": {
                "library": "geography",
                "row_key": ["code"],
                "columns": {"code": {"required": True}, "name": {}},
            }
        },
        "sources": [
            {
                "id": "ad_prov",
                "department": "civil_affairs",
                "dataset": "admin_divisions",
                "prefecture": None,
                "format": "csv",
                "columns": {"代码": "code"},
                "classification": "general",
                "owner": "x",
                "schedule": "@daily",
            },
            {
                "id": "ad_3201",
                "department": "civil_affairs",
                "dataset": "admin_divisions",
                "prefecture": "3201",
                "format": "csv",
                "columns": {"代码": "code"},
                "classification": "general",
                "owner": "x",
                "schedule": "@daily",
            },
        ],
    }
    (suite,) = bronze_suites(parse_registry(doc))
    (prefecture,) = [
        e
        for e in suite_from_json(suite_to_json(suite)).expectations
        if e.expectation_type == "expect_column_values_to_not_be_null" and e.column == "_prefecture"
    ]
    assert "ad_prov" in str(prefecture.row_condition)

    def row(source: str, prefecture: str | None, n: int) -> Row:
        return Row(
            code=f"32{n:04d}",
            name="x",
            _source_id=source,
            _prefecture=prefecture,
            _batch_id="b",
            _file_hash=source,
            _row_number=n,
            _ingested_at="2026-01-01",
        )

    schema = (
        "code string, name string, _source_id string, _prefecture string, _batch_id string, "
        "_file_hash string, _row_number int, _ingested_at string"
    )
    ok = spark.createDataFrame([row("ad_prov", None, 1), row("ad_3201", "3201", 1)], schema)
    ok.cache()
    assert validate_dataframe(
        ok, suite, table="t.ok", settings=settings, record=False, build_docs=False
    ).success
    assert ok.storageLevel.useMemory  # the caller's cache is left in place
    ok.unpersist()
    bad = spark.createDataFrame([row("ad_prov", None, 1), row("ad_3201", None, 1)], schema)
    outcome = validate_dataframe(bad, suite, table="t.bad", settings=settings, record=False, build_docs=False)
    assert [(o.column, o.unexpected_count) for o in outcome.failed] == [("_prefecture", 1)]


def test_versioned_project_opens_as_a_file_context_without_writing_to_git(settings):
    from jobs.quality.context import GX_YML, gx_runtime_root, open_project, runtime_project_config

    before = {p: p.read_bytes() for p in GX_YML.parent.rglob("*") if p.is_file()}
    context = open_project(settings)
    assert "bronze.household_registration" in {s.name for s in context.suites.all()}
    after = {p: p.read_bytes() for p in GX_YML.parent.rglob("*") if p.is_file()}
    assert after == before  # nothing scaffolded, nothing rewritten
    # runtime output is configured into the lake's quality zone, never into the repo
    config = runtime_project_config(settings)
    root = gx_runtime_root(settings)
    assert root.startswith(settings.zone("quality"))
    assert config["stores"]["validation_results_store"]["store_backend"]["base_directory"].startswith(root)
    assert config["data_docs_sites"]["local_site"]["store_backend"]["base_directory"].startswith(root)
    assert config["stores"]["expectations_store"]["store_backend"]["class_name"] == "InMemoryStoreBackend"


def test_runtime_output_on_an_s3_lake_goes_to_its_quality_prefix():
    from govlake.config import load_settings
    from jobs.quality.context import data_docs_index, runtime_project_config

    s3 = load_settings(
        {"GOVLAKE_STORAGE_ROOT": "s3a://lake/prod", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    )
    config = runtime_project_config(s3)
    results = config["stores"]["validation_results_store"]["store_backend"]
    # GX 1.x has no S3 backend: the lake's own, through govlake.storage, with no secret in the config
    assert results == {
        "module_name": "jobs.quality.gx_store",
        "class_name": "LakeStoreBackend",
        "storage_root": "s3a://lake/prod",
        "base_location": "s3a://lake/prod/quality/gx/validations/",
    }
    assert data_docs_index(s3) == "s3a://lake/prod/quality/gx/data_docs/local_site/index.html"
