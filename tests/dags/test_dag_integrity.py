"""DAG integrity: every file in dags/ imports cleanly, parses fast, pulls in no heavy library, and the
DAGs generated from the pipeline graph have the shape the platform relies on (one per step, pool,
retries, assets, tags...)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagtest_sources import DAG_TEST_SOURCES, DAGS_DIR

PROBE = Path(__file__).with_name("_probe_dags.py")
#: Standardization DAGs -> the assets any one of which triggers them ("*population*": PERSON_MENTIONS).
STANDARDIZE_INPUTS = {
    "silver__population": {"*population*"},
    "silver__legal_persons": {
        "bronze.enterprise_registration",
        "bronze.taxpayer_registry",
        "bronze.social_insurance_enrollment",
        "silver.population",
    },
    "silver__geography": {
        "bronze.address_points",
        "bronze.admin_divisions",
        "silver.population",
        "silver.legal_persons",
    },
}
PARSE_CPU_BUDGET_S = 1.0  # CPU time of parsing one DAG file (what the file itself costs)
PARSE_WALL_BUDGET_S = 3.0  # wall time, looser: the test machine is shared with Spark jobs


@pytest.fixture(scope="module")
def probe(dag_registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "GOVLAKE_REGISTRY": str(dag_registry_path),
        "PROBE_ONE_DAG_ID": "ingest__dagtest_deaths_json",
    }
    out = tmp_path_factory.mktemp("probe") / "dags.json"
    cmd = [sys.executable, str(PROBE), str(DAGS_DIR), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_dags_folder_imports_without_errors(probe):
    assert probe["folder"]["import_errors"] == {}
    for name, result in probe["files"].items():
        assert "crash" not in result, f"{name}: {result.get('crash')}"
        assert result["import_errors"] == {}, name
        assert result["dags"], f"{name} defines no DAG"
    # helpers are .airflowignore'd, every DAG file is parsed
    assert probe["folder"]["files_parsed"] == sorted(p.name for p in DAGS_DIR.glob("*.py"))


def test_each_dag_file_parses_fast(probe):
    timings = {name: (r["cpu_s"], r["wall_s"]) for name, r in probe["files"].items()}
    print(f"parse time per file (cpu s, wall s): {timings}")
    for name, (cpu, wall) in timings.items():
        assert cpu < PARSE_CPU_BUDGET_S, f"{name} took {cpu:.2f} s of CPU to parse"
        assert wall < PARSE_WALL_BUDGET_S, f"{name} took {wall:.2f} s to parse"


def test_no_heavy_library_imported_at_parse_time(probe):
    for name, result in probe["files"].items():
        assert result["heavy_modules"] == [], f"{name} imports {result['heavy_modules']} at top level"


def test_one_dag_per_graph_step(probe, dag_registry):
    from jobs.pipeline.graph import pipeline_graph

    ingest = {f"ingest__{s['id']}" for s in DAG_TEST_SOURCES}
    steps = {step.dag_id for step in pipeline_graph(dag_registry).steps}
    assert ingest <= steps and set(STANDARDIZE_INPUTS) <= steps and "quality__scorecard" in steps
    assert "gold__marts" in steps and "maintenance__lake" in steps
    assert set(probe["files"]["pipeline.py"]["dags"]) == steps
    assert set(probe["folder"]["dag_ids"]) == steps | {"platform__smoke"}


def test_task_runner_parses_only_its_own_dag(probe):
    assert probe["parsing_context_dag_ids"] == ["ingest__dagtest_deaths_json"]


@pytest.mark.parametrize("source", DAG_TEST_SOURCES, ids=lambda s: s["id"])
def test_ingest_dag_shape(probe, source):
    dag = probe["files"]["pipeline.py"]["dags"][f"ingest__{source['id']}"]
    assert dag["schedule"] == source["schedule"] and dag["timezone"] == "Asia/Shanghai"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert source["id"] in dag["doc_md"] and source["owner"] in dag["doc_md"]
    assert set(dag["tags"]) >= {
        f"department:{source['department']}",
        f"prefecture:{source['prefecture'] or 'province'}",
        f"dataset:{source['dataset']}",
        f"classification:{source['classification']}",
    }
    tasks = dag["tasks"]
    assert set(tasks) == {"land", "load", "gate"}
    assert tasks["load"]["upstream"] == ["land"] and tasks["gate"]["upstream"] == ["load"]
    assert tasks["load"]["mapped"] and not tasks["land"]["mapped"]
    assert tasks["load"]["pool"] == "spark" and tasks["gate"]["pool"] == "spark"
    assert tasks["gate"]["outlets"] == [f"bronze.{source['dataset']}"]
    assert tasks["gate"]["retries"] == 0  # a failed gate is not retried
    for name, task in tasks.items():
        if name != "gate":
            assert task["retries"] >= 1 and task["retry_exponential_backoff"] > 1
        assert task["on_failure_callback"] and task["doc"]


def test_smoke_dag_shape(probe):
    dag = probe["files"]["smoke.py"]["dags"]["platform__smoke"]
    assert dag["schedule"] is None and dag["catchup"] is False
    assert dag["tasks"]["run_smoke"]["pool"] == "spark"


@pytest.mark.parametrize("dag_id", sorted(STANDARDIZE_INPUTS))
def test_standardize_dag_shape(probe, dag_id):
    library = dag_id.removeprefix("silver__")
    dag = probe["files"]["pipeline.py"]["dags"][dag_id]
    assert dag["schedule"] is None  # asset-triggered, no cron
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert f"silver.{library}" in dag["doc_md"] and "AssetAny" in dag["doc_md"]
    assert "published version, pinned" in dag["doc_md"]
    assert {"build", "silver", f"library:{library}"} <= set(dag["tags"])
    tasks = dag["tasks"]
    assert set(tasks) == {"build", "gate"}
    assert tasks["build"]["pool"] == "spark" and tasks["build"]["outlets"] == []
    assert tasks["gate"]["pool"] == "spark" and tasks["gate"]["upstream"] == ["build"]
    assert tasks["gate"]["outlets"] == [f"silver.{library}"]
    # a failed quality gate is not retried: the same data would fail the same way
    assert tasks["gate"]["retries"] == 0
    for name, task in tasks.items():
        assert not task["mapped"]
        if name != "gate":
            assert task["retries"] >= 1 and task["retry_exponential_backoff"] > 1
        assert task["on_failure_callback"] and task["doc"]


def test_scorecard_dag_runs_after_any_library_is_published(probe):
    dag = probe["files"]["pipeline.py"]["dags"]["quality__scorecard"]
    assert dag["schedule"] is None and dag["catchup"] is False  # asset-triggered
    assert all(f"silver.{lib}" in dag["doc_md"] for lib in ("population", "legal_persons", "geography"))
    assert set(dag["tasks"]) == {"report"} and dag["tasks"]["report"]["pool"] == "spark"


def test_marts_dag_builds_then_gates_and_runs_when_any_library_is_published(probe):
    dag = probe["files"]["pipeline.py"]["dags"]["gold__marts"]
    assert dag["schedule"] is None and dag["catchup"] is False and dag["max_active_runs"] == 1
    assert all(f"silver.{lib}" in dag["doc_md"] for lib in ("population", "legal_persons", "geography"))
    assert "dbt suites" in dag["doc_md"] and "gold.population.fct_population_pyramid" in dag["doc_md"]
    assert {"build", "gold", "dbt"} <= set(dag["tags"])
    tasks = dag["tasks"]
    assert set(tasks) == {"build", "gate"}
    assert tasks["build"]["pool"] == "spark" and tasks["gate"]["upstream"] == ["build"]
    assert tasks["gate"]["outlets"] == ["gold.marts"] and tasks["gate"]["retries"] == 0
    assert tasks["build"]["retries"] >= 1


def test_maintenance_dag_runs_weekly_in_the_spark_pool(probe):
    dag = probe["files"]["pipeline.py"]["dags"]["maintenance__lake"]
    assert dag["schedule"] == "0 3 * * 0" and dag["timezone"] == "Asia/Shanghai" and dag["catchup"] is False
    assert dag["max_active_runs"] == 1 and "maintenance" in dag["tags"]
    assert set(dag["tasks"]) == {"maintain"} and dag["tasks"]["maintain"]["pool"] == "spark"
    assert dag["tasks"]["maintain"]["outlets"] == []  # it publishes no new data: it starts nothing


def test_standardize_dags_run_when_any_input_asset_is_updated():
    from airflow.sdk import Asset, AssetAny

    sys.path.insert(0, str(DAGS_DIR))
    try:
        from govlake_dags.pipeline import build_all
    finally:
        sys.path.remove(str(DAGS_DIR))
    from jobs.pipeline.graph import LIBRARIES

    dags = build_all()
    assert set(STANDARDIZE_INPUTS) <= set(dags)
    for dag_id, expected in STANDARDIZE_INPUTS.items():
        if expected == {"*population*"}:
            expected = {f"bronze.{name}" for name in LIBRARIES[0].bronze_inputs}
        condition = dags[dag_id].timetable.asset_condition
        assert isinstance(condition, AssetAny), f"{dag_id}: {condition!r} (a list would wait for all)"
        assert all(isinstance(a, Asset) for a in condition.objects)
        assert {a.name for a in condition.objects} == expected, dag_id
    assert len(build_all("silver__geography")) == 1  # a task runner builds only its own DAG
    marts = dags["gold__marts"].timetable.asset_condition
    assert isinstance(marts, AssetAny)
    assert {a.name for a in marts.objects} == {f"silver.{lib.name}" for lib in LIBRARIES}


def test_failure_callback_logs_task_source_and_exception():
    sys.path.insert(0, str(DAGS_DIR))
    try:
        from govlake_dags.common import log_task_failure
    finally:
        sys.path.remove(str(DAGS_DIR))

    class TI:
        dag_id, task_id, run_id, map_index, try_number = "ingest__x", "load", "manual__1", 3, 2

    try:
        raise ValueError("bad bytes in row 7")
    except ValueError as exc:
        error = exc
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # Airflow reconfigures logging on import: don't rely on caplog
    logger = logging.getLogger("govlake.airflow")
    logger.addHandler(handler)
    try:
        log_task_failure("dagtest_household_3201")({"ti": TI(), "exception": error})
    finally:
        logger.removeHandler(handler)
    (record,) = records
    message = record.getMessage()
    for part in ("ingest__x", "load[3]", "manual__1", "dagtest_household_3201", "ValueError", "row 7"):
        assert part in message
    assert record.exc_info is not None  # the traceback is in the task log
