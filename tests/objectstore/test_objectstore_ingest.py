"""Ingestion with the lake on the object store: landing and raw through pyarrow's S3 client,
bronze through Spark's S3A, the same code paths as on local files."""

from __future__ import annotations

import pytest

from govlake import storage
from govlake.config import load_settings
from govlake.lake import Lake

pytestmark = pytest.mark.objectstore


def test_land_and_load_on_s3(spark_s3, objectstore, objectstore_env, client):
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    settings = load_settings(
        objectstore_env
        | {
            "GOVLAKE_STORAGE_ROOT": f"s3a://{objectstore.bucket}/lake",
            "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
        }
    )
    lake = Lake(settings, spark_s3)
    landing = f"{lake.location('landing', source_id='ps_3202_household')}/wxga_hjrk_s3.csv"
    extract = "\ufeff记录号,身份证号,姓名\nS1,320102199001011234,张三\nS2,,李四\n"
    storage.write_bytes(settings, landing, extract.encode("utf-8"))

    landed = land_new_files("ps_3202_household", settings)
    assert len(landed) == 1 and landed[0]["raw_path"].startswith(f"s3a://{objectstore.bucket}/lake/raw/")
    assert not storage.exists(settings, landing)  # landing is emptied once the raw copy exists
    result = load_file("ps_3202_household", landed[0]["file_hash"], settings)
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (2, 2, 0)

    bronze = lake.read_latest("bronze.household_registration")
    assert sorted(r["record_no"] for r in bronze.collect()) == ["S1", "S2"]
    assert lake.read_latest("bronze._ingest_log").count() == 1
    keys = [
        o["Key"] for o in client.list_objects_v2(Bucket=objectstore.bucket, Prefix="lake/raw/")["Contents"]
    ]
    assert any(k.endswith(f"{landed[0]['file_hash']}.json") for k in keys)
