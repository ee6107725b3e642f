"""The quality gate with the lake on the object store: GX's validation results and Data Docs go to
the bucket through the lake's own store backend (GX 1.x has no S3 backend), the version is published,
and a defect is refused there as on local files."""

from __future__ import annotations

import pytest

from govlake import storage
from govlake.config import load_settings
from govlake.lake import Lake

pytestmark = pytest.mark.objectstore


def test_gate_validates_and_publishes_on_s3(spark_s3, objectstore, objectstore_env, client):
    from lakehelpers import household_rows, write_table

    from jobs.quality.context import data_docs_index
    from jobs.quality.gate import QualityGateFailed, gate_tables

    settings = load_settings(
        objectstore_env
        | {
            "GOVLAKE_STORAGE_ROOT": f"s3a://{objectstore.bucket}/gated",
            "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
        }
    )
    lake = Lake(settings, spark_s3)
    table = "bronze.household_registration"
    write_table(spark_s3, lake.path(table), household_rows(3))
    (published,) = gate_tables(lake, "test", "bronze", [table]).published
    assert published.delta_version == 0 and lake.read_published(table).count() == 3

    bad = household_rows(1, start=4)
    bad[0]["name"] = None
    write_table(spark_s3, lake.path(table), bad, mode="append")
    with pytest.raises(QualityGateFailed):
        gate_tables(lake, "test", "bronze", [table])
    assert lake.published_version(table) == 0

    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket=objectstore.bucket, Prefix="gated/quality/gx/")["Contents"]
    ]
    assert sum("/validations/" in k and k.endswith(".json") for k in keys) == 2  # pass and fail
    index = data_docs_index(settings)
    assert index.startswith(f"s3a://{objectstore.bucket}/gated/quality/gx/data_docs/")
    page = storage.read_bytes(settings, index).decode("utf-8")
    assert "bronze.household_registration" in page and "https://" not in page.split("<body")[0]
