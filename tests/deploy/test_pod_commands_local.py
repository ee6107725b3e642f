"""The S3 store's pod command lines (infra/k8s/objectstore/seaweedfs.yaml), run as local processes.

The master, volume and filer(+S3) containers' args are taken from the manifest and only localized
(pod_commands.localize): names -> 127.0.0.1, ports -> free ports, /data -> temp folders. Two
deviations, both of size: one master instead of three (its -peers lists only itself: a Raft of
three needs three pods), and the volume servers' ``-max=0`` (as many 30 GB volumes as the disk
holds: none on a laptop disk) becomes ``-max=20`` (volume files grow as written). Two volume
servers, as the manifest's replication (001: every file on two servers) needs. Then an S3 client
with this test's throw-away identity writes and reads an object through them, and an unknown
identity is refused.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError
from k8s_files import K8S_DIR
from pod_commands import container, localize

from govlake.config import REPO_ROOT

pytestmark = pytest.mark.objectstore

WEED = REPO_ROOT / ".venv" / "bin" / "weed"
HTTP_PORTS = (9333, 8080, 8888, 8333)  # master, volume, filer, S3; gRPC is each + 10000


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _local_ports(taken: frozenset[int] = frozenset()) -> dict[int, int]:
    """Remote port -> local port, keeping SeaweedFS's gRPC = HTTP + 10000 convention."""
    mapping: dict[int, int] = {}
    candidate = 21000 + secrets.randbelow(2000) * 3
    for remote in HTTP_PORTS:
        near = {candidate + d for d in range(-3, 4)} | {candidate + 10000}
        while near & taken or not (_free(candidate) and _free(candidate + 10000)):
            candidate += 7
            near = {candidate + d for d in range(-3, 4)} | {candidate + 10000}
        mapping[remote], mapping[remote + 10000] = candidate, candidate + 10000
        candidate += 7
    return mapping


def _wait(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s}s:\n{log.read_text()[-3000:]}")


def test_seaweedfs_pods_command_lines_serve_s3(tmp_path: Path):
    docs = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all((K8S_DIR / "objectstore" / "seaweedfs.yaml").read_text())
    }
    ports = _local_ports()
    access_key, secret_key = "GLTEST" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
    config_dir = tmp_path / "s3-config"
    config_dir.mkdir()
    template = (REPO_ROOT / "infra" / "objectstore" / "s3-identities.json.template").read_text()
    (config_dir / "s3.json").write_text(
        template.replace("@ACCESS_KEY@", access_key).replace("@SECRET_KEY@", secret_key)
    )

    second_volume = _local_ports(frozenset(ports.values()))[
        8080
    ]  # the second volume server's HTTP port (+10000 gRPC)
    pods = [
        ("master", "seaweedfs-master-0", {}, "/cluster/status"),
        ("volume", "seaweedfs-volume-0", {}, "/status"),
        ("volume", "seaweedfs-volume-1", {8080: second_volume, 18080: second_volume + 10000}, "/status"),
        ("filer", "seaweedfs-filer-0", {}, None),
    ]
    processes: list[subprocess.Popen] = []
    try:
        for role, pod, own_ports, health in pods:
            spec = container(docs[f"seaweedfs-{role}"], role)
            assert spec["command"] == ["/usr/bin/weed"]
            data = tmp_path / pod
            data.mkdir()
            pod_ports = ports | own_ports | {9327: ports[8333] + 1 + len(processes)}  # metrics
            args = localize(
                spec["args"],
                pod_ports,
                {"/data": data, "/etc/seaweedfs": config_dir},
                {"POD_NAME": pod, "NODE_NAME": "local"},
            )
            if role == "master":
                assert sum(a.startswith("-peers=") for a in args) == 1
                args = [a if not a.startswith("-peers=") else f"-peers=127.0.0.1:{ports[9333]}" for a in args]
            if role == "volume":
                assert "-max=0" in args
                args = ["-max=20" if a == "-max=0" else a for a in args]
            log = tmp_path / f"{pod}.log"
            processes.append(
                subprocess.Popen([str(WEED), *args], cwd=data, stdout=log.open("w"), stderr=subprocess.STDOUT)
            )
            if health:
                local_http = pod_ports[{"master": 9333, "volume": 8080}[role]]
                _wait(f"http://127.0.0.1:{local_http}{health}", processes[-1], log)
        _wait(f"http://127.0.0.1:{ports[8333]}/healthz", processes[-1], tmp_path / "seaweedfs-filer-0.log")

        def client(key: str, secret: str):
            return boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{ports[8333]}",
                region_name="us-east-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                config=Config(
                    s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}
                ),
            )

        s3 = client(access_key, secret_key)
        deadline = time.monotonic() + 60
        while True:  # the filer needs a moment to get volumes assigned by the master
            try:
                s3.create_bucket(Bucket="govlake")
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        body = json.dumps({"rows": list(range(1000))}).encode()
        s3.put_object(Bucket="govlake", Key="lake/bronze/probe.json", Body=body)
        assert s3.get_object(Bucket="govlake", Key="lake/bronze/probe.json")["Body"].read() == body
        with pytest.raises(ClientError):
            client("GLNOBODY", secrets.token_urlsafe(30)).list_objects_v2(Bucket="govlake")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
