"""The project's S3-compatible object store, seen from Python.

* ``s3_client`` / ``ensure_bucket``: boto3 against the endpoint ``govlake.config`` names
  (path-style addressing, credentials only from the environment).
* ``start`` / ``stop`` / ``running``: a local SeaweedFS on loopback, through the scripts in
  ``infra/objectstore/`` (which hold every port, path and security decision).
* ``s3a_bucket_options``: point an already running SparkSession at one bucket of such a store.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.config import REPO_ROOT, ConfigError, S3Settings, load_settings
from govlake.spark import s3a_options

if TYPE_CHECKING:
    from botocore.client import BaseClient

SCRIPTS = REPO_ROOT / "infra" / "objectstore"
PORTS_PER_INSTANCE = 8  # see infra/objectstore/env.sh for the layout


class ObjectStoreError(RuntimeError):
    """A start or stop script failed; the message carries its output."""


@dataclass(frozen=True)
class ObjectStore:
    """A running local SeaweedFS, as ``start`` reports it (no secrets)."""

    name: str
    endpoint: str
    base_port: int
    buckets: tuple[str, ...]
    run_dir: Path

    @property
    def bucket(self) -> str:
        """The first bucket: the one the lake uses."""
        return self.buckets[0]

    def s3_settings(self, env: Mapping[str, str] | None = None) -> S3Settings:
        """Settings to reach this store with the credentials in ``env`` (default ``os.environ``)."""
        env = os.environ if env is None else env
        return S3Settings(
            endpoint=self.endpoint,
            region=env.get("GOVLAKE_S3_REGION", "us-east-1"),
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env["AWS_SECRET_ACCESS_KEY"],
        )


def s3_client(s3: S3Settings | None = None) -> BaseClient:
    """A boto3 S3 client for ``s3`` (default: the lake's settings, which must be on ``s3a://``)."""
    import boto3
    from botocore.config import Config

    if s3 is None:
        s3 = load_settings().s3
        if s3 is None:
            raise ConfigError("the lake is on local files; set GOVLAKE_STORAGE_ROOT=s3a://bucket/prefix")
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name=s3.region,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        # Path-style (http://host:port/bucket/key): a loopback endpoint has no per-bucket DNS names.
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )


def ensure_bucket(name: str, client: BaseClient | None = None) -> bool:
    """Create bucket ``name`` unless it exists; True if it was created now."""
    client = client or s3_client()
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        return False
    return True


def s3a_bucket_options(s3: S3Settings, bucket: str) -> dict[str, str]:
    """The S3A options of ``govlake.spark.s3a_options``, scoped to one bucket.

    ``fs.s3a.bucket.<bucket>.<option>`` overrides ``fs.s3a.<option>`` for that bucket only. Set on
    a running session (``spark.conf.set(key, value)``) they reach every Hadoop FileSystem created
    afterwards for ``s3a://<bucket>/``, so one local-files session can also use an object store.
    Hadoop caches FileSystems per bucket: set these before the first access to the bucket.
    """
    return {
        f"fs.s3a.bucket.{bucket}.{key.removeprefix('fs.s3a.')}": value
        for key, value in s3a_options(s3).items()
    }


def free_base_port(low: int = 20000, high: int = 28000) -> int:
    """A base port in [low, high) whose ``PORTS_PER_INSTANCE`` ports are all free on 127.0.0.1."""
    import random

    bases = list(range(low, high - PORTS_PER_INSTANCE, 10))
    random.shuffle(bases)
    for base in bases:
        if all(_port_free(port) for port in range(base, base + PORTS_PER_INSTANCE)):
            return base
    raise ObjectStoreError(f"no {PORTS_PER_INSTANCE} free consecutive ports in {low}..{high}")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _script_env(
    name: str, run_dir: Path | None, env: Mapping[str, str] | None, **extra: str
) -> dict[str, str]:
    script_env = dict(os.environ if env is None else env)
    script_env["GOVLAKE_OBJECTSTORE_NAME"] = name
    if run_dir is not None:
        script_env["GOVLAKE_OBJECTSTORE_DIR"] = str(run_dir)
    return script_env | extra


def _run(script: str, script_env: dict[str, str], timeout_s: float) -> str:
    result = subprocess.run(
        ["bash", str(SCRIPTS / script)],
        env=script_env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise ObjectStoreError(f"{script} failed (exit {result.returncode}):\n{output}")
    return output


def start(
    name: str = "default",
    *,
    base_port: int | None = None,
    buckets: Sequence[str] = ("govlake",),
    run_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 120,
) -> ObjectStore:
    """Start (or find running) SeaweedFS instance ``name`` and ensure its buckets exist.

    ``env`` (default ``os.environ``) must hold AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: the only
    identity the store will accept. ``base_port`` None means the scripts' default (8333).
    """
    if not buckets:
        raise ValueError("start() needs at least one bucket")
    extra = {"GOVLAKE_OBJECTSTORE_BUCKETS": " ".join(buckets)}
    if base_port is not None:
        extra["GOVLAKE_OBJECTSTORE_BASE_PORT"] = str(base_port)
    script_env = _script_env(name, run_dir, env, **extra)
    _run("start.sh", script_env, timeout_s)
    run_dir = Path(script_env.get("GOVLAKE_OBJECTSTORE_DIR") or REPO_ROOT / ".run" / "objectstore" / name)
    state = _read_state(run_dir)
    return ObjectStore(
        name=name,
        endpoint=state["OS_ENDPOINT"],
        base_port=int(state["OS_BASE_PORT"]),
        buckets=tuple(buckets),
        run_dir=run_dir,
    )


def stop(
    name: str = "default",
    *,
    run_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 120,
) -> None:
    """Stop SeaweedFS instance ``name`` (a no-op if it is not running)."""
    _run("stop.sh", _script_env(name, run_dir, env), timeout_s)


@contextmanager
def running(
    name: str = "default",
    *,
    base_port: int | None = None,
    buckets: Sequence[str] = ("govlake",),
    run_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[ObjectStore]:
    """``start`` on entry, ``stop`` on exit (also when the body raises)."""
    try:
        yield start(name, base_port=base_port, buckets=buckets, run_dir=run_dir, env=env)
    finally:
        stop(name, run_dir=run_dir, env=env)


def _read_state(run_dir: Path) -> dict[str, str]:
    """The ``KEY=value`` lines start.sh writes to ``instance.env``."""
    lines = (run_dir / "instance.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)
