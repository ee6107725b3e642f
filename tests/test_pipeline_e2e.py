"""End to end on generated extracts: every row accounted for against the generator's ground truth,
re-runs change nothing, and the base libraries meet their matching targets."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from lakehelpers import run_build

from govlake.lake import Lake
from govlake.registry import load_registry

# The silver fixture builds all three libraries inside one test's budget: allow for a slow machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# Truth reasons the bronze loader itself must catch (the rest are silver's business: bad checksums).
BRONZE_REASONS = {"truncated_file", "truncated_row", "wrong_field_count"}
SCALE, SEED = 300, 11


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def lake(spark, own_lake) -> Lake:
    """This module's own lake: other modules build silver tables in the session's lake, and the
    figures here (crosswalk exactly once, matching against this generation's truth) need only
    this module's extracts in it."""
    return Lake(own_lake("e2e_lake"), spark)


@pytest.fixture(scope="module")
def graph():
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph(load_registry())


def _run(graph, lake, kind):
    from jobs.pipeline.run import run_steps

    return list(run_steps(graph, lake, graph.of_kind(kind)))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic.generator import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, SCALE, SEED, progress=False)
    return out


@pytest.fixture(scope="module")
def ingested(spark, lake, graph, generated):
    from jobs.pipeline.graph import StepKind
    from synthetic.deliver import deliver_extracts

    delivered = deliver_extracts(generated / "landing", lake)
    runs = _run(graph, lake, StepKind.INGEST)
    assert not [r.step.name for r in runs if r.failed]
    return delivered, [f for r in runs for f in r.files]


def test_every_row_is_accounted_for(spark, lake, generated, ingested):
    delivered, results = ingested
    files = {f["file"]: f for f in _csv(generated / "truth" / "files.csv")}
    truth_rows = _csv(generated / "truth" / "rows.csv")
    assert delivered == len(files) == len(results)
    assert {r["source_id"] for r in results} == set(load_registry().sources)

    by_name = {r["original_name"]: r for r in results}
    expected_in = Counter(r["file"] for r in truth_rows)
    for name, result in by_name.items():
        assert result["rows_in"] == expected_in[name], name
        assert result["rows_in"] == result["rows_accepted"] + result["rows_quarantined"], name
        assert sorted(result["drift_columns"]) == sorted(
            filter(None, files[name]["drift_columns"].split(";"))
        )

    hash_to_name = {f["sha256"]: n for n, f in files.items()}
    quarantined = {
        (hash_to_name[r["_file_hash"]], r["_row_number"])
        for r in lake.read_latest("quarantine.bronze_rows").collect()
        if r["_file_hash"] in hash_to_name
    }
    expected = {
        (r["file"], int(r["row_number"])) for r in truth_rows if r["invalid_reason"] in BRONZE_REASONS
    }
    assert expected, "the generator should have made bronze-level defects at this scale"
    assert quarantined == expected
    truncated = [r for r in results if r["file_reason"] == "TRUNCATED_FILE"]
    assert len(truncated) == sum(f["truncated"] == "true" for f in files.values()) >= 1


def test_bronze_tables_hold_exactly_the_accepted_rows(spark, lake, ingested):
    _, results = ingested
    registry = load_registry()
    accepted = Counter()
    for r in results:
        accepted[r["dataset"]] += r["rows_accepted"]
    for dataset, expected in accepted.items():
        sources = [s.id for s in registry.sources_for(dataset)]
        table = lake.read_published(f"bronze.{dataset}")  # what the gate published: every accepted row
        assert table.where(table["_source_id"].isin(sources)).count() == expected, dataset


def test_delivering_the_same_files_again_changes_nothing(spark, lake, graph, generated, ingested):
    from jobs.pipeline.graph import StepKind
    from synthetic.deliver import deliver_extracts

    path = lake.path("bronze.household_registration")
    before = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    publications = lake.publications()
    deliver_extracts(generated / "landing", lake)
    runs = _run(graph, lake, StepKind.INGEST)
    assert [f for r in runs for f in r.files] == []
    assert all(not r.gate.published for r in runs if r.gate)
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == before
    assert lake.publications() == publications


@pytest.fixture(scope="module")
def silver(spark, lake, graph, ingested):
    from jobs.pipeline.graph import StepKind
    from jobs.pipeline.run import run_steps

    # the base libraries (the gold.marts build step has its own tests in tests/gold)
    runs = list(run_steps(graph, lake, [s for s in graph.of_kind(StepKind.BUILD) if s.library]))
    assert not [r.step.name for r in runs if r.failed]
    return {r.step.library: r.built["counts"] for r in runs}


def test_person_matching_meets_targets(spark, lake, generated, silver):
    """The stored match report (what `govlake run` publishes) meets the targets."""
    import json

    from govlake import storage
    from jobs.silver.population.match_report import report_folder, write_match_report

    returned = write_match_report(lake, generated / "truth")
    stored = json.loads(storage.read_bytes(lake.settings, f"{report_folder(lake)}/latest.json"))
    assert stored == json.loads(json.dumps(returned))
    assert stored["precision"] >= 0.99, stored
    assert stored["recall"] >= 0.97, stored
    assert stored["records_without_truth"] == 0, stored  # every silver record is a generated row
    assert stored["records_scored"] == stored["crosswalk_records"] > 0
    assert stored["pairs_compared"] > 0 and stored["backend"] == "duckdb"
    by_method = silver["population"]["resolution"]["records_by_method"]
    assert stored["records_by_method"] == {method: n for method, n in by_method.items() if n}


def test_every_accepted_person_mention_is_in_the_crosswalk_exactly_once(spark, lake, generated, silver):
    from pyspark.sql import functions as F

    from jobs.silver.population.match_report import truth_keys

    crosswalk = lake.read_published("silver.population.crosswalk")
    records = lake.read_published("silver.population.person_records")
    assert crosswalk.count() == crosswalk.select("record_key").distinct().count()  # each record once
    # Truth mentions whose row reached bronze (not quarantined): the crosswalk holds exactly those.
    quarantined = lake.read_latest("quarantine.bronze_rows").select("_file_hash", "_row_number")
    parts = F.split("record_key", r"\|")
    accepted = (
        truth_keys(spark, generated, load_registry())
        .withColumn("_file_hash", parts[1])
        .withColumn("_row_number", parts[2].cast("int"))
        .join(quarantined, ["_file_hash", "_row_number"], "left_anti")
        .select("record_key")
    )
    assert accepted.count() > 0
    assert accepted.exceptAll(crosswalk.select("record_key")).count() == 0
    assert crosswalk.select("record_key").exceptAll(accepted).count() == 0
    assert records.select("record_key").exceptAll(crosswalk.select("record_key")).count() == 0


def test_legal_person_industry_codes_carry_their_section(spark, lake, generated, silver):
    from govlake.reference.industry import section_of_division

    truth = {
        r["uscc"]: r["industry_code"] for r in _csv(generated / "truth" / "legal_persons.csv") if r["uscc"]
    }
    golden = lake.read_published("silver.legal_persons.legal_persons").where("is_current")
    compared = 0
    for row in golden.select("legal_person_id", "industry_code").collect():
        sent = truth.get(row["legal_person_id"])
        if sent and row["industry_code"] is not None:
            assert row["industry_code"] == section_of_division(int(sent[:2])) + sent, row
            compared += 1
    assert compared >= len(truth) // 2, (compared, len(truth))


def test_rebuilding_silver_on_the_same_bronze_writes_nothing(spark, lake, silver):
    paths = [lake.path(f"silver.population.{t}") for t in ("person_records", "crosswalk", "persons")]
    before = [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths]
    again = run_build(lake, "silver.population")  # the build itself, past the up-to-date check
    # The rebuild is incremental (a crosswalk and a model exist) and finds nothing new to link.
    assert again["resolution"]["incremental"] and again["resolution"]["pairs_compared"] == 0
    assert again["persons"] == {"new": 0, "changed": 0, "closed": 0}
    assert again["records"] == again["crosswalk"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths] == before
