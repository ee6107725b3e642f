"""How the project's jars reach executors, by master (pure unit tests: no cluster, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.config import load_settings
from govlake.spark import spark_conf


@pytest.fixture
def jars_dir(tmp_path: Path) -> Path:
    for name in ("delta-spark_4.2_2.13-4.4.0.jar", "hadoop-aws-3.5.0.jar"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def _conf(master: str, jars_dir: Path) -> dict[str, str]:
    return spark_conf(load_settings({"GOVLAKE_SPARK_MASTER": master, "GOVLAKE_JARS_DIR": str(jars_dir)}))


@pytest.mark.parametrize("master", ["local[2]", "local", "local[*]"])
def test_local_master_ships_the_jars(master: str, jars_dir: Path):
    conf = _conf(master, jars_dir)
    assert conf["spark.jars"].split(",") == [
        str(jars_dir / "delta-spark_4.2_2.13-4.4.0.jar"),
        str(jars_dir / "hadoop-aws-3.5.0.jar"),
    ]
    assert "spark.executor.extraClassPath" not in conf


@pytest.mark.parametrize("master", ["spark://127.0.0.1:7077", "k8s://https://kubernetes.default.svc:443"])
def test_cluster_master_puts_the_jars_on_the_class_paths(master: str, jars_dir: Path):
    conf = _conf(master, jars_dir)
    expected = f"{jars_dir / 'delta-spark_4.2_2.13-4.4.0.jar'}:{jars_dir / 'hadoop-aws-3.5.0.jar'}"
    assert "spark.jars" not in conf
    assert conf["spark.driver.extraClassPath"] == expected
    assert conf["spark.executor.extraClassPath"] == expected


def test_sizing_is_left_to_the_site_on_a_cluster(jars_dir: Path):
    sizing = (
        "spark.sql.shuffle.partitions",
        "spark.databricks.delta.snapshotPartitions",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism",
        "spark.driver.memory",
    )
    local = _conf("local[2]", jars_dir)
    assert [local[key] for key in sizing] == ["8", "2", "8", "4g"]
    cluster = _conf("spark://127.0.0.1:7077", jars_dir)
    assert not [key for key in sizing if key in cluster]
    # What makes a Delta job correct is the same everywhere.
    for key in ("spark.sql.extensions", "spark.sql.catalog.spark_catalog", "spark.sql.session.timeZone"):
        assert local[key] == cluster[key]
