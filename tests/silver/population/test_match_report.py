"""The stored match-quality report: truth rows keyed like silver records, figures, files written."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

HOUSEHOLD, MARRIAGE, ENTERPRISE = (
    "ps_3201_household",
    "ca_marriage_registration",
    "mr_enterprise_registration",
)
HASH_H, HASH_M, HASH_E = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def lake(tmp_path):
    from govlake.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_STORAGE_ROOT")}
    env["GOVLAKE_STORAGE_ROOT"] = str(tmp_path / "lake")
    return load_settings(env)


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def generated(tmp_path) -> Path:
    """A generated folder's truth/: T1 in three household rows, T2 in one and as a wife."""
    truth = tmp_path / "generated" / "truth"
    truth.mkdir(parents=True)
    _write_csv(
        truth / "files.csv",
        [
            {"source_id": HOUSEHOLD, "file": "hh.csv", "sha256": HASH_H},
            {"source_id": MARRIAGE, "file": "mar.csv", "sha256": HASH_M},
            {"source_id": ENTERPRISE, "file": "ent.csv", "sha256": HASH_E},
        ],
    )
    row = {"source_id": "", "file": "", "row_number": "", "person_id": "", "person_id_2": ""}
    _write_csv(
        truth / "rows.csv",
        [
            {**row, "source_id": HOUSEHOLD, "file": "hh.csv", "row_number": "1", "person_id": "T1"},
            {**row, "source_id": HOUSEHOLD, "file": "hh.csv", "row_number": "2", "person_id": "T1"},
            {**row, "source_id": HOUSEHOLD, "file": "hh.csv", "row_number": "3", "person_id": "T1"},
            {**row, "source_id": HOUSEHOLD, "file": "hh.csv", "row_number": "4", "person_id": "T2"},
            {**row, "source_id": MARRIAGE, "file": "mar.csv", "row_number": "1", "person_id": "T3"},
            {**row, "source_id": MARRIAGE, "file": "mar.csv", "row_number": "1", "person_id_2": "T2"},
            # An enterprise row names its legal representative: not a population record.
            {**row, "source_id": ENTERPRISE, "file": "ent.csv", "row_number": "1", "person_id": "T1"},
        ],
    )
    return truth.parent


def test_truth_rows_are_keyed_like_silver_records(spark, generated):
    from govlake.registry import load_registry
    from jobs.silver.population.match_report import truth_keys

    keys = {
        (r["record_key"], r["true_person_id"])
        for r in truth_keys(spark, generated, load_registry()).collect()
    }
    # One marriage row is two mentions: the husband (person_id) and the wife (person_id_2).
    assert keys == {
        (f"{HOUSEHOLD}|{HASH_H}|1|resident", "T1"),
        (f"{HOUSEHOLD}|{HASH_H}|2|resident", "T1"),
        (f"{HOUSEHOLD}|{HASH_H}|3|resident", "T1"),
        (f"{HOUSEHOLD}|{HASH_H}|4|resident", "T2"),
        (f"{MARRIAGE}|{HASH_M}|1|husband", "T3"),
        (f"{MARRIAGE}|{HASH_M}|1|wife", "T2"),
    }


def test_report_scores_the_stored_crosswalk_and_is_stored(spark, lake, generated):
    from govlake import storage
    from govlake.lake import Lake
    from govlake.lake.context import StepContext
    from govlake.lake.published import Publication
    from jobs.silver.population.match_report import (
        CROSSWALK,
        report_folder,
        write_match_report,
        write_resolution_summary,
    )
    from jobs.silver.population.resolve import CROSSWALK_DDL, ResolutionResult

    h, m = f"{HOUSEHOLD}|{HASH_H}", f"{MARRIAGE}|{HASH_M}"
    rows = [
        (f"{h}|1|resident", HOUSEHOLD, "P1", "id_number", None),
        (f"{h}|2|resident", HOUSEHOLD, "P1", "id_number", None),
        (f"{h}|3|resident", HOUSEHOLD, "P1", "probabilistic", 0.99),
        (f"{h}|4|resident", HOUSEHOLD, "P2", "id_number", None),
        (f"{m}|1|husband", MARRIAGE, "P3", "singleton", None),
        (f"{m}|1|wife", MARRIAGE, "P1", "probabilistic", 0.985),  # wrongly joined to T1's person
        (f"{h}|9|resident", HOUSEHOLD, "P9", "singleton", None),  # a row the truth does not know
    ]
    crosswalk = spark.createDataFrame(rows, CROSSWALK_DDL)
    settings, lake = lake, Lake(lake, spark)
    crosswalk.write.format("delta").save(lake.path(CROSSWALK))
    now = datetime.now(UTC)
    lake.publish([Publication(CROSSWALK, lake.path(CROSSWALK), 0, "test", "r1", now, now, "passed")])
    resolution = ResolutionResult(
        crosswalk=crosswalk,
        backend="duckdb",
        threshold=0.98,
        pairs_compared=42,
        records_by_method={"id_number": 3, "probabilistic": 2, "singleton": 2},
        conflicts_split=0,
        seconds=1.25,
        timings={},
        m_training="labels",
        model={},
        training_note="m from 2 ID-labelled pairs",
    )
    ctx = StepContext.open(lake, "silver.population", [], as_of=datetime(2024, 6, 1, tzinfo=UTC))
    write_resolution_summary(ctx, resolution)

    report = write_match_report(lake, generated / "truth")

    # Predicted pairs: P1 holds 4 records -> 6; true pairs: T1 3 -> 3, T2 2 -> 1; right: T1's 3.
    assert report["pairs_predicted"] == 6 and report["pairs_true"] == 4 and report["pairs_correct"] == 3
    assert report["precision"] == pytest.approx(0.5)
    assert report["recall"] == pytest.approx(0.75)
    # Over the pairs with a record without a valid ID (h3, the husband, the wife): predicted
    # h1-h3 h2-h3 h4-wife h1-wife h2-wife h3-wife, true h1-h3 h2-h3 h4-wife, right h1-h3 h2-h3.
    assert (report["probabilistic_pairs_predicted"], report["probabilistic_pairs_true"]) == (5, 3)
    assert report["probabilistic_pairs_correct"] == 2
    assert report["probabilistic_precision"] == pytest.approx(2 / 5)
    assert report["records_without_valid_id"] == 3
    assert report["f1"] == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    assert report["records_by_method"] == {"id_number": 3, "probabilistic": 2, "singleton": 2}
    assert (report["crosswalk_records"], report["records_scored"], report["records_without_truth"]) == (
        7,
        6,
        1,
    )
    assert report["pairs_compared"] == 42 and report["backend"] == "duckdb"
    assert report["crosswalk_version"] == 0
    assert report["resolution"]["resolved_at"] == "2024-06-01T00:00:00+00:00"
    assert report["resolution"]["training_note"] == "m from 2 ID-labelled pairs"

    folder = report_folder(lake)
    assert folder == f"{settings.zone('quality')}/match_quality"
    latest = json.loads(storage.read_bytes(settings, f"{folder}/latest.json"))
    by_run = json.loads(storage.read_bytes(settings, f"{folder}/{report['run']}.json"))
    assert latest == by_run == json.loads(json.dumps(report))
