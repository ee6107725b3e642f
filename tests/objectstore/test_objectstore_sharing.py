"""Delta Sharing with the lake on the object store: grants built through S3A, the server reading them
with delta-rs, file URLs SigV4-pre-signed by SeaweedFS itself, the official client reading through
them (Parquet and delta formats, the change feed, a file over 5 MiB read with Range requests).

The share gate itself is tested on local files (tests/share): Great Expectations' stores on S3 do not
load in this environment (GX 1.x has no TupleS3StoreBackend, which jobs/quality/context.py names), so
here the grant versions are published without validation, as tests/lakehelpers.publish_latest does.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.objectstore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "share"))
from sharehelpers import (  # noqa: E402
    ADDRESSES_DDL,
    PERSONS_DDL,
    SHARES_YAML,
    address_rows,
    free_port,
    persons_rows,
    serving,
    write_profile,
)

PERSONS = "silver.population.persons"
ADDRESSES = "silver.geography.address_points"


@pytest.mark.xfail(
    reason="not yet working: the official client's Parquet path (fsspec HTTP) cannot open SeaweedFS "
    "pre-signed URLs ('Cannot seek streaming HTTP file'); the grants, delta-rs audit and token writes "
    "and the URL signing on S3 work up to that point",
    strict=False,
)
def test_sharing_over_the_object_store(spark_s3, objectstore, objectstore_env, tmp_path):
    import delta_sharing
    from lakehelpers import publish_latest

    from govlake.config import load_settings
    from govlake.lake import Lake, load_catalogue
    from govlake.registry import load_registry
    from govlake.sharing import share_keys
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import build
    from jobs.share.audit import verify
    from jobs.share.server import SharingServer, create_app

    shares = tmp_path / "shares.yaml"
    shares.write_text(SHARES_YAML, encoding="utf-8")
    settings = load_settings(
        objectstore_env
        | {
            "GOVLAKE_STORAGE_ROOT": f"s3a://{objectstore.bucket}/sharing",
            "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
        }
    )
    settings = replace(settings, shares_path=shares)
    registry = load_registry(settings.registry_path)
    catalogue = load_catalogue(registry, shares=shares)
    lake = Lake(settings, spark_s3, catalogue)
    spark_s3.createDataFrame(persons_rows(), PERSONS_DDL).coalesce(1).write.format("delta").save(
        lake.path(PERSONS)
    )
    spark_s3.createDataFrame(address_rows(95_000), ADDRESSES_DDL).coalesce(1).write.format("delta").save(
        lake.path(ADDRESSES)
    )
    publish_latest(lake, PERSONS, ADDRESSES)
    graph = pipeline_graph(registry, catalogue)
    step = graph.step("share.publish")
    grants = [g.table_id for g in catalogue.shares.grants]
    build(step, lake)
    publish_latest(lake, *grants)
    keys = share_keys(settings)
    port = free_port()
    server = SharingServer(settings, catalogue, keys, base_url=f"http://127.0.0.1:{port}", url_ttl=600)
    nanjing, _ = server.tokens.create("nanjing")
    health, _ = server.tokens.create("health")
    with serving(create_app(server), port) as url:
        endpoint = f"{url}/delta-sharing"
        nj = write_profile(tmp_path, "nanjing", endpoint, nanjing)
        hp = write_profile(tmp_path, "health", endpoint, health)
        residents = f"{nj}#residents_back.population.residents"
        for fmt in (None, True):
            frame = delta_sharing.load_as_pandas(residents, use_delta_format=fmt)
            assert sorted(frame["admin_code"]) == ["320102", "320104", "320113"]
            assert set(frame["name"]) == {"张**", "李*", "王**"}
        # the file URLs are the object store's own pre-signed ones
        body = requests.post(
            f"{endpoint}/shares/residents_back/schemas/population/tables/residents/query",
            json={},
            headers={"Authorization": f"Bearer {nanjing}"},
            timeout=60,
        ).text.splitlines()
        file_url = json.loads(body[2])["file"]["url"]
        assert file_url.startswith(objectstore.endpoint) and "X-Amz-Signature=" in file_url
        assert requests.get(file_url, timeout=60).status_code == 200
        assert (
            requests.get(file_url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=60).status_code
            == 403
        )
        # a file over 5 MiB, read through Range requests on the pre-signed URL
        big = json.loads(
            requests.post(
                f"{endpoint}/shares/health_stats/schemas/geography/tables/addresses/query",
                json={},
                headers={"Authorization": f"Bearer {health}"},
                timeout=60,
            ).text.splitlines()[2]
        )["file"]
        assert big["size"] > 5 * 1024 * 1024
        part = requests.get(big["url"], headers={"Range": "bytes=0-1023"}, timeout=60)
        assert part.status_code == 206 and len(part.content) == 1024
        for fmt in (None, True):
            frame = delta_sharing.load_as_pandas(
                f"{hp}#health_stats.geography.addresses", use_delta_format=fmt
            )
            assert len(frame) == 95_000
        # a change, then the change feed
        first = lake.publications()["share.grants.residents_back.nanjing.population.residents"].delta_version
        spark_s3.createDataFrame(persons_rows({"p02": "13911112222"}), PERSONS_DDL).write.format(
            "delta"
        ).mode("overwrite").save(lake.path(PERSONS))
        publish_latest(lake, PERSONS)
        counts = build(step, lake)["counts"]
        assert counts["share.grants.residents_back.nanjing.population.residents"]["updated"] == 1
        publish_latest(lake, *grants)
        for fmt in (None, True):
            changes = delta_sharing.load_table_changes_as_pandas(
                residents, starting_version=first + 1, use_delta_format=fmt
            )
            assert sorted(changes["_change_type"]) == ["update_postimage", "update_preimage"]
        time.sleep(0.1)
    check = verify(settings, catalogue, keys)
    assert check.ok and check.rows > 10, check.report()
