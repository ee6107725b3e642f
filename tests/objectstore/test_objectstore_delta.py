"""Delta Lake on the object store, through Spark's S3A connector: what the lake does on s3a://."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.objectstore


def test_delta_table_on_s3a(spark_s3, objectstore, client):
    from delta.tables import DeltaTable

    spark = spark_s3
    path = f"s3a://{objectstore.bucket}/bronze/household"
    started = time.monotonic()

    spark.createDataFrame(
        [(1, "320102", "王芳"), (2, "320205", "李强"), (3, "320311", "张伟")],
        "id int, region string, name string",
    ).write.format("delta").save(path)
    assert spark.read.format("delta").load(path).count() == 3

    updates = spark.createDataFrame(
        [(2, "320206", "李强"), (4, "321002", "陈静")], "id int, region string, name string"
    )
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )

    now = {r.id: r.region for r in spark.read.format("delta").load(path).collect()}
    assert now == {1: "320102", 2: "320206", 3: "320311", 4: "321002"}
    v0 = {r.id: r.region for r in spark.read.format("delta").option("versionAsOf", 0).load(path).collect()}
    assert v0 == {1: "320102", 2: "320205", 3: "320311"}
    history = DeltaTable.forPath(spark, path).history().select("version", "operation").collect()
    assert [(h.version, h.operation) for h in history] == [(1, "MERGE"), (0, "WRITE")]

    listed = client.list_objects_v2(Bucket=objectstore.bucket, Prefix="bronze/household/_delta_log/")
    log_keys = {o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]}
    assert {"00000000000000000000.json", "00000000000000000001.json"} <= log_keys
    data = client.list_objects_v2(Bucket=objectstore.bucket, Prefix="bronze/household/part-")
    assert data["KeyCount"] >= 2  # the first write's files and the merge's rewrite
    elapsed = time.monotonic() - started
    print(f"\n[objectstore] Delta write, read, MERGE, time travel on S3A: {elapsed:.1f}s")


def test_s3a_multipart_conditional_create_and_bulk_delete(spark_s3, objectstore, client):
    """S3A features beyond plain PUT/GET work against SeaweedFS: large files go up in parts
    (multipart upload), create-if-absent is enforced by the store (If-None-Match: *), and a
    directory is deleted with one DeleteObjects request."""
    from py4j.protocol import Py4JJavaError

    spark = spark_s3
    jvm = spark._jvm

    def path(key: str):
        return jvm.org.apache.hadoop.fs.Path(f"s3a://{objectstore.bucket}/{key}")

    conf = spark._jsparkSession.sessionState().newHadoopConf()
    # A private FileSystem instance with 5 MiB parts, so 12 MiB needs three of them.
    conf.set("fs.s3a.multipart.size", "5M")
    conf.set("fs.s3a.multipart.threshold", "5M")
    fs = jvm.org.apache.hadoop.fs.FileSystem.newInstance(path("").toUri(), conf)
    try:
        chunk = bytes(range(256)) * 4096  # 1 MiB
        target = path("s3a-mpu/dir/blob.bin")
        out = fs.create(target, True)
        for _ in range(12):
            out.write(chunk)
        out.close()

        assert fs.getFileStatus(target).getLen() == 12 * len(chunk)
        head = client.head_object(Bucket=objectstore.bucket, Key="s3a-mpu/dir/blob.bin")
        assert head["ETag"].strip('"').endswith("-3")
        stream = fs.open(target)
        stream.seek(5 * 1024 * 1024 + 7)
        assert stream.read() == 7  # byte value at that offset: offset % 256
        stream.close()

        # Conditional create: the PUT carries If-None-Match: *, and the store answers 412.
        builder = fs.createFile(target).overwrite(True)
        builder.must("fs.option.create.conditional.overwrite", "true")
        with (
            _quiet(jvm, "org.apache.hadoop.fs.s3a"),  # S3A logs the expected failure at length
            pytest.raises(Py4JJavaError, match=r"RemoteFileChangedException|PreconditionFailed|412"),
        ):
            out = builder.build()
            out.write(b"must not replace the blob")
            out.close()
        assert fs.getFileStatus(target).getLen() == 12 * len(chunk)

        fs.create(path("s3a-mpu/dir/small"), True).close()
        assert fs.delete(path("s3a-mpu"), True)
        assert fs.getIOStatistics().counters().get("object_bulk_delete_request") >= 1
        assert client.list_objects_v2(Bucket=objectstore.bucket, Prefix="s3a-mpu/")["KeyCount"] == 0
    finally:
        fs.close()


@contextmanager
def _quiet(jvm, logger: str) -> Iterator[None]:
    """Only errors from ``logger`` (a log4j2 logger name) inside the block."""
    configurator = jvm.org.apache.logging.log4j.core.config.Configurator
    level = jvm.org.apache.logging.log4j.LogManager.getLogger(logger).getLevel()
    configurator.setLevel(logger, jvm.org.apache.logging.log4j.Level.ERROR)
    try:
        yield
    finally:
        configurator.setLevel(logger, level)
