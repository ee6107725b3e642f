"""S3A options: one list (govlake.spark.s3a_options), applied session-wide or to one bucket.

Pure unit tests (no store, no Spark), so they are not marked ``objectstore``.
"""

from __future__ import annotations

from govlake.config import load_settings
from govlake.objectstore import s3a_bucket_options
from govlake.spark import s3a_options, spark_conf


def _settings():
    return load_settings(
        {
            "GOVLAKE_STORAGE_ROOT": "s3a://lake/prod",
            "GOVLAKE_S3_ENDPOINT": "http://127.0.0.1:8333",
            "AWS_ACCESS_KEY_ID": "AKEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret/example",
        }
    )


def test_spark_conf_carries_every_s3a_option():
    settings = _settings()
    conf = spark_conf(settings)
    assert conf["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    for key, value in s3a_options(settings.s3).items():
        assert conf[f"spark.hadoop.{key}"] == value
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"


def test_bucket_options_are_scoped_to_the_bucket():
    options = s3a_bucket_options(_settings().s3, "govlake-test")
    assert options["fs.s3a.bucket.govlake-test.endpoint"] == "http://127.0.0.1:8333"
    assert options["fs.s3a.bucket.govlake-test.secret.key"] == "secret/example"
    assert all(key.startswith("fs.s3a.bucket.govlake-test.") for key in options)
    assert len(options) == len(s3a_options(_settings().s3))
