"""The Spark pods of infra/k8s/ run as local processes on the standalone cluster of infra/spark-cluster/.

Each SparkApplication becomes the spark-submit command its driver pod runs: the same main class or
Python file, arguments and sparkConf, with only what cannot be the same here changed, and the test
says which (``LOCAL_ONLY``): Kubernetes-only keys are dropped, S3 is local files (tests/objectstore
covers S3A), the Thrift server's LDAP login is off (no directory here), image paths and sizes are
this machine's, 0.0.0.0 listeners are 127.0.0.1. Any other key the manifest gains is carried over
unchanged, so a misspelt or wrong setting fails here.

- govlake-smoke: ``govlake smoke`` through image/govlake_submit.py (write, merge, read back, time
  travel a Delta table).
- govlake-thrift-server: HiveThriftServer2; beeline (Spark's own JDBC client) reads that table.
- govlake-connect-server: SparkConnectServer; a gRPC client refuses no token / a wrong token and,
  with the right bearer token, runs SQL on that table (Arrow batches back).
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_helpers import Cluster, cluster_at, free_base_port, processes_under
from lakehelpers import session_keys

from govlake.config import REPO_ROOT

pytestmark = pytest.mark.cluster

K8S = REPO_ROOT / "infra" / "k8s"
VENV = REPO_ROOT / ".venv"
SPARK_HOME = Path(__import__("pyspark").__file__).parent
IMAGE_JARS = "/opt/govlake/jars/*"
IMAGE_PYTHON = "/opt/govlake/.venv/bin/python"
IMAGE_REPO = "/opt/govlake/"

#: Keys replaced here, with why. Everything else in a sparkConf is passed on as it is.
LOCAL_ONLY = {
    "spark.kubernetes.": "Kubernetes only (images, service accounts, pod labels, secretKeyRefs)",
    "spark.hadoop.fs.s3a.": "S3: local files here",
    "spark.hadoop.hive.server2.authentication": "LDAP login: no directory here",
    "spark.driver.cores": "size",
    "spark.driver.memory": "size",
    "spark.executor.cores": "size",
    "spark.executor.memory": "size",
    "spark.executor.memoryOverhead": "size",
    "spark.executor.instances": "size",
    "spark.dynamicAllocation.maxExecutors": "size",
    "spark.sql.shuffle.partitions": "size",
    "spark.databricks.delta.snapshotPartitions": "size",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "size",
}
LOCAL_SIZES = {
    "spark.driver.memory": "1g",
    "spark.executor.cores": "1",
    "spark.executor.memory": "768m",
    "spark.dynamicAllocation.maxExecutors": "2",
    "spark.sql.shuffle.partitions": "8",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
}


def application(file: str, name: str) -> dict[str, Any]:
    for doc in yaml.safe_load_all((K8S / file).read_text()):
        if doc and doc["kind"] == "SparkApplication" and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no SparkApplication {name} in {file}")


def driver_env(app: dict[str, Any]) -> dict[str, str]:
    """The driver container's literal env entries (the secretKeyRef ones are this test's own)."""
    containers = (
        app["spec"].get("driverSpec", {}).get("podTemplateSpec", {}).get("spec", {}).get("containers", [])
    )
    return {e["name"]: e["value"] for c in containers for e in c.get("env", []) if "value" in e}


def local_conf(app: dict[str, Any], ports: dict[str, str]) -> dict[str, str]:
    jars = ":".join(str(j) for j in sorted((REPO_ROOT / ".jars").glob("*.jar")))
    conf = {}
    for key, value in app["spec"]["sparkConf"].items():
        if any(key.startswith(prefix) for prefix in LOCAL_ONLY):
            continue
        value = str(value).replace(IMAGE_JARS, jars).replace(IMAGE_PYTHON, str(VENV / "bin" / "python"))
        conf[key] = ports.get(key, value.replace("0.0.0.0", "127.0.0.1"))
    return conf | LOCAL_SIZES | {"spark.ui.enabled": "false"}


def spark_submit(app: dict[str, Any], cluster: Cluster, ports: dict[str, str]) -> list[str]:
    spec = app["spec"]
    command = [str(VENV / "bin" / "spark-submit"), "--master", cluster.master_url]
    for key, value in local_conf(app, ports).items():
        command += ["--conf", f"{key}={value}"]
    if "mainClass" in spec:
        command += ["--class", spec["mainClass"]]  # a server class of Spark's own: no app file
    else:
        command.append(spec["pyFiles"].replace("local://", "").replace(IMAGE_REPO, f"{REPO_ROOT}/"))
    return command + list(spec.get("driverArgs", []))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = cluster_at(tmp_path_factory.mktemp("spark-cluster"), workers=2)
    started = cluster.script("start.sh")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield cluster
    finally:
        stopped = cluster.script("stop.sh")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not processes_under(cluster.run_dir)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lake")


def base_env(lake: Path, cluster: Cluster) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLAKE_", "PYSPARK_", "SPARK_"))}
    # What the pods take from ConfigMap govlake-config, for this machine.
    return (
        env
        | session_keys()
        | {
            "GOVLAKE_STORAGE_ROOT": str(lake),
            "GOVLAKE_JARS_DIR": str(REPO_ROOT / ".jars"),
            "GOVLAKE_SPARK_MASTER": cluster.master_url,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": str(VENV / "bin" / "python"),
        }
    )


@pytest.fixture(scope="module")
def smoke_run(cluster: Cluster, lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The govlake-smoke driver command, run once: its result, and the table the servers read."""
    app = application("spark/applications.yaml", "govlake-smoke")
    t0 = time.monotonic()
    result = subprocess.run(
        spark_submit(app, cluster, {}), env=base_env(lake, cluster), cwd=tmp_path_factory.mktemp("smoke"),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return {"app": app, "result": result, "seconds": time.monotonic() - t0}


def test_smoke_application_runs_its_driver_command(smoke_run: dict[str, Any], lake: Path):
    app, result = smoke_run["app"], smoke_run["result"]
    assert driver_env(app)["GOVLAKE_SPARK_MASTER"].startswith("k8s://")  # here: the standalone cluster
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"\n[k8s pods] govlake-smoke driver command ran in {smoke_run['seconds']:.1f}s")
    report = json.loads(result.stdout[result.stdout.index("{") :])
    print(f"[k8s pods] smoke report: {report}")
    assert (lake / "bronze" / "_smoke" / "_delta_log").is_dir()


def _start_server(command: list[str], env: dict[str, str], port: int, log: Path, timeout_s: float = 300):
    process = subprocess.Popen(
        command,
        env=env,
        cwd=log.parent,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(1)
    _stop_server(process)
    raise AssertionError(f"port {port} not open after {timeout_s}s:\n{log.read_text()[-3000:]}")


def _stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def test_thrift_server_command_serves_sql_over_jdbc(cluster: Cluster, lake: Path, tmp_path: Path, smoke_run):
    app = application("spark/sql-endpoints.yaml", "govlake-thrift-server")
    assert app["spec"]["sparkConf"]["spark.hadoop.hive.server2.thrift.port"] == "10000"
    port = free_base_port(1, 24000, 26000)
    command = spark_submit(app, cluster, {"spark.hadoop.hive.server2.thrift.port": str(port)})
    server = _start_server(command, base_env(lake, cluster), port, tmp_path / "thrift.log")
    try:
        query = f"SELECT count(*) AS n FROM delta.`{lake}/bronze/_smoke`"
        beeline = subprocess.run(
            [str(SPARK_HOME / "bin" / "beeline"), "-u", f"jdbc:hive2://127.0.0.1:{port}", "-n", "tester",
             "--outputformat=csv2", "-e", query],
            env=base_env(lake, cluster), capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert beeline.returncode == 0, beeline.stdout[-2000:] + beeline.stderr[-2000:]
        assert beeline.stdout.split()[-2:] == ["n", "3"], beeline.stdout  # (after the echoed query)
    finally:
        _stop_server(server)


def _connect_protos() -> tuple[Any, Any]:
    """Spark Connect's generated gRPC modules (this test speaks the protocol itself, below the client).

    The real package, not stand-in modules planted in ``sys.modules``: those outlived the test and
    broke every later ``pyspark.sql.connect`` import in the same process (tests/sql's client)."""
    base = importlib.import_module("pyspark.sql.connect.proto.base_pb2")
    return base, importlib.import_module("pyspark.sql.connect.proto.base_pb2_grpc")


def test_connect_server_command_needs_its_token_and_serves_sql(
    cluster: Cluster, lake: Path, tmp_path: Path, smoke_run
):
    import grpc
    import pyarrow as pa

    app = application("spark/sql-endpoints.yaml", "govlake-connect-server")
    container = app["spec"]["driverSpec"]["podTemplateSpec"]["spec"]["containers"][0]
    token_env = [e for e in container["env"] if e["name"] == "SPARK_CONNECT_AUTHENTICATE_TOKEN"]
    assert token_env and "secretKeyRef" in token_env[0]["valueFrom"]
    port = free_base_port(1, 26000, 28000)
    token = secrets.token_urlsafe(24)
    env = base_env(lake, cluster) | {"SPARK_CONNECT_AUTHENTICATE_TOKEN": token}
    command = spark_submit(app, cluster, {"spark.connect.grpc.binding.port": str(port)})
    server = _start_server(command, env, port, tmp_path / "connect.log")
    try:
        base, service = _connect_protos()
        stub = service.SparkConnectServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        request = base.ExecutePlanRequest(session_id=str(uuid.uuid4()))
        request.user_context.user_id = "tester"
        request.plan.root.sql.query = f"SELECT code, name FROM delta.`{lake}/bronze/_smoke` ORDER BY code"
        for metadata in ([], [("authorization", "Bearer not-the-token")]):
            with pytest.raises(grpc.RpcError) as refused:
                list(stub.ExecutePlan(request, metadata=metadata, timeout=60))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        rows = []
        for response in stub.ExecutePlan(
            request, metadata=[("authorization", f"Bearer {token}")], timeout=600
        ):
            if response.HasField("arrow_batch"):
                rows += pa.ipc.open_stream(response.arrow_batch.data).read_all().to_pylist()
        assert [r["code"] for r in rows] == [3201, 3202, 3203]
    finally:
        _stop_server(server)
