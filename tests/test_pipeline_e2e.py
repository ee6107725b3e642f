"""End to end on generated extracts: every row accounted for against the generator's ground truth,
re-runs change nothing, and the base libraries meet their matching targets."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

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
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from govlake.synthetic.generator import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, SCALE, SEED, progress=False)
    return out


@pytest.fixture(scope="module")
def ingested(spark, settings, generated):
    from jobs.pipeline import deliver_extracts, ingest_all

    delivered = deliver_extracts(generated / "landing", settings)
    results = ingest_all(settings)
    return delivered, results


def test_every_row_is_accounted_for(spark, settings, generated, ingested):
    from jobs.bronze.load import quarantine_uri

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
        for r in spark.read.format("delta").load(quarantine_uri(settings)).collect()
        if r["_file_hash"] in hash_to_name
    }
    expected = {
        (r["file"], int(r["row_number"])) for r in truth_rows if r["invalid_reason"] in BRONZE_REASONS
    }
    assert expected, "the generator should have made bronze-level defects at this scale"
    assert quarantined == expected
    truncated = [r for r in results if r["file_reason"] == "TRUNCATED_FILE"]
    assert len(truncated) == sum(f["truncated"] == "true" for f in files.values()) >= 1


def test_bronze_tables_hold_exactly_the_accepted_rows(spark, settings, ingested):
    from jobs.bronze.load import bronze_table_uri

    _, results = ingested
    registry = load_registry()
    accepted = Counter()
    for r in results:
        accepted[r["dataset"]] += r["rows_accepted"]
    for dataset, expected in accepted.items():
        sources = [s.id for s in registry.sources_for(dataset)]
        table = spark.read.format("delta").load(bronze_table_uri(dataset, settings))
        assert table.where(table["_source_id"].isin(sources)).count() == expected, dataset


def test_delivering_the_same_files_again_changes_nothing(spark, settings, generated, ingested):
    from jobs.bronze.load import bronze_table_uri
    from jobs.pipeline import deliver_extracts, ingest_all

    path = bronze_table_uri("household_registration", settings)
    before = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    deliver_extracts(generated / "landing", settings)
    assert ingest_all(settings) == []
    assert spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() == before


@pytest.fixture(scope="module")
def silver(spark, settings, ingested):
    from jobs.pipeline import build_silver

    return build_silver(settings)


def test_person_matching_meets_targets(spark, settings, generated, silver):
    from jobs.silver.population.build import table_uri
    from jobs.silver.population.resolve import match_quality

    crosswalk = spark.read.format("delta").load(table_uri(settings, "crosswalk"))
    files = {f["sha256"]: f["file"] for f in _csv(generated / "truth" / "files.csv")}
    truth = []
    for r in _csv(generated / "truth" / "rows.csv"):
        file_hash = next(h for h, n in files.items() if n == r["file"])
        base = f"{r['source_id']}|{file_hash}|{r['row_number']}"
        if r["person_id_2"]:
            truth += [(f"{base}|husband", r["person_id"]), (f"{base}|wife", r["person_id_2"])]
        elif r["person_id"]:
            truth.append((base, r["person_id"]))
    truth_df = spark.createDataFrame(truth, "record_prefix string, true_person_id string")
    # Crosswalk keys end in the role (resident, newborn, ...); marriage roles are in the prefix above.
    from pyspark.sql import functions as F

    keyed = crosswalk.withColumn(
        "record_prefix",
        F.when(F.col("record_key").rlike(r"\|(husband|wife)$"), F.col("record_key")).otherwise(
            F.regexp_replace("record_key", r"\|[a-z_]+$", "")
        ),
    )
    truth_keyed = truth_df.join(keyed.select("record_prefix", "record_key"), "record_prefix").select(
        "record_key", "true_person_id"
    )
    assert crosswalk.count() == crosswalk.select("record_key").distinct().count()  # each record once
    quality = match_quality(crosswalk, truth_keyed)
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.97, quality


def test_rebuilding_silver_on_the_same_bronze_writes_nothing(spark, settings, silver):
    from jobs.silver.population.build import build_population, table_uri

    paths = [table_uri(settings, t) for t in ("person_records", "crosswalk", "persons")]
    before = [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths]
    again = build_population(settings)
    assert again["persons"] == {"new": 0, "changed": 0}
    assert [spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for p in paths] == before
