"""Every case of the hostile corpus, landed and loaded through jobs.pipeline.run, meets its expected fate.

Nothing is lost (the records in bronze and in quarantine are exactly 1..rows_in, each once), every
file has one ingest-log entry with a clear status, and each case stays within its time and memory
bound: landing and reading it (the streaming reader and the independent count), timed and sampled
per file (memory: growth of this process's resident set; Spark's JVM is shared by the test session
and not attributed to a case). The Spark part is one load batch for every case.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import hostile_corpus
import pytest

from govlake import storage


@pytest.fixture(scope="module")
def outcomes(spark, own_lake, tmp_path_factory, drop):
    import psutil

    import jobs.bronze.load as bronze_load
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import land, load, plan

    out = tmp_path_factory.mktemp("hostile_corpus")
    cases = hostile_corpus.write_corpus(out)
    # One staging process (the loader's own), so that each file's reading is sampled here.
    settings = dataclasses.replace(
        own_lake("hostile"), registry_path=(out / "sources.yaml").resolve(), ingest_workers=1
    )
    lake = Lake(settings, spark)
    graph = pipeline_graph(load_registry(settings.registry_path))
    process = psutil.Process()

    def sampled(call):
        """``call()``, its seconds and the growth of this process's resident memory meanwhile."""
        peak, done = [process.memory_info().rss], threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], process.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        before = process.memory_info().rss
        started = time.perf_counter()
        sampler.start()
        try:
            value = call()
        finally:
            done.set()
            sampler.join()
        return value, time.perf_counter() - started, (peak[0] - before) / 2**20

    # What a hostile file costs is landing and reading it: both are measured per case. The Spark
    # part (flagging, counting, the appends) is shared by one batch of every case, as a delivery's
    # files share one, and each file's fate is still its own (its summary, its log entry).
    reading: dict[tuple[str, str], tuple[float, float]] = {}
    real_stage = bronze_load.stage_file

    def stage_sampled(settings, source, dataset, raw_path, staging, lineage):
        outcome = {}

        def stage() -> None:
            try:
                outcome["staged"] = real_stage(settings, source, dataset, raw_path, staging, lineage)
            except bronze_load.FileRefused as refused:  # over a limit: its reading still counts
                outcome["refused"] = refused

        _, seconds, mib = sampled(stage)
        reading[(source.id, raw_path.rsplit("/", 1)[-1])] = (seconds, mib)
        if "refused" in outcome:
            raise outcome["refused"]
        return outcome["staged"]

    results, landed_files = {}, []
    for case in cases:
        step = graph.step(f"ingest.{case.source_id}")
        drop(settings, case.source_id, case.file, case.data)
        case.data = b""  # the corpus file is on disk; keep the test's own memory flat
        landed_now, seconds, mib = sampled(lambda step=step: land(step, lake))
        [landed] = [f for f in landed_now if f["original_name"] == case.file]
        landed_files.append(landed)
        results[case.name] = {"case": case, "landed": landed, "land": (seconds, mib)}

    any_step = graph.step(f"ingest.{cases[0].source_id}")  # a load step runs any source's files
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bronze_load, "stage_file", stage_sampled)
        loaded = {
            (r["source_id"], r["file_hash"]): r
            for batch in plan(lake, landed_files)
            for r in load(any_step, lake, batch)
        }
    for outcome in results.values():
        landed = outcome["landed"]
        read_seconds, read_mib = reading[(landed["source_id"], landed["file_hash"])]
        outcome["result"] = loaded[(landed["source_id"], landed["file_hash"])]
        outcome["seconds"] = outcome["land"][0] + read_seconds
        outcome["mib"] = max(outcome["land"][1], read_mib)
    tables = {
        "bronze": {},
        "quarantine": spark.read.format("delta").load(lake.path("quarantine.bronze_rows")).collect(),
        "log": spark.read.format("delta").load(lake.path("bronze._ingest_log")).collect(),
    }
    for dataset in {graph.step(f"ingest.{c.source_id}").outputs[0] for c in cases}:
        if lake.exists(dataset):
            tables["bronze"][dataset] = spark.read.format("delta").load(lake.path(dataset)).collect()
    timings = "\n".join(
        f"{name:<34} {r['seconds']:6.1f} s {r['mib']:6.0f} MiB  {r['result'].get('read_seconds')}"
        for name, r in results.items()
    )
    print(f"hostile corpus, per case:\n{timings}")
    return results, tables, settings, graph


@pytest.mark.parametrize("name", hostile_corpus.NAMES)
def test_case_meets_its_fate(outcomes, name):
    results, tables, settings, graph = outcomes
    outcome = results[name]
    case, landed, result = outcome["case"], outcome["landed"], outcome["result"]
    file_hash = landed["file_hash"]
    assert result["status"] == case.status, result
    assert result["file_reason"] == case.file_reason, result
    if case.rows_in is not None:
        assert result["rows_in"] == case.rows_in, result
    assert result["rows_accepted"] == case.accepted, result
    assert result["rows_in"] == result["rows_accepted"] + result["rows_quarantined"], result

    table = graph.step(f"ingest.{case.source_id}").outputs[0]
    bronze = [r for r in tables["bronze"].get(table, []) if r["_file_hash"] == file_hash]
    held = [r for r in tables["quarantine"] if r["_file_hash"] == file_hash]
    numbers = sorted([r["_row_number"] for r in bronze] + [r["_row_number"] for r in held])
    assert numbers == list(range(1, result["rows_in"] + 1)), "every record once, in bronze or in quarantine"
    reasons = {r["_row_number"]: r["reason_code"] for r in held}
    if case.reasons is not None:
        assert reasons == case.reasons
    elif case.file_reason:
        assert set(reasons.values()) <= {case.file_reason}
    else:
        assert reasons == {}
    assert all(r["raw_text"] is not None for r in held)

    [entry] = [r for r in tables["log"] if r["file_hash"] == file_hash and r["source_id"] == case.source_id]
    assert (entry["rows_in"], entry["rows_accepted"], entry["status"]) == (
        result["rows_in"],
        case.accepted,
        case.status,
    )
    # The raw copy stays, whatever the fate (a rejected file can be sent again, or read by hand).
    assert storage.exists(settings, landed["raw_path"])

    by_row = {r["_row_number"]: r for r in bronze}
    for check in case.checks:
        kind = check[0]
        if kind == "bronze":
            _, row, column, value = check
            assert by_row[row][column] == value, check
        elif kind == "extra":
            _, row, key, value = check
            assert by_row[row]["_extra"][key] == value, check
        elif kind == "quarantine":
            _, row, prefix = check
            assert {r["_row_number"]: r for r in held}[row]["raw_text"].startswith(prefix), check
        elif kind == "detail":
            _, row, text = check
            assert text in {r["_row_number"]: r for r in held}[row]["reason_detail"], check
        elif kind == "drift":
            assert len(entry["drift_columns"]) == check[1], check
        else:  # pragma: no cover
            raise AssertionError(f"unknown check {check}")

    assert outcome["seconds"] <= case.seconds, f"{outcome['seconds']:.1f} s"
    assert outcome["mib"] <= case.mib, f"{outcome['mib']:.0f} MiB"


def test_the_issue_case_ends_with_all_ten_rows(outcomes):
    """The 10-row household CSV whose row 4 has a 200,000-character address (issue #12)."""
    result = outcomes[0]["huge_field"]["result"]
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (10, 9, 1)
