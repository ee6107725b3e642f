"""The one way the project gets a SparkSession: Delta enabled, S3A wired when the lake is on S3.

The Delta and S3A jars are read from the folder ``infra/install.sh`` filled (``Settings.jars_dir``);
nothing is downloaded when Spark starts.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.config import METASTORE_PASSWORD_ENV, REPO_ROOT, S3Settings, Settings, load_settings

if TYPE_CHECKING:  # pyspark is imported lazily so light callers (CLI help, DAG parsing) stay fast
    from pyspark.sql import DataFrame, SparkSession

_lock = threading.Lock()

#: The most rows :func:`broadcast_if_few` broadcasts: a few MB of keys. A join with a side this
#: small then scans the other side once instead of shuffling it whole.
BROADCAST_ROWS = 200_000


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
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "Asia/Shanghai",
        "spark.sql.adaptive.enabled": "true",
        # Delta 4.4 re-derives a table's whole state after every commit, as a check of the state it
        # keeps incrementally in the .crc file, when the session time zone is not UTC (ours is
        # Asia/Shanghai): three extra Spark actions and ~8x the time of a small append. The incremental
        # state is what Delta trusts in a UTC session; trust it here too.
        "spark.databricks.delta.allFilesInCrc.verificationMode.forceOnNonUTC.enabled": "false",
        # Managed tables (dbt, SQL endpoint) live under the lake, not in the current directory.
        "spark.sql.warehouse.dir": f"{settings.storage_root.rstrip('/')}/warehouse",
        # Python workers (pandas UDFs) must run this interpreter, which has pandas and pyarrow,
        # not whatever `python3` is first on PATH (a cluster's spark-submit reads this key).
        "spark.pyspark.python": sys.executable,
    }
    if settings.spark_master.startswith("local"):
        conf["spark.jars"] = ",".join(str(j) for j in jars)
        # Small-machine defaults (2 cores): Spark's 200 shuffle partitions and Delta's 50 snapshot
        # partitions make every tiny table pay for scheduling hundreds of empty tasks. On a cluster
        # master the site sizes Spark instead (spark-defaults.conf in SPARK_CONF_DIR, or a
        # SparkApplication's sparkConf): a setting given here would override the site's.
        conf |= {
            "spark.sql.shuffle.partitions": "8",
            "spark.databricks.delta.snapshotPartitions": "2",
            # Delta's VACUUM lists a table's files in a Spark job of this many tasks (default 10,000):
            # measured 60-90 s per VACUUM of an 8-file table on local[2], most of it empty tasks.
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
            "spark.driver.memory": "4g",
        }
    else:
        # A cluster (spark://, k8s://) has the jars at the same path on every node (this machine's
        # .jars for infra/spark-cluster, the image's GOVLAKE_JARS_DIR on Kubernetes): put them on
        # the class paths. spark.jars would copy them, 670 MB with the AWS SDK bundle, into every
        # executor's work dir at every application start (measured: 16 s per executor, 2-core VM).
        class_path = ":".join(str(j) for j in jars)
        conf["spark.driver.extraClassPath"] = class_path
        conf["spark.executor.extraClassPath"] = class_path
    if settings.metastore is not None:
        conf |= metastore_conf(settings, jars)
    if settings.is_s3:
        assert settings.s3 is not None
        conf["spark.hadoop.fs.s3a.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"
        conf |= {f"spark.hadoop.{key}": value for key, value in s3a_options(settings.s3).items()}
    return conf


def metastore_conf(settings: Settings, jars: list[Path]) -> dict[str, str]:
    """Spark's built-in Hive 2.3 client on the shared metastore database (Postgres).

    Without it a session's catalogue is in memory (names live as long as the session) and the
    Thrift server would fall back to an embedded Derby that admits one process at a time. With it
    the SQL endpoint's Thrift and Connect servers, dbt and the pipeline's steps see the same names
    at once. ``infra/sql-endpoint/start.sh`` creates the whole schema before any server starts
    (DataNucleus SchemaTool over Hive's package.jdo, plus the VERSION row), so no session creates
    metastore tables (autoCreateAll off: concurrent sessions would race to run the same DDL). The
    password is a reference that Hadoop's configuration resolves from the JVM's environment: its
    value is in no Spark setting.
    """
    assert settings.metastore is not None
    driver = [j for j in jars if j.name.startswith("postgresql-")]
    if not driver:
        raise SparkJarsMissing(
            f"no Postgres JDBC driver in {settings.jars_dir}; run `bash infra/install.sh` (or `make install`)"
        )
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": settings.metastore.url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": settings.metastore.user,
        "spark.hadoop.javax.jdo.option.ConnectionPassword": "${env." + METASTORE_PASSWORD_ENV + "}",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
        # DataNucleus' SchemaTool made the schema, not Hive's schematool (pip pyspark has no scripts):
        # start.sh records the version Hive would, but a strict check is left off for other metastores.
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }
    if settings.spark_master.startswith("local"):
        # DataNucleus loads the JDBC driver from the JVM's class path, not from spark.jars.
        conf["spark.driver.extraClassPath"] = str(driver[0])
    return conf


def s3a_options(s3: S3Settings) -> dict[str, str]:
    """Hadoop S3A options (``fs.s3a.*``, without Spark's ``spark.hadoop.`` prefix) for one endpoint.

    ``spark_conf`` applies them to every bucket; ``govlake.objectstore.s3a_bucket_options`` scopes
    them to one bucket (``fs.s3a.bucket.<name>.*``) on an already running session.

    Against SeaweedFS 4.48 (infra/objectstore/) Hadoop 3.5.0's S3A needs nothing beyond these:
    tests/objectstore verifies that the defaults it relies on work there, namely conditional
    create (``fs.s3a.create.conditional.enabled``, If-None-Match: *), multipart upload
    (``fs.s3a.multipart.uploads.enabled``), bulk DeleteObjects with Content-MD5
    (``fs.s3a.multiobjectdelete.enable``, ``fs.s3a.request.md5.header``), the analytics input
    stream that is 3.5.0's default (``fs.s3a.input.stream.type``: HEAD, ranged and vectored GETs)
    and ETag change detection (GET with If-Match). Request checksums are off by default in 3.5.0
    (``fs.s3a.checksum.generation=false``); SeaweedFS accepts the CRC32 checksums boto3 sends by
    default anyway. Revisit this with a new Hadoop or SeaweedFS.
    """
    return {
        "fs.s3a.endpoint": s3.endpoint,
        # Signing region: S3A cannot infer it from a custom endpoint (it would fall back to
        # us-east-2); keep it the region boto3 signs with.
        "fs.s3a.endpoint.region": s3.region,
        # http://host:port/bucket/key: a loopback endpoint has no per-bucket DNS names.
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": str(s3.endpoint.startswith("https")).lower(),
        # Only the keys below: never instance metadata, profiles or other chains of the SDK.
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": s3.access_key,
        "fs.s3a.secret.key": s3.secret_key,
    }


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
        # PySpark picks the worker interpreter from the environment, not from the session conf.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
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


def broadcast_if_few(df: DataFrame, limit: int = BROADCAST_ROWS) -> DataFrame:
    """``df`` materialized, with a broadcast hint when it has at most ``limit`` rows.

    For the small side of a join that is small in an incremental run (the keys a delivery
    touched) but whole-table-sized in a full one. Spark's adaptive execution cannot do this
    itself: it re-plans a join as a broadcast only after both sides' shuffles ran, so the large
    side is shuffled anyway (measured at 300,000 persons: joining the 583,882 prepared person
    records with the crosswalk took 4.2 s shuffled, 1.5 s with the crosswalk broadcast). ``df`` is
    checkpointed first, so counting it runs its plan once.
    """
    from pyspark.sql import functions as F

    held = df.localCheckpoint(eager=True)
    return F.broadcast(held) if held.count() <= limit else held
