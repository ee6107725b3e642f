"""Delta Sharing with the lake on the object store: grants built through S3A, the server reading them
with delta-rs and streaming their files from S3 behind its own signed, expiring URLs, the official
client reading every grant through them (Parquet and delta formats, the change feed, a file over
5 MiB read with Range requests) exactly as on the local lake (tests/share/test_sharing_lake.py).

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
    RESIDENT_COLUMNS,
    SHARES_YAML,
    address_rows,
    expected_persons,
    expected_residents,
    free_port,
    persons_rows,
    records,
    serving,
    write_profile,
)

PERSONS = "silver.population.persons"
ADDRESSES = "silver.geography.address_points"


def test_sharing_over_the_object_store(spark_s3, objectstore, objectstore_env, tmp_path):
    import delta_sharing
    from lakehelpers import publish_latest

    from govlake.config import load_settings
    from govlake.lake import Lake, load_catalogue
    from govlake.registry import load_registry
    from govlake.sharing import share_keys
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import build
    from jobs.share.audit import read_audit, verify
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
    tokens = {r: server.tokens.create(r)[0] for r in ("nanjing", "suzhou", "health")}
    with serving(create_app(server), port) as url:
        endpoint = f"{url}/delta-sharing"
        profiles = {r: write_profile(tmp_path, r, endpoint, t) for r, t in tokens.items()}
        residents = f"{profiles['nanjing']}#residents_back.population.residents"
        for fmt in (None, True):
            for recipient, prefectures in (("nanjing", ("3201",)), ("suzhou", ("3205", "3206"))):
                frame = delta_sharing.load_as_pandas(
                    f"{profiles[recipient]}#residents_back.population.residents", use_delta_format=fmt
                )
                assert list(frame.columns) == RESIDENT_COLUMNS
                assert records(frame) == expected_residents(keys, recipient, prefectures), (recipient, fmt)
            frame = delta_sharing.load_as_pandas(
                f"{profiles['health']}#health_stats.population.persons", use_delta_format=fmt
            )
            assert records(frame) == expected_persons(keys, "health"), fmt
        # the file URLs are this server's own: neither the object store nor any credential of it
        body = requests.post(
            f"{endpoint}/shares/residents_back/schemas/population/tables/residents/query",
            json={},
            headers={"Authorization": f"Bearer {tokens['nanjing']}"},
            timeout=60,
        ).text.splitlines()
        file = json.loads(body[2])["file"]
        file_url = file["url"]
        assert file_url.startswith(f"{endpoint}/files/") and "X-Amz-Signature=" in file_url
        assert objectstore.endpoint not in file_url and "X-Amz-Credential" not in file_url
        head = requests.head(file_url, timeout=60)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == file["size"]
        assert "Content-Encoding" not in head.headers and head.headers["Accept-Ranges"] == "bytes"
        whole = requests.get(file_url, timeout=60)
        assert whole.status_code == 200 and len(whole.content) == file["size"]
        assert whole.content[:4] == whole.content[-4:] == b"PAR1"
        assert (
            requests.get(file_url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=60).status_code
            == 403
        )
        # a file over 5 MiB, read through Range requests streamed from S3
        big = json.loads(
            requests.post(
                f"{endpoint}/shares/health_stats/schemas/geography/tables/addresses/query",
                json={},
                headers={"Authorization": f"Bearer {tokens['health']}"},
                timeout=60,
            ).text.splitlines()[2]
        )["file"]
        assert big["size"] > 5 * 1024 * 1024
        part = requests.get(big["url"], headers={"Range": "bytes=0-1023"}, timeout=60)
        assert part.status_code == 206 and len(part.content) == 1024
        assert part.headers["Content-Range"] == f"bytes 0-1023/{big['size']}"
        tail = requests.get(big["url"], headers={"Range": "bytes=-8"}, timeout=60)
        assert tail.status_code == 206 and tail.content[-4:] == b"PAR1"
        beyond = requests.get(big["url"], headers={"Range": f"bytes={big['size']}-"}, timeout=60)
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{big['size']}"
        for fmt in (None, True):
            frame = delta_sharing.load_as_pandas(
                f"{profiles['health']}#health_stats.geography.addresses", use_delta_format=fmt
            )
            assert len(frame) == 95_000 and frame["address_key"].str.len().eq(43).all()
        big_name = big["url"].split("?")[0].rsplit("/", 1)[1]
        fetches = [
            r
            for r in read_audit(settings, catalogue)
            if r["event"] == "file" and r["path"].endswith(big_name)
        ]
        assert len(fetches) >= 3  # every file read is audited, the client fetches a file several times
        assert any("range" in (r["detail"] or "") for r in fetches)
        assert any(not r["allowed"] and r["status"] == 416 for r in fetches)
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
            assert sorted(changes["_change_type"]) == ["update_postimage", "update_preimage"], fmt
            assert set(changes["phone"]) == {"139****4321", "139****2222"}
        time.sleep(0.1)
    check = verify(settings, catalogue, keys)
    assert check.ok and check.rows > 10, check.report()
