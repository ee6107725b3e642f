"""The one way the project gets a SparkSession: Delta enabled, S3A wired when the lake is on S3.

The Delta and S3A jars are read from the folder ``infra/install.sh`` filled (``Settings.jars_dir``);
nothing is downloaded when Spark starts.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from govlake.config import REPO_ROOT, Settings, load_settings

if TYPE_CHECKING:  # pyspark is imported lazily so light callers (CLI help, DAG parsing) stay fast
    from pyspark.sql import SparkSession

_lock = threading.Lock()


class SparkJarsMissing(RuntimeError):
    """The Delta / S3A jars are not installed; run ``infra/install.sh``."""


def spark_conf(settings: Settings) -> dict[str, str]:
    """Every Spark setting the project relies on, as plain key/value pairs (unit-testable)."""
    jars = sorted(settings.jars_dir.glob("*.jar"))
    if not any(j.name.startswith("delta-spark_") for j in jars):
        raise SparkJarsMissing(
            f"no Delta jar in {settings.jars_dir}; run `bash infra/install.sh` (or `make install`) first"
        )
    log4j = REPO_ROOT / "infra" / "spark" / "log4j2.properties"
    conf = {
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "Asia/Shanghai",
        # Small-machine defaults (2 cores): Spark's 200 shuffle partitions and Delta's 50 snapshot
        # partitions make every tiny table pay for scheduling hundreds of empty tasks.
        "spark.sql.shuffle.partitions": "8",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.adaptive.enabled": "true",
        # Managed tables (dbt, SQL endpoint) live under the lake, not in the current directory.
        "spark.sql.warehouse.dir": f"{settings.storage_root.rstrip('/')}/warehouse",
        "spark.driver.memory": "4g",
    }
    if settings.is_s3:
        assert settings.s3 is not None
        conf |= {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.endpoint": settings.s3.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": settings.s3.region,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": str(
                settings.s3.endpoint.startswith("https")
            ).lower(),
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": settings.s3.access_key,
            "spark.hadoop.fs.s3a.secret.key": settings.s3.secret_key,
        }
    return conf


def get_spark(settings: Settings | None = None, app_name: str = "govlake") -> SparkSession:
    """Return the process's SparkSession, creating it on first use.

    Spark allows one active session per JVM; later calls with other settings get the existing
    session, so callers that need another storage root must ``stop_spark()`` first.
    """
    from pyspark.sql import SparkSession

    settings = settings or load_settings()
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
        for key, value in spark_conf(settings).items():
            builder = builder.config(key, value)
        return builder.getOrCreate()


def stop_spark() -> None:
    """Stop the active session (if any) so the next ``get_spark`` starts a fresh one."""
    from pyspark.sql import SparkSession

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
