"""Helpers for the standalone-cluster tests: run infra/spark-cluster/ scripts on free loopback ports."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govlake.config import REPO_ROOT

SCRIPTS = REPO_ROOT / "infra" / "spark-cluster"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(count: int, low: int = 30000, high: int = 40000) -> int:
    """A base port whose ``count`` consecutive ports are all free on 127.0.0.1."""
    bases = list(range(low, high - count, 10))
    random.shuffle(bases)
    for base in bases:
        if all(_port_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} free consecutive ports in {low}..{high}")


@dataclass(frozen=True)
class Cluster:
    run_dir: Path
    base_port: int
    workers: int
    env: dict[str, str]

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.base_port}"

    @property
    def master_ui(self) -> str:
        return f"http://127.0.0.1:{self.base_port + 1}"

    def worker_port(self, i: int) -> int:
        return self.base_port + 2 * i

    def worker_ui(self, i: int) -> str:
        return f"http://127.0.0.1:{self.base_port + 2 * i + 1}"

    def script(self, name: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPTS / name)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def pids(self) -> dict[str, int]:
        """Component -> pid, from the pid files start.sh wrote."""
        return {p.stem: int(p.read_text().strip()) for p in (self.run_dir / "pids").glob("*.pid")}


def cluster_at(run_dir: Path, workers: int = 2) -> Cluster:
    base = free_base_port(2 + 2 * workers)
    env = {
        **os.environ,
        "GOVLAKE_SPARK_CLUSTER_DIR": str(run_dir),
        "GOVLAKE_SPARK_CLUSTER_BASE_PORT": str(base),
        "GOVLAKE_SPARK_WORKERS": str(workers),
        "GOVLAKE_SPARK_WORKER_CORES": "1",
        "GOVLAKE_SPARK_WORKER_MEMORY": "1536m",
    }
    return Cluster(run_dir=run_dir, base_port=base, workers=workers, env=env)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def processes_under(folder: Path) -> list[tuple[int, str]]:
    """Live processes whose command line names ``folder`` or whose working directory is inside it
    (executors and their Python workers run in the worker's work dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if "\nState:\tZ" in status:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (OSError, ValueError):
            continue
        if str(folder) in cmdline or cwd == str(folder) or cwd.startswith(f"{folder}/"):
            found.append((int(entry.name), cmdline[:200]))
    return found
