"""End to end through the DAGs on generated data: a small synthetic province is delivered to a fresh
lake, the ``ingest__<source_id>`` DAG of one source per dataset (two for households) runs with
``dag.test()``, and the ingest log, the quarantine and every bronze table hold exactly the row counts
the generator's ground truth predicts; then ``silver__population`` runs the same way and builds one
current golden row per person.

Why not all 22 sources: each ingest DAG pays the same fixed Airflow, Spark and GX cost (~40 s) on a
few dozen rows, and the other sources add no path through the DAGs (every DAG is generated from the
registry by the same factory, which ``test_dag_integrity`` checks for all of them). Every source's
accounting against the truth is checked without Airflow by ``tests/test_pipeline_e2e.py``.

Then readers of published versions only, through the DAGs: a defective population build fails its
gate, a new enterprise extract is ingested, and ``silver__legal_persons`` builds against the
population version published before; every legal representative it publishes exists there.

All DAG runs happen in one subprocess (``_dag_test_generated.py``: one Airflow metadata DB, one Spark
session). Measured: about 6 minutes on a shared 2-core machine under load ~7, most of it Spark.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from dagtest_sources import DAGS_DIR
from lakehelpers import session_keys

from govlake.config import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

SCRIPT = Path(__file__).with_name("_dag_test_generated.py")
REGISTRY = REPO_ROOT / "registry" / "sources.yaml"
SCALE, SEED = 250, 7
#: The sources whose DAGs run: one per dataset, and two household sources (GBK CSV and JSON Lines)
#: so that two DAGs append to one bronze table. The social-insurance one has the truncated file.
DAG_SOURCES = (
    "ps_3201_household",
    "ps_3204_household",
    "health_birth_records",
    "health_death_records",
    "hrss_social_insurance",
    "ca_marriage_registration",
    "ca_admin_divisions",
    "mr_enterprise_registration",
    "tax_taxpayer_registry",
    "nr_address_points",
)
#: Truth reasons the bronze loader must quarantine (bad check digits are silver's business).
BRONZE_REASONS = {"truncated_file", "truncated_row", "wrong_field_count"}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Generate the world, and read what its truth predicts."""
    from govlake.registry import load_registry
    from synthetic.generator import generate

    registry = load_registry(REGISTRY)
    out = tmp_path_factory.mktemp("generated")
    generate(out, SCALE, SEED, registry=registry, progress=False)
    return read_truth(out, registry, DAG_SOURCES)


def read_truth(out: Path, registry: Any, sources: tuple[str, ...]) -> dict[str, Any]:
    """Per landing file of these sources, the rows the generator's truth says bronze accepts and
    quarantines."""
    files = {
        (f["source_id"], f["file"]): f for f in _csv(out / "truth" / "files.csv") if f["source_id"] in sources
    }
    rows = [r for r in _csv(out / "truth" / "rows.csv") if r["source_id"] in sources]
    rows_in = Counter((r["source_id"], r["file"]) for r in rows)
    bad = [r for r in rows if r["invalid_reason"] in BRONZE_REASONS]
    quarantined = Counter((r["source_id"], r["file"]) for r in bad)
    per_file = {
        key: {
            "file_hash": f["sha256"],
            "rows_in": rows_in[key],
            "rows_accepted": rows_in[key] - quarantined[key],
            "rows_quarantined": quarantined[key],
        }
        for key, f in files.items()
    }
    assert all(int(f["data_rows"]) == per_file[k]["rows_in"] for k, f in files.items())
    return {
        "out": out,
        "registry": registry,
        "per_file": per_file,
        "quarantined_rows": {
            (files[(r["source_id"], r["file"])]["sha256"], int(r["row_number"])) for r in bad
        },
        "reasons": Counter(r["invalid_reason"] for r in bad),
        "truncated_files": {key for key, f in files.items() if f["truncated"] == "true"},
    }


@pytest.fixture(scope="module")
def outcome(truth: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from govlake.config import load_settings
    from govlake.lake import Lake
    from synthetic.deliver import deliver_extracts

    tmp = tmp_path_factory.mktemp("dag-test-generated")
    lake, home, result = tmp / "lake", tmp / "airflow", tmp / "result.json"
    target = Lake(load_settings({"GOVLAKE_STORAGE_ROOT": str(lake), "GOVLAKE_REGISTRY": str(REGISTRY)}))
    landing = tmp / "landing"
    for source_id in DAG_SOURCES:
        shutil.copytree(truth["out"] / "landing" / source_id, landing / source_id)
    delivered = deliver_extracts(landing, target)
    assert delivered == len(truth["per_file"])

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVLAKE_"))}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "GOVLAKE_REGISTRY": str(REGISTRY),
        "GOVLAKE_STORAGE_ROOT": str(lake),
        "DAG_TEST_SOURCES": ",".join(DAG_SOURCES),
        **session_keys(),
    }
    airflow = Path(sys.executable).with_name("airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    proc = subprocess.run(
        [sys.executable, SCRIPT, DAGS_DIR, result], env=env, capture_output=True, text=True, timeout=3300
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(result.read_text(encoding="utf-8"))
    print("dag.test() seconds:", {d: r["seconds"] for d, r in out["runs"].items()})
    return out


def test_generated_world_has_bronze_defects(truth):
    # Otherwise the quarantine assertions below would prove little.
    assert truth["reasons"]["truncated_file"] and truth["reasons"]["wrong_field_count"], truth["reasons"]
    assert truth["truncated_files"]


def test_the_dag_sources_cover_every_dataset(truth):
    registry = truth["registry"]
    assert {registry.sources[s].dataset for s in DAG_SOURCES} == set(registry.datasets)
    assert {sid for sid, _ in truth["per_file"]} == set(DAG_SOURCES)


def test_every_ingest_dag_succeeds_with_one_load_batch(truth, outcome):
    first_pass = {d for d in outcome["runs"] if not d.startswith("broken:")}
    assert first_pass == {f"ingest__{s}" for s in DAG_SOURCES} | {
        "silver__population",
        "silver__legal_persons",
    }
    for source_id in DAG_SOURCES:
        run = outcome["runs"][f"ingest__{source_id}"]
        assert run["state"] == "success", (source_id, run)
        states = {(task, state) for task, _, state, _ in run["tasks"]}
        assert states == {("land", "success"), ("load", "success"), ("gate", "success")}, source_id
        files = sorted(name for sid, name in truth["per_file"] if sid == source_id)
        # A source's delivery fits one batch: one mapped load, labelled with a file and how many more.
        labels = [label for task, _, _, label in run["tasks"] if task == "load"]
        assert len(labels) == 1 and labels[0].split(" ")[0] in files, (source_id, labels)
        assert labels[0].endswith(f" +{len(files) - 1} more") == (len(files) > 1), (source_id, labels)


def test_ingest_log_matches_truth_per_file(truth, outcome):
    log = {
        (r["source_id"], r["original_name"]): {
            k: r[k] for k in ("file_hash", "rows_in", "rows_accepted", "rows_quarantined")
        }
        for r in outcome["ingest_log"]
    }
    assert len(log) == len(outcome["ingest_log"])  # each file loaded once
    assert log == truth["per_file"]
    for r in outcome["ingest_log"]:
        if (r["source_id"], r["original_name"]) in truth["truncated_files"]:
            expected = "REJECTED"  # a cut-off file loads nothing: every row is quarantined
        else:
            expected = "LOADED_WITH_QUARANTINE" if r["rows_quarantined"] else "LOADED"
        assert r["status"] == expected, r


def test_quarantine_holds_exactly_the_defective_rows(truth, outcome):
    assert {(h, n) for h, n, _ in outcome["quarantine"]} == truth["quarantined_rows"]
    assert len(outcome["quarantine"]) == len(truth["quarantined_rows"])


def test_each_bronze_table_holds_exactly_the_accepted_rows(truth, outcome):
    registry = truth["registry"]
    expected: dict[str, Counter] = {}
    for (source_id, _), counts in truth["per_file"].items():
        dataset = registry.sources[source_id].dataset
        expected.setdefault(dataset, Counter())[source_id] += counts["rows_accepted"]
    assert outcome["bronze"] == {d: dict(c) for d, c in expected.items()}


def test_ingest_dags_publish_one_bronze_event_per_source(truth, outcome):
    registry = truth["registry"]
    accepted = Counter()
    for (source_id, _), counts in truth["per_file"].items():
        accepted[source_id] += counts["rows_accepted"]
    for dataset in {s.dataset for s in registry.sources.values()}:
        # the gate skips (no event) when a run published nothing new
        sources = {s.id: accepted[s.id] for s in registry.sources_for(dataset) if accepted[s.id]}
        events = [e for e in outcome["asset_events"][f"bronze.{dataset}"] if e["source_id"] in sources]
        first = {}
        for e in events:
            first.setdefault(e["source_id"], e)
        assert {s: e["rows_accepted"] for s, e in first.items()} == sources, dataset
        # each event announces the bronze version its gate validated and published
        assert all(f"bronze.{dataset}" in e["published"] for e in events), dataset


def test_silver_population_builds_one_current_row_per_person(truth, outcome):
    from jobs.silver.population.records import PERSON_MENTIONS

    run = outcome["runs"]["silver__population"]
    assert run["state"] == "success", run
    assert sorted((t, s) for t, _, s, _ in run["tasks"]) == [("build", "success"), ("gate", "success")]

    registry = truth["registry"]
    mentions = {  # one person record per mention: a marriage row mentions two persons
        source_id: sum(c["rows_accepted"] for (sid, _), c in truth["per_file"].items() if sid == source_id)
        * len(PERSON_MENTIONS[registry.sources[source_id].dataset])
        for source_id in {sid for sid, _ in truth["per_file"]}
        if registry.sources[source_id].dataset in PERSON_MENTIONS
    }
    silver = outcome["silver"]
    assert silver["crosswalk_by_source"] == mentions
    assert silver["rows"]["person_records"] == silver["rows"]["crosswalk"] == sum(mentions.values())

    persons = silver["rows"]["persons"]
    assert 0 < persons <= sum(mentions.values())
    assert silver["null_person_ids"] == 0
    # first build: no history yet, every row is current, one per person, and every record links to one
    assert silver["current_rows"] == silver["current_person_ids"] == silver["person_ids"] == persons
    assert silver["crosswalk_person_ids"] == persons
    assert silver["crosswalk_without_current_person"] == 0

    (event,) = outcome["asset_events"]["silver.population"]  # the broken run announced nothing
    assert event["build"]["persons"] == {"new": persons, "changed": 0, "closed": 0}
    assert event["build"]["records"]["inserted"] == sum(mentions.values())
    # the gate validated and published the first version of every population table
    assert event["published"] == {
        "silver.population.person_records": 0,
        "silver.population.persons": 0,
        "silver.population.crosswalk": 0,
    }
    # built from the bronze versions published then, recorded as its inputs
    assert set(event["inputs"]) == {f"bronze.{d}" for d in registry.datasets if d in PERSON_MENTIONS}


def test_a_failed_population_gate_leaves_legal_persons_reading_the_published_population(outcome):
    runs = outcome["runs"]
    assert runs["broken:ingest__household"]["state"] == "success"
    broken = runs["broken:silver__population"]
    assert broken["state"] == "failed"
    assert {(t, s) for t, _, s, _ in broken["tasks"]} == {("build", "success"), ("gate", "failed")}
    assert runs["broken:ingest__enterprise"]["state"] == "success"
    assert runs["broken:silver__legal_persons"]["state"] == "success"

    before, after = outcome["published_before"], outcome["published_after"]
    for table in ("person_records", "crosswalk", "persons"):  # nothing of the broken build published
        assert after[f"silver.population.{table}"] == before[f"silver.population.{table}"]
    assert after["bronze.enterprise_registration"] > before["bronze.enterprise_registration"]
    assert after["silver.legal_persons.legal_persons"] > before["silver.legal_persons.legal_persons"]
    # the new legal persons version was built from the previously published population
    assert outcome["legal_persons_inputs"]["silver.population.persons"] == before["silver.population.persons"]
    # X exists only in the refused population version, so the new company names no person for X
    assert outcome["x_in_latest_population"] >= 1 and outcome["x_in_published_population"] == 0
    (company,) = outcome["x_company"]
    assert company["legal_representative_person_id"] is None
    # every legal representative published is a person of the published population
    assert outcome["legal_representatives"] > 0
    assert outcome["legal_representatives_missing_from_published_population"] == 0
