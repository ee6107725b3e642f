"""A real Airflow (api-server + scheduler + dag-processor, SQLite, LocalExecutor) started by
infra/airflow/start.sh runs a generated ingestion DAG end to end, triggered through REST API v2 with
a JWT from /auth/token; everything is stopped afterwards and no process is left behind."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagtest_sources import AIRFLOW_INFRA

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(1800)]

SOURCE_ID = "dagtest_household_3201"
DAG_ID = f"ingest__{SOURCE_ID}"
EXTRACT = "\n".join(
    [
        "记录号|身份证号|姓名|出生日期",
        "R1|320102199001011234|张三|19900101",
        "R2||李四|19900102",
        "R3|320102199001033456||19900103",  # required name missing: quarantined
        "",
    ]
).encode("gbk")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_of(home: Path) -> list[int]:
    """Pids whose environment names this test's Airflow home (components, tasks, Spark JVMs)."""
    marker = f"GOVLAKE_AIRFLOW_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@dataclass
class Airflow:
    url: str
    home: Path
    lake: Path
    passwords: dict[str, str]

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def token(self, user: str, password: str | None = None) -> tuple[int, str | None]:
        status, body = self.request(
            "POST", "/auth/token", {"username": user, "password": password or self.passwords[user]}
        )
        return status, body["access_token"] if status == 201 else None

    def api(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, answer = self.request(method, "/api/v2" + path, body, token)
        assert 200 <= status < 300, f"{method} {path}: HTTP {status}: {answer}"
        return answer


@pytest.fixture(scope="module")
def airflow(dag_registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    home = tmp_path_factory.mktemp("airflow-home")
    lake = tmp_path_factory.mktemp("airflow-lake")
    port = _free_port()
    passwords = {"admin": secrets.token_urlsafe(16), "auditor": secrets.token_urlsafe(16)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "GOVLAKE_AIRFLOW_HOME": str(home),
        "GOVLAKE_AIRFLOW_PORT": str(port),
        "GOVLAKE_AIRFLOW_USERS": "admin:admin,auditor:viewer",
        "GOVLAKE_AIRFLOW_PASSWORD_ADMIN": passwords["admin"],
        "GOVLAKE_AIRFLOW_PASSWORD_AUDITOR": passwords["auditor"],
        "GOVLAKE_REGISTRY": str(dag_registry_path),
        "GOVLAKE_STORAGE_ROOT": str(lake),
    }
    started = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", str(AIRFLOW_INFRA / "start.sh")], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"start.sh failed:\n{proc.stdout}\n{proc.stderr}"
        print(f"\nairflow started in {time.monotonic() - started:.0f} s")
        yield Airflow(f"http://127.0.0.1:{port}", home, lake, passwords)
    finally:
        subprocess.run(["bash", str(AIRFLOW_INFRA / "stop.sh")], env=env, timeout=300, check=False)
        deadline = time.monotonic() + 60
        while (left := _processes_of(home)) and time.monotonic() < deadline:
            time.sleep(1)
        for pid in left:  # never leave anything behind, even when the assertion below fails
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        assert not left, f"processes left after stop.sh: {left}"


def _wait_for(what: str, timeout: float, probe) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_users_come_from_configuration(airflow: Airflow):
    assert airflow.token("admin", "wrong password")[0] == 401
    assert airflow.token("nobody", "x")[0] == 401
    status, viewer = airflow.token("auditor")
    assert status == 201
    status, _ = airflow.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None}, viewer)
    assert status == 403  # a viewer may not trigger


def test_ingest_dag_runs_on_the_scheduler(airflow: Airflow):
    t0 = time.monotonic()
    _, token = airflow.token("admin")
    assert token
    _wait_for(
        f"{DAG_ID} to be parsed",
        240,
        lambda: airflow.request("GET", f"/api/v2/dags/{DAG_ID}", token=token)[0] == 200 or None,
    )
    pools = {p["name"]: p["slots"] for p in airflow.api("GET", "/pools", token)["pools"]}
    assert pools.get("spark") == 1

    landing = airflow.lake / "landing" / SOURCE_ID
    landing.mkdir(parents=True)
    (landing / "nj_hukou_20261125.csv").write_bytes(EXTRACT)

    airflow.api("PATCH", f"/dags/{DAG_ID}", token, {"is_paused": False})
    run = airflow.api("POST", f"/dags/{DAG_ID}/dagRuns", token, {"logical_date": None})
    run_id = urllib.parse.quote(run["dag_run_id"], safe="")

    def finished() -> dict | None:
        state = airflow.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}", token)["state"]
        return {"state": state} if state in ("success", "failed") else None

    assert _wait_for("the triggered run", 1200, finished)["state"] == "success"

    # Unpausing with catchup off may also start the latest scheduled run; it lands the file first
    # and the manual run finds nothing new. Either way every run must succeed.
    def all_finished() -> list[dict] | None:
        runs = airflow.api("GET", f"/dags/{DAG_ID}/dagRuns", token)["dag_runs"]
        return runs if all(r["state"] in ("success", "failed") for r in runs) else None

    runs = _wait_for("all runs to finish", 600, all_finished)
    assert {r["state"] for r in runs} == {"success"}, runs

    # Exactly one bronze asset event, carrying the file's accounting.
    events = [
        e
        for e in airflow.api("GET", "/assets/events?limit=100", token)["asset_events"]
        if e["source_dag_id"] == DAG_ID
    ]
    assert len(events) == 1, events
    assert events[0]["name"] == "bronze.household_registration"
    extra = events[0]["extra"]
    assert (extra["rows_in"], extra["rows_accepted"], extra["rows_quarantined"]) == (3, 2, 1)
    assert extra["statuses"] == ["LOADED_WITH_QUARANTINE"]

    # The load ran as one mapped task instance, labelled with the file name.
    loads = []
    for r in runs:
        path = f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(r['dag_run_id'], safe='')}/taskInstances"
        tis = airflow.api("GET", path, token)["task_instances"]
        loads += [ti for ti in tis if ti["task_id"] == "load" and ti["state"] == "success"]
    assert len(loads) == 1 and loads[0]["pool"] == "spark"
    assert loads[0]["rendered_map_index"].startswith("nj_hukou_20261125.csv (")

    # The lake: landing emptied, raw copy kept and marked loaded.
    assert list(landing.iterdir()) == []
    raw = sorted(p.name for p in (airflow.lake / "raw" / SOURCE_ID).iterdir())
    file_hash = raw[0]
    assert raw == [file_hash, f"{file_hash}.json", f"{file_hash}.loaded"]
    print(f"ingest DAG run on the scheduler: {time.monotonic() - t0:.0f} s")
