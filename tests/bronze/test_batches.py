"""Load batches: one Delta commit per table for many files, planned before anything is written, so a
crash mid-batch and a re-run (even with new files arrived meanwhile) still load each row once."""

from __future__ import annotations

import json

import pytest

from govlake import storage
from govlake.lake import Lake

HEADER = "记录号|身份证号|姓名|出生日期|住址"


def _household(prefix: str, rows: int, bad: int = 0) -> bytes:
    lines = [HEADER] + [f"{prefix}{i}|{i}|某{i}|19900101|地址{i}" for i in range(1, rows + 1)]
    lines += [f"{prefix}X{i}|short" for i in range(bad)]  # wrong field count: quarantined
    return ("\n".join(lines) + "\n").encode("gbk")


def _deaths(prefix: str, rows: int, undated: int = 0) -> bytes:
    """Death records; the last ``undated`` have an impossible required date, which Spark flags (the
    reader finds them sound)."""
    return "".join(
        json.dumps(
            {
                "cert": f"{prefix}{i}",
                "xm": f"某{i}",
                "swrq": "2024-13-45" if i > rows - undated else "2024-01-02",
            },
            ensure_ascii=False,
        )
        + "\n"
        for i in range(1, rows + 1)
    ).encode("utf-8")


def _writes(spark, settings, table_id: str) -> int:
    path = Lake(settings).path(table_id)
    return spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("operation = 'WRITE'").count()


def _rows(spark, settings, table_id: str, column: str, prefix: str) -> list[str]:
    frame = spark.read.format("delta").load(Lake(settings).path(table_id))
    return sorted(r[0] for r in frame.where(frame[column].startswith(prefix)).select(column).collect())


def _land(settings, source_id: str) -> list[tuple[str, str]]:
    from jobs.raw.land import land_new_files

    return [(f["source_id"], f["file_hash"]) for f in land_new_files(source_id, settings)]


def test_many_files_of_two_datasets_take_one_commit_per_table(spark, bronze_settings, drop):
    from jobs.bronze.load import INGEST_LOG, QUARANTINE, load_files

    settings = bronze_settings
    for i in range(3):
        drop(settings, "test_household_gbk", f"one_{i}.csv", _household(f"B{i}-", 4, bad=1))
    drop(settings, "test_deaths_json", "one.jsonl", _deaths("BD", 3))
    files = _land(settings, "test_household_gbk") + _land(settings, "test_deaths_json")
    tables = ("bronze.household_registration", "bronze.death_records", QUARANTINE, INGEST_LOG)
    before = {
        t: _writes(spark, settings, t) if storage.exists(settings, _first(settings, t)) else 0 for t in tables
    }

    results = load_files(files, settings)

    assert sorted((r["rows_in"], r["rows_accepted"], r["rows_quarantined"]) for r in results) == [
        (3, 3, 0),
        (5, 4, 1),
        (5, 4, 1),
        (5, 4, 1),
    ]
    assert len({r["batch"]["id"] for r in results}) == 1
    assert {t: _writes(spark, settings, t) - before[t] for t in tables} == dict.fromkeys(tables, 1)
    assert len(_rows(spark, settings, "bronze.household_registration", "record_no", "B")) == 12
    assert _rows(spark, settings, "bronze.death_records", "certificate_no", "BD") == ["BD1", "BD2", "BD3"]
    assert not storage.list_files(settings, Lake(settings).location("bronze.batches"))  # plan deleted

    again = load_files(files, settings)
    assert {r["status"] for r in again} == {"ALREADY_LOADED"}
    assert {t: _writes(spark, settings, t) - before[t] for t in tables} == dict.fromkeys(tables, 1)


def _dying_at_the_log(append):
    """``append`` that loses power just before the ingest-log commit (bronze, quarantine committed)."""

    def die_at_the_log(df, path, app_id):
        if path.endswith("_ingest_log"):
            raise OSError("power cut before the ingest-log commit")
        append(df, path, app_id)

    return die_at_the_log


def _first(settings, table_id: str) -> str:
    return f"{Lake(settings).path(table_id)}/_delta_log/{0:020d}.json"


def test_planning_is_stable_and_an_open_plan_is_taken_as_it_was(bronze_settings, drop):
    from jobs.bronze.load import Batch, load_files, plan_batches

    settings = bronze_settings
    drop(settings, "test_household_gbk", "plan_a.csv", _household("PA", 2))
    first = _land(settings, "test_household_gbk")
    [planned] = plan_batches(settings, first)
    assert plan_batches(settings, first) == [planned]  # the same plan, not a second one

    drop(settings, "test_household_gbk", "plan_b.csv", _household("PB", 2))
    both = _land(settings, "test_household_gbk")
    assert len(both) == 2
    batches = plan_batches(settings, both)
    assert batches[0] == planned  # the unfinished batch first, its files unchanged
    assert batches[1] == Batch.of(set(both) - set(first))
    results = load_files(both, settings)  # the planned batch, then the new one: nothing left open
    assert sorted(r["batch"]["id"] for r in results) == sorted(b.batch_id for b in batches)
    assert not storage.list_files(settings, Lake(settings).location("bronze.batches"))


def test_crash_after_bronze_commit_then_rerun_with_a_new_file_loads_each_row_once(
    spark, bronze_settings, drop, monkeypatch
):
    import jobs.bronze.load as load

    settings = bronze_settings
    drop(settings, "test_household_gbk", "crash_1.csv", _household("CR1-", 5, bad=1))
    drop(settings, "test_household_gbk", "crash_2.csv", _household("CR2-", 3))
    first = _land(settings, "test_household_gbk")
    real_append = load._append_once
    monkeypatch.setattr(load, "_append_once", _dying_at_the_log(real_append))
    with pytest.raises(OSError, match="power cut"):
        load.load_files(first, settings)
    monkeypatch.setattr(load, "_append_once", real_append)
    # Bronze and quarantine committed; the files are not marked loaded; the plan is still there.
    assert len(_rows(spark, settings, "bronze.household_registration", "record_no", "CR")) == 8
    assert storage.list_files(settings, Lake(settings).location("bronze.batches"))

    drop(settings, "test_household_gbk", "crash_3.csv", _household("CR3-", 2))
    pending = _land(settings, "test_household_gbk")
    assert len(pending) == 3
    results = load.load_files(pending, settings)

    assert sorted(r["original_name"] for r in results) == ["crash_1.csv", "crash_2.csv", "crash_3.csv"]
    assert len({r["batch"]["id"] for r in results}) == 2  # the planned batch, then a new one
    records = _rows(spark, settings, "bronze.household_registration", "record_no", "CR")
    assert len(records) == len(set(records)) == 10  # 5 + 3 + 2, none twice
    quarantine = _rows(spark, settings, "quarantine.bronze_rows", "raw_text", "CR1-X")
    assert len(quarantine) == 1
    log_rows = spark.read.format("delta").load(Lake(settings).path("bronze._ingest_log"))
    names = [r[0] for r in log_rows.where("original_name LIKE 'crash_%'").select("original_name").collect()]
    assert sorted(names) == ["crash_1.csv", "crash_2.csv", "crash_3.csv"]
    assert not storage.list_files(settings, Lake(settings).location("bronze.batches"))


def test_a_file_whose_count_disagrees_is_held_back_and_the_rest_of_its_batch_loads(
    spark, bronze_settings, drop, monkeypatch
):
    import jobs.bronze.load as load

    settings = bronze_settings
    drop(settings, "test_household_gbk", "count_ok.csv", _household("CO", 3))
    drop(settings, "test_household_gbk", "count_bad.csv", _household("CB", 3))
    files = _land(settings, "test_household_gbk")
    [bad] = [f for f in files if _name(settings, f) == "count_bad.csv"]
    real_count = load.count_records

    def miscount(extract, source, encoding):  # an independent count that disagrees with the reader
        counted = real_count(extract, source, encoding)
        return counted + 1 if extract.path.endswith(bad[1]) else counted

    monkeypatch.setattr(load, "count_records", miscount)
    with pytest.raises(
        load.AccountingError, match=r"count_bad\.csv .* hold 4 records but the reader staged 3 sound"
    ):
        load.load_files(files, settings)
    monkeypatch.setattr(load, "count_records", real_count)

    assert _rows(spark, settings, "bronze.household_registration", "record_no", "CO") == ["CO1", "CO2", "CO3"]
    assert _rows(spark, settings, "bronze.household_registration", "record_no", "CB") == []
    assert not storage.exists(settings, _marker(settings, bad))  # stays to load, in raw
    assert not storage.list_files(settings, Lake(settings).location("bronze.batches"))


def test_worker_processes_stage_a_batch_with_the_same_outcome(spark, bronze_settings, drop, monkeypatch):
    """With ``ingest_workers`` > 1 a big enough batch is staged by spawned processes: the same rows,
    quarantine and refusals as one process reading the files in turn."""
    import dataclasses

    import jobs.bronze.load as load

    settings = dataclasses.replace(bronze_settings, ingest_workers=2)
    for i in range(3):
        drop(settings, "test_household_gbk", f"par_{i}.csv", _household(f"PW{i}-", 4 + i, bad=1))
    drop(settings, "test_deaths_json", "par.jsonl", _deaths("PWD", 2))
    drop(settings, "test_enterprise_xlsx", "par.xlsx", b"PK\x03\x04 not a workbook")
    files = (
        _land(settings, "test_household_gbk")
        + _land(settings, "test_deaths_json")
        + _land(settings, "test_enterprise_xlsx")
    )
    monkeypatch.setattr(load, "PARALLEL_STAGING_MIN_BYTES", 0)

    def not_here(*args, **kwargs):  # the workers import their own copy of the module
        raise AssertionError("staged in the loader's process, not by a worker")

    monkeypatch.setattr(load, "stage_file", not_here)
    results = load.load_files(files, settings)

    outcome = sorted(
        (r["original_name"], r["status"], r["rows_in"], r["rows_quarantined"])
        for r in results
        if r["original_name"].startswith("par")  # not count_bad.csv, held back above
    )
    assert outcome == [
        ("par.jsonl", "LOADED", 2, 0),
        ("par.xlsx", "REJECTED", 0, 0),
        ("par_0.csv", "LOADED_WITH_QUARANTINE", 5, 1),
        ("par_1.csv", "LOADED_WITH_QUARANTINE", 6, 1),
        ("par_2.csv", "LOADED_WITH_QUARANTINE", 7, 1),
    ]
    assert all(r["read_seconds"] > 0 for r in results)
    assert len(_rows(spark, settings, "bronze.household_registration", "record_no", "PW")) == 15
    assert len(_rows(spark, settings, "quarantine.bronze_rows", "raw_text", "PW")) == 3


def test_spark_counts_each_files_accepted_and_flagged_records(spark, bronze_settings, drop):
    """Files of two datasets read together (one read per dataset): each file keeps its own counts,
    its records their own reasons."""
    import jobs.bronze.load as load

    settings = bronze_settings
    drop(settings, "test_deaths_json", "SF_a.jsonl", _deaths("SFA", 5, 2))
    drop(settings, "test_deaths_json", "SF_b.jsonl", _deaths("SFB", 4, 0))
    drop(settings, "test_household_gbk", "SF_c.csv", _household("SFC", 3, bad=2))
    files = _land(settings, "test_deaths_json") + _land(settings, "test_household_gbk")

    results = load.load_files(files, settings)

    outcome = {r["original_name"]: (r["rows_in"], r["rows_accepted"], r["rows_quarantined"]) for r in results}
    assert {k: v for k, v in outcome.items() if k.startswith("SF")} == {
        "SF_a.jsonl": (5, 3, 2),
        "SF_b.jsonl": (4, 4, 0),
        "SF_c.csv": (5, 3, 2),
    }
    assert len(_rows(spark, settings, "bronze.death_records", "certificate_no", "SF")) == 7
    quarantine = spark.read.format("delta").load(Lake(settings).path("quarantine.bronze_rows"))
    held = quarantine.where(quarantine.raw_text.contains("SF")).groupBy("_file_hash", "reason_code").count()
    name_of = {h: _name(settings, (s, h)) for s, h in files}
    assert sorted((name_of[r["_file_hash"]], r["reason_code"], r["count"]) for r in held.collect()) == [
        ("SF_a.jsonl", "UNPARSEABLE_REQUIRED_VALUE", 2),
        ("SF_c.csv", "WRONG_FIELD_COUNT", 2),
    ]


def test_a_file_spark_miscounts_is_held_back_and_loads_on_a_rerun(spark, bronze_settings, drop, monkeypatch):
    """Spark's accepted + flagged must equal the records staged: a file it miscounts is written
    nowhere and stays unloaded; the next run loads it."""
    import jobs.bronze.load as load

    settings = bronze_settings
    drop(settings, "test_deaths_json", "short_count.jsonl", _deaths("SC", 4, 1))
    files = _land(settings, "test_deaths_json")
    real_count = load._count

    def one_short(sound):
        return {file: (ok - 1, flagged) for file, (ok, flagged) in real_count(sound).items()}

    monkeypatch.setattr(load, "_count", one_short)
    with pytest.raises(load.AccountingError, match="4 sound records staged but Spark counted 2 accepted"):
        load.load_files(files, settings)
    monkeypatch.setattr(load, "_count", real_count)
    assert not storage.exists(settings, _marker(settings, files[0]))
    assert _rows(spark, settings, "bronze.death_records", "certificate_no", "SC") == []

    [again] = load.load_files(files, settings)
    assert (again["rows_in"], again["rows_accepted"], again["rows_quarantined"]) == (4, 3, 1)
    assert len(_rows(spark, settings, "bronze.death_records", "certificate_no", "SC")) == 3


def _name(settings, file: tuple[str, str]) -> str:
    from jobs.raw.land import read_metadata

    return read_metadata(settings, *file).original_name


def _marker(settings, file: tuple[str, str]) -> str:
    from jobs.raw.land import loaded_marker_path

    return loaded_marker_path(settings, *file)


def test_bronze_keeps_stats_only_for_the_columns_it_is_read_by(bronze_settings, drop):
    """Delta's per-file min/max on every column cost a third of the bronze append; bronze keeps
    them for its lineage columns (file, batch, row, load time) only."""
    from jobs.bronze.load import BRONZE_STATS_COLUMNS, load_files

    settings = bronze_settings
    drop(settings, "test_household_gbk", "stats.csv", _household("ST", 3))
    load_files(_land(settings, "test_household_gbk"), settings)
    log = Lake(settings).path("bronze.household_registration") + "/_delta_log"
    newest = max(f.path for f in storage.list_files(settings, log) if f.path.endswith(".json"))
    adds = [
        json.loads(line)["add"]
        for line in storage.read_bytes(settings, newest).splitlines()
        if b'"add"' in line
    ]
    assert adds
    for add in adds:
        stats = json.loads(add["stats"])
        assert stats["numRecords"] > 0
        assert set(stats["minValues"]) <= set(BRONZE_STATS_COLUMNS.split(","))
        assert "_file_hash" in stats["minValues"]


def test_ingesting_one_source_reports_and_gates_another_sources_files_of_an_unfinished_batch(
    spark, bronze_settings, drop, monkeypatch
):
    """``govlake ingest --source A`` after a batch of A's and B's files died: the open plan is
    loaded whole, so B's files are reported under B's step and B's bronze table is gated (published)
    in the same run, not left loaded but unpublished until B's next run."""
    import jobs.bronze.load as load
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import run_steps

    settings = bronze_settings
    drop(settings, "test_household_gbk", "mixed.csv", _household("MX", 3))
    drop(settings, "test_deaths_json", "mixed.jsonl", _deaths("MXD", 2))
    files = _land(settings, "test_household_gbk") + _land(settings, "test_deaths_json")
    real_append = load._append_once
    monkeypatch.setattr(load, "_append_once", _dying_at_the_log(real_append))
    with pytest.raises(OSError, match="power cut"):
        load.load_files(files, settings)
    monkeypatch.setattr(load, "_append_once", real_append)

    lake = Lake(settings, spark)
    graph = pipeline_graph(load_registry(settings.registry_path))
    runs = {run.step.name: run for run in run_steps(graph, lake, [graph.step("ingest.test_household_gbk")])}

    assert set(runs) == {"ingest.test_household_gbk", "ingest.test_deaths_json"}
    deaths = runs["ingest.test_deaths_json"]
    assert [f["original_name"] for f in deaths.files] == ["mixed.jsonl"]
    for run in runs.values():
        assert run.failed is None and run.gate is not None, run.step.name
    for table in ("bronze.death_records", "bronze.household_registration"):
        assert lake.published_version(table) == lake.latest_version(table), table
    assert _rows(spark, settings, "bronze.death_records", "certificate_no", "MXD") == ["MXD1", "MXD2"]
