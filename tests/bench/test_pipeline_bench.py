"""``govlake bench`` end to end at a CI-sized scale: every ratio of issue #15 is measured and plausible.

The scale is 1,500 persons (the committed figures are at 20,000: bench/results/pipeline-20000.md),
small enough that the two pipeline runs, the floor and the sharing queries stay within a CI budget.
"""

from __future__ import annotations

import json
import os

import pytest

SCALE = 1500

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from bench.pipeline import run_pipeline_bench

    out = tmp_path_factory.mktemp("bench_results")
    before = {k: os.environ.get(k) for k in ("GOVLAKE_PERSON_ID_KEY", "GOVLAKE_SHARE_TOKEN_KEY")}
    measured = run_pipeline_bench(SCALE, out, seed=3, work=tmp_path_factory.mktemp("bench_work"))
    assert {k: os.environ.get(k) for k in before} == before  # the run's throw-away keys are gone
    written = json.loads((out / f"pipeline-{SCALE}.json").read_text(encoding="utf-8"))
    assert written == measured
    assert (out / f"pipeline-{SCALE}.md").read_text(encoding="utf-8").startswith("# Whole-pipeline benchmark")
    return measured


def test_every_step_ran_and_passed_its_gate(result):
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph

    stages = result["full_run"]["stages"]
    assert sorted(s["step"] for s in stages) == sorted(s.name for s in pipeline_graph(load_registry()).steps)
    assert not [s["step"] for s in stages if s["failed"]]
    assert not [s["step"] for s in stages if s["skipped"]]  # a fresh lake: nothing is up to date


def test_rows_in_are_accepted_plus_quarantined_over_every_file(result):
    files = [f for s in result["full_run"]["stages"] for f in s["files"]]
    assert len(files) == result["data"]["files"]
    assert sum(f["rows_in"] or 0 for f in files) == sum(
        (f["rows_accepted"] or 0) + (f["rows_quarantined"] or 0) for f in files
    )
    ingested = sum(s["rows"] for s in result["full_run"]["stages"] if s["kind"] == "ingest")
    assert 0.9 * result["data"]["rows"] <= ingested <= result["data"]["rows"]  # a rejected file reads short


def test_every_ratio_is_measured_with_a_plausible_value(result):
    r = result["ratios"]
    assert 1 < r["bronze_to_floor"] < 100
    assert r["bronze_to_floor"] < r["pipeline_to_floor"] < 1000
    assert r["native_vs_udf"] > 1  # the built-in rule beats a row-at-a-time Python UDF
    assert 0.5 < r["incremental_to_full"] < 2  # incremental silver is not implemented: a full rebuild
    assert 0.005 < r["increment_rows_to_full_rows"] < 0.05
    assert r["gates"] and all(g["gate_to_build"] is not None and g["gate_to_build"] > 0 for g in r["gates"])
    assert r["gate_to_build_max"] == max(g["gate_to_build"] for g in r["gates"])
    assert set(r["met"]) == set(result["targets"])


def test_native_and_udf_agree_on_every_row(result):
    ids = result["ids"]
    assert ids["rows"] > SCALE and 0 < ids["valid"] < ids["rows"]
    assert ids["disagreements"] == 0, ids["examples"]


def test_incremental_run_loads_only_the_new_files(result):
    inc = result["incremental"]
    files = [f for s in inc["run"]["stages"] for f in s["files"]]
    assert len(files) == inc["files"] and all("20250701" in f["original_name"] for f in files)


def test_entity_resolution_is_scored_against_the_truth(result):
    res = result["resolution"]
    assert res["records"] > SCALE and res["pairs_compared"] > 0
    assert res["records_per_second"] > 0 and res["pairs_per_second"] > 0
    assert 0.8 < res["probabilistic_precision"] <= 1 and 0.5 < res["probabilistic_recall"] <= 1


def test_sharing_served_concurrent_recipients(result):
    sh = result["sharing"]
    assert sh["concurrent_clients"] == 3 and sh["queries"] > 3 * sh["rounds"]
    assert sh["rows_read"] > 0 and sh["queries_per_second"] > 0
    assert 0 < sh["load_table"]["median_ms"] <= sh["load_table"]["p95_ms"] <= sh["load_table"]["max_ms"]


def test_the_configured_lake_is_refused(tmp_path, monkeypatch):
    from bench.pipeline import LakeRefused, scratch_lake_root

    monkeypatch.setenv("GOVLAKE_STORAGE_ROOT", str(tmp_path / "lake"))
    with pytest.raises(LakeRefused):
        scratch_lake_root(tmp_path)
    with pytest.raises(LakeRefused):
        scratch_lake_root(tmp_path / "lake" / "inside")
    assert scratch_lake_root(tmp_path / "elsewhere") == (tmp_path / "elsewhere" / "lake").resolve()
