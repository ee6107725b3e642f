"""One real SeaweedFS for the object-store tests: started on free loopback ports with random
credentials, stopped (and its data deleted with the pytest temp folder) at the end of the session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govlake.config import S3Settings
from govlake.objectstore import ObjectStore, free_base_port, s3_client, s3a_bucket_options, start, stop


@pytest.fixture(scope="session")
def objectstore_env() -> dict[str, str]:
    """The environment the store is started with: this session's random test credentials."""
    import os

    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "GLTEST" + secrets.token_hex(6).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "GOVLAKE_S3_REGION": "us-east-1",
    }


@pytest.fixture(scope="session")
def objectstore(tmp_path_factory: pytest.TempPathFactory, objectstore_env) -> Iterator[ObjectStore]:
    run_dir: Path = tmp_path_factory.mktemp("objectstore")
    name = f"pytest-{secrets.token_hex(3)}"
    # A bucket name no other session used, so no cached Hadoop FileSystem can point elsewhere.
    bucket = f"govlake-test-{secrets.token_hex(4)}"
    t0 = time.monotonic()
    store = start(name, base_port=free_base_port(), buckets=[bucket], run_dir=run_dir, env=objectstore_env)
    print(f"\n[objectstore] {store.endpoint} started in {time.monotonic() - t0:.1f}s")
    try:
        yield store
    finally:
        t0 = time.monotonic()
        stop(name, run_dir=run_dir, env=objectstore_env)
        print(f"\n[objectstore] stopped in {time.monotonic() - t0:.1f}s")


@pytest.fixture(scope="session")
def s3(objectstore: ObjectStore, objectstore_env) -> S3Settings:
    return objectstore.s3_settings(objectstore_env)


@pytest.fixture(scope="session")
def client(s3: S3Settings):
    return s3_client(s3)


@pytest.fixture(scope="session")
def spark_s3(spark, objectstore: ObjectStore, s3: S3Settings):
    """The suite's one (local-files) SparkSession, also pointed at the test bucket through S3A."""
    options = s3a_bucket_options(s3, objectstore.bucket)
    for key, value in options.items():
        spark.conf.set(key, value)
    yield spark
    # Close the bucket's cached S3A FileSystem (its threads and connections) before the store goes.
    jvm = spark._jvm
    hadoop_conf = spark._jsparkSession.sessionState().newHadoopConf()
    jvm.org.apache.hadoop.fs.Path(f"s3a://{objectstore.bucket}/").getFileSystem(hadoop_conf).close()
    for key in options:
        spark.conf.unset(key)
