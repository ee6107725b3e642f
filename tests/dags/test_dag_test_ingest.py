"""End to end without a scheduler: ``dag.test()`` runs generated ingestion DAGs (land -> load mapped
over batches -> publish) on hand-made extracts and the lake holds exactly the expected rows; then the
smoke DAG. (Generated extracts for every registry source: test_dag_test_generated.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagtest_sources import DAGS_DIR

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(1800)]

SCRIPT = Path(__file__).with_name("_dag_test_ingest.py")

HOUSEHOLD_3205 = {
    # two files for one source: one load batch, so one mapped load and one bronze commit
    "sz_1.csv": ["R1|320502199001011234|张三|19900101", "R2||李四|19900102", "R3|x||19900103"],
    "sz_2.csv": ["R4|320502199001041234|王五|19900104", "R5|320502199001051234|赵六|19900105"],
}
HEADER = "记录号|身份证号|姓名|出生日期"
DEATHS = [
    {"cert": "D1", "xm": "钱七", "swrq": "2024-01-02"},
    {"cert": "D2", "xm": "孙八", "swrq": ""},  # required death date missing: quarantined
]


def test_dag_test_loads_exact_rows(dag_registry_path: Path, tmp_path: Path):
    lake = tmp_path / "lake"
    home = tmp_path / "airflow"
    for name, rows in HOUSEHOLD_3205.items():
        path = lake / "landing" / "dagtest_household_3205" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("\n".join([HEADER, *rows, ""]).encode("gbk"))
    deaths = lake / "landing" / "dagtest_deaths_json" / "deaths.json"
    deaths.parent.mkdir(parents=True)
    deaths.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in DEATHS) + "\n", encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "GOVLAKE_REGISTRY": str(dag_registry_path),
        "GOVLAKE_STORAGE_ROOT": str(lake),
    }
    airflow = Path(sys.executable).with_name("airflow")
    result = tmp_path / "result.json"
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    dag_ids = ["ingest__dagtest_household_3205", "ingest__dagtest_deaths_json", "platform__smoke"]
    proc = subprocess.run(
        [sys.executable, SCRIPT, DAGS_DIR, result, *dag_ids],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(result.read_text(encoding="utf-8"))

    household = out["runs"]["ingest__dagtest_household_3205"]
    assert household["state"] == "success", household
    loads = [t for t in household["tasks"] if t[0] == "load"]
    assert [t[1:3] for t in loads] == [[0, "success"]]
    assert loads[0][3].split(" ")[0] in ("sz_1.csv", "sz_2.csv") and loads[0][3].endswith(" +1 more")
    assert out["bronze_writes"] == {"household_registration": 1, "death_records": 1}
    assert out["runs"]["ingest__dagtest_deaths_json"]["state"] == "success"
    assert out["runs"]["platform__smoke"]["state"] == "success"  # Spark + Delta smoke, same session

    assert out["bronze"] == {
        "household_registration": {"dagtest_household_3205": 4},
        "death_records": {"dagtest_deaths_json": 1},
    }
    assert out["quarantine"] == {"dagtest_household_3205": 1, "dagtest_deaths_json": 1}
    assert out["ingest_log"] == [
        ["dagtest_deaths_json", "deaths.json", 2, 1, 1, "LOADED_WITH_QUARANTINE"],
        ["dagtest_household_3205", "sz_1.csv", 3, 2, 1, "LOADED_WITH_QUARANTINE"],
        ["dagtest_household_3205", "sz_2.csv", 2, 2, 0, "LOADED"],
    ]
    assert out["landing_left"] == []
