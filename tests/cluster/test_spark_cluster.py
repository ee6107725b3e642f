"""A real Spark standalone cluster (infra/spark-cluster/: a master and two workers, each its own JVM)
runs a Delta job from a driver that differs from the embedded default only in its environment
(GOVLAKE_SPARK_MASTER=spark://…, GOVLAKE_STORAGE_ROOT, and SPARK_CONF_DIR with the sizes), with
executors on both workers doing work, and leaves no process behind when stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from cluster_helpers import cluster_at, get_json, processes_under

from govlake.config import REPO_ROOT

pytestmark = pytest.mark.cluster

DRIVER = Path(__file__).with_name("_cluster_driver.py")


def test_delta_job_on_standalone_cluster_uses_both_workers(tmp_path: Path):
    cluster = cluster_at(tmp_path / "spark-cluster", workers=2)
    t0 = time.monotonic()
    started = cluster.script("start.sh")
    assert started.returncode == 0, started.stdout + started.stderr
    print(f"\n[spark-cluster] {cluster.master_url} started in {time.monotonic() - t0:.1f}s")
    pids = cluster.pids()
    group_members: set[int] = set()
    try:
        assert set(pids) == {"master", "worker-1", "worker-2"}
        status = cluster.script("status.sh")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "2 of 2 workers ALIVE" in status.stdout
        again = cluster.script("start.sh")
        assert again.returncode == 0 and "already running" in again.stdout, again.stdout + again.stderr
        assert cluster.pids() == pids

        master = get_json(f"{cluster.master_ui}/json/")
        assert master["status"] == "ALIVE"
        alive = {w["port"]: w for w in master["workers"] if w["state"] == "ALIVE"}
        assert set(alive) == {cluster.worker_port(1), cluster.worker_port(2)}
        assert all(w["host"] == "127.0.0.1" and w["cores"] == 1 for w in alive.values())

        lake = tmp_path / "lake"
        # On a cluster the site sizes Spark (govlake.spark leaves sizing alone): the sizes of this
        # 2-core machine, given the way a deployment gives them.
        site_conf = tmp_path / "spark-conf"
        site_conf.mkdir()
        (site_conf / "spark-defaults.conf").write_text(
            "spark.sql.shuffle.partitions 8\n"
            "spark.databricks.delta.snapshotPartitions 2\n"
            "spark.driver.memory 2g\n"
            "spark.executor.memory 768m\n"
        )
        driver_env = {
            **os.environ,
            "GOVLAKE_SPARK_MASTER": cluster.master_url,
            "GOVLAKE_STORAGE_ROOT": str(lake),
            "SPARK_CONF_DIR": str(site_conf),
            "SPARK_LOCAL_IP": "127.0.0.1",  # the driver's own listeners on loopback too
        }
        t1 = time.monotonic()
        driver = subprocess.run(
            [str(REPO_ROOT / ".venv" / "bin" / "python"), str(DRIVER), "2"],
            env=driver_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result_lines = [line for line in driver.stdout.splitlines() if line.startswith("RESULT ")]
        assert driver.returncode == 0 and result_lines, driver.stdout[-3000:] + driver.stderr[-3000:]
        result = json.loads(result_lines[-1].removeprefix("RESULT "))
        print(
            f"[spark-cluster] driver ran in {time.monotonic() - t1:.1f}s (session + executors "
            f"{result['registered_s']}s, Delta write/append/merge/read {result['delta_s']}s)"
        )

        # The Delta table, written and read through the cluster.
        assert result["master"] == cluster.master_url
        assert result["count"] == 30_000
        assert result["first_version_count"] == 20_000
        assert result["history"] == [[0, "WRITE"], [1, "WRITE"], [2, "MERGE"]]
        assert result["by_prefecture"]["3201"] == sum(1 for i in range(20_000) if i % 13 == 0 or i < 1_000)
        assert (lake / "bronze" / "cluster_smoke" / "_delta_log" / "00000000000000000002.json").is_file()

        # The site's sizing reached the driver and the executors.
        assert (result["shuffle_partitions"], result["snapshot_partitions"]) == ("8", "2")
        assert (result["conf"]["spark.driver.memory"], result["conf"]["spark.executor.memory"]) == (
            "2g",
            "768m",
        )

        # The jars reach executors by class path, not by copying 670 MB into each work dir.
        assert result["conf"]["spark.jars"] is None
        assert "delta-spark_" in result["conf"]["spark.executor.extraClassPath"]

        # The master saw one application with both workers' cores; it has finished.
        app_id = result["app_id"]
        master = get_json(f"{cluster.master_ui}/json/")
        apps = {a["id"]: a for a in master["completedapps"]}
        assert apps[app_id]["state"] == "FINISHED" and apps[app_id]["cores"] == 2

        # Each worker ran an executor of it, and each executor finished tasks.
        assert len(result["executor_ids"]) == 2
        for i in (1, 2):
            worker = get_json(f"{cluster.worker_ui(i)}/json/")
            ours = [e for e in worker["finishedexecutors"] if e["appid"] == app_id]
            assert len(ours) == 1, worker["finishedexecutors"]
            assert ours[0]["memory"] == 768
            executor_dir = cluster.run_dir / "work" / f"worker-{i}" / app_id / str(ours[0]["id"])
            stderr = (executor_dir / "stderr").read_text(encoding="utf-8", errors="replace")
            finished = stderr.count("Finished task")
            print(f"[spark-cluster] worker-{i}: executor {ours[0]['id']} finished {finished} tasks")
            assert finished > 0
            assert not list(executor_dir.glob("*.jar"))
            # Python tasks ran in this executor too (their working directory is its work dir).
            assert str(executor_dir) in result["python_work_dirs"]

        group_members = {pid for pid, _ in processes_under(cluster.run_dir)}
    finally:
        stopped = cluster.script("stop.sh")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert cluster.script("status.sh").returncode == 1
    left = processes_under(cluster.run_dir)
    assert not left, left
    assert not [pid for pid in set(pids.values()) | group_members if Path(f"/proc/{pid}").exists()]
    assert not list((cluster.run_dir / "pids").glob("*.pid"))
