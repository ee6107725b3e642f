"""The SQL endpoint, started by its own scripts (infra/sql-endpoint/) over the session's built lake:
a Postgres metastore shared by a Thrift server, a Spark Connect server and the ``sql.views`` step.

- ``govlake sql refresh`` (another process, its own Spark session on the shared metastore) names
  every published library table and mart at its published version;
- PyHive (PLAIN SASL over the CUSTOM password file) and beeline query a mart by name and get
  Spark's rows; a wrong password and a missing or wrong Connect token are refused;
- the Connect client reads a silver view by name;
- both servers keep answering while another pipeline step (a second ``sql.views``) re-points
  the same names in the metastore.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govlake.config import REPO_ROOT

# Servers of its own over the session's built lake: not part of the fast tier.
pytestmark = [pytest.mark.sqlserver, pytest.mark.slow, pytest.mark.timeout(1800)]

SCRIPTS = REPO_ROOT / "infra" / "sql-endpoint"
MART = "gold.population.fct_vital_events_monthly"
MART_VIEW = "gold_population.fct_vital_events_monthly"
SILVER = "silver.population.persons"
SILVER_VIEW = "silver_population.persons"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class Endpoint:
    folder: Path
    env: dict[str, str]  # the lake's environment plus client.env (metastore, ports, logins)
    thrift_port: int
    connect_url: str
    password: str


@pytest.fixture(scope="module")
def endpoint(built_lake) -> Iterator[Endpoint]:
    # Under the repo's .run/, not pytest's 0700 temp folder: the `postgres` account must reach it.
    folder = REPO_ROOT / ".run" / f"pytest-sql-{secrets.token_hex(3)}"
    pg_port, thrift_port, connect_port = free_ports(3)
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_METASTORE")}
    base |= {
        "GOVLAKE_STORAGE_ROOT": built_lake.lake.settings.storage_root,
        "GOVLAKE_SQL_ENDPOINT_DIR": str(folder),
        "GOVLAKE_METASTORE_PORT": str(pg_port),
        "GOVLAKE_THRIFT_PORT": str(thrift_port),
        "GOVLAKE_CONNECT_PORT": str(connect_port),
        "GOVLAKE_SQL_ENDPOINT_MEMORY": "1g",
        "GOVLAKE_SPARK_MASTER": "local[1]",
    }
    started = time.monotonic()
    try:
        subprocess.run([str(SCRIPTS / "start.sh")], env=base, check=True, timeout=400)
        print(f"\n[sql-endpoint] started in {time.monotonic() - started:.1f}s")
        exported = subprocess.run(
            ["bash", "-c", f"source {folder / 'client.env'} && env -0"],
            env=base,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        env = dict(item.split("=", 1) for item in exported.split("\0") if "=" in item)
        yield Endpoint(
            folder=folder,
            env=env,
            thrift_port=thrift_port,
            connect_url=env["GOVLAKE_CONNECT_URL"],
            password=env["GOVLAKE_THRIFT_PASSWORD"],
        )
    finally:
        subprocess.run([str(SCRIPTS / "stop.sh"), "--purge"], env=base, timeout=200, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Step:
    """A ``govlake sql refresh`` running in its own process; its output goes to a file (a pipe the
    test does not read while it queries would fill up and stall the step's logging)."""

    process: subprocess.Popen[bytes]
    log: Path

    def poll(self) -> int | None:
        return self.process.poll()

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        returncode = self.process.wait(timeout=timeout)
        return returncode, self.log.read_text(encoding="utf-8", errors="replace")


def refresh(endpoint: Endpoint) -> Step:
    log = endpoint.folder / "logs" / f"refresh-{secrets.token_hex(3)}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "bin" / "govlake"), "sql", "refresh"],
            env=endpoint.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Step(process, log)


@pytest.fixture(scope="module")
def named(endpoint: Endpoint) -> str:
    """The first ``govlake sql refresh``: its output."""
    returncode, output = refresh(endpoint).finish()
    assert returncode == 0, output
    return output


def hive(endpoint: Endpoint, password: str):
    from pyhive import hive as pyhive

    return pyhive.connect(
        host="127.0.0.1",
        port=endpoint.thrift_port,
        username="analyst",
        password=password,
        auth="CUSTOM",
    )


def thrift_rows(endpoint: Endpoint, sql: str) -> list[tuple]:
    with hive(endpoint, endpoint.password) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def test_refresh_names_every_published_table_at_its_version(built_lake, named: str) -> None:
    lake = built_lake.lake
    for table_id, view in ((MART, MART_VIEW), (SILVER, SILVER_VIEW)):
        version = lake.published_version(table_id)
        assert version is not None
        lines = [line.split() for line in named.splitlines()]
        assert [view, "@", "Delta", f"v{version}"] in lines, named


def test_thrift_serves_the_published_mart_by_name(built_lake, endpoint: Endpoint, named: str) -> None:
    df = built_lake.lake.read_published(MART)
    as_text = ", ".join(f"CAST(`{c}` AS STRING)" for c in df.columns)  # one type on both sides
    rows = thrift_rows(endpoint, f"SELECT {as_text} FROM {MART_VIEW}")
    expected = [tuple(r) for r in df.selectExpr(*as_text.split(", ")).collect()]
    assert rows and sorted(rows, key=str) == sorted(expected, key=str)


def test_thrift_refuses_a_wrong_password(endpoint: Endpoint, named: str) -> None:
    with pytest.raises(Exception, match=r"(?i)login|authentication|sasl|peer"):
        hive(endpoint, endpoint.password + "x").cursor().execute("SELECT 1")


def test_beeline_reads_the_mart(built_lake, endpoint: Endpoint, named: str) -> None:
    pyspark_home = next((REPO_ROOT / ".venv" / "lib").glob("python3*/site-packages/pyspark"))
    env = endpoint.env | {"SPARK_HOME": str(pyspark_home)}
    result = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "beeline"),
            "-u",
            f"jdbc:hive2://127.0.0.1:{endpoint.thrift_port}/default",
            "-n",
            "analyst",
            "-w",
            str(endpoint.folder / "secrets" / "analyst.password"),
            "--outputformat=csv2",
            "-e",
            f"SELECT count(*) AS n FROM {MART_VIEW}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    expected = built_lake.lake.read_published(MART).count()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == str(expected), result.stdout


def test_connect_needs_its_token_and_serves_silver(built_lake, endpoint: Endpoint, named: str) -> None:
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    wrong = endpoint.connect_url.split(";token=")[0] + ";token=" + secrets.token_urlsafe(24)
    refused = ConnectSession.builder.remote(wrong).create()
    try:
        with pytest.raises(Exception, match=r"(?i)unauthenticated|token|auth"):
            refused.sql("SELECT 1").collect()
    finally:
        # A client never stopped calls the server again at interpreter exit, and retries for
        # minutes once the server is gone: the test process would hang after its last test.
        refused.stop()
    session = ConnectSession.builder.remote(endpoint.connect_url).create()
    try:
        got = session.sql(f"SELECT count(*) AS n FROM {SILVER_VIEW}").collect()[0]["n"]
    finally:
        session.stop()
    assert got == built_lake.lake.read_published(SILVER).count() > 0


def test_both_servers_answer_while_a_step_repoints_the_names(
    built_lake, endpoint: Endpoint, named: str
) -> None:
    """The shared metastore's point: a step in another process writes names while both read them."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    expected = built_lake.lake.read_published(MART).count()
    step = refresh(endpoint)
    session = ConnectSession.builder.remote(endpoint.connect_url).create()
    answered_during_step = 0
    try:
        while True:
            running = step.poll() is None
            assert thrift_rows(endpoint, f"SELECT count(*) FROM {MART_VIEW}") == [(expected,)]
            assert session.sql(f"SELECT count(*) AS n FROM {MART_VIEW}").collect()[0]["n"] == expected
            if not running:
                break
            answered_during_step += 1
    finally:
        session.stop()
        returncode, output = step.finish()
    assert returncode == 0, output
    assert answered_during_step >= 1, "the step ended before any query ran beside it"


def test_housekeeping_repoints_the_names_of_what_it_republishes(
    built_lake, endpoint: Endpoint, named: str, tmp_path: Path
) -> None:
    """A compaction republishes silver persons (8 files) at a new version with no asset event, so no
    ``sql.views`` run follows: the maintenance job itself moves the view, or a later VACUUM would
    delete the files the old view names. On a copy of the lake (kept for the session, same rows):
    the names may go on pointing at it, so no second refresh restores them."""
    copy = tmp_path / "lake"
    shutil.copytree(built_lake.lake.settings.storage_root, copy)
    script = (
        "import json; from govlake.config import load_settings; from govlake.lake import Lake; "
        "from jobs.maintenance.housekeeping import maintain_tables; "
        f"counts = maintain_tables(Lake(load_settings()), [{SILVER!r}], run_id='pytest-sql'); "
        "print(json.dumps({k: counts[k] for k in ('republished', 'sql_views')}))"
    )
    done = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-c", script],
        env=endpoint.env | {"GOVLAKE_STORAGE_ROOT": str(copy)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    compacted = counts["republished"][SILVER]
    assert compacted > built_lake.lake.published_version(SILVER)
    assert counts["sql_views"] == {"views": {SILVER_VIEW: compacted}}
    definition = " ".join(r[0] for r in thrift_rows(endpoint, f"SHOW CREATE TABLE {SILVER_VIEW}"))
    assert str(copy) in definition and f"VERSION AS OF {compacted}" in definition, definition
    expected = built_lake.lake.read_published(SILVER).count()
    assert thrift_rows(endpoint, f"SELECT count(*) FROM {SILVER_VIEW}") == [(expected,)]
