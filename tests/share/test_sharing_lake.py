"""Delta Sharing end to end on a local lake of its own: grants built by the pipeline step from published
silver, gated, served by the real server on loopback, read by the official client (delta-sharing 1.4.1).

The tests of this module run in order and share one lake: the last ones change silver and the audit.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from lakehelpers import publish_latest
from sharehelpers import (
    ADDRESSES_DDL,
    PERSONS_DDL,
    RESIDENT_COLUMNS,
    SHARES_YAML,
    address_rows,
    citizen_id,
    expected_residents,
    free_port,
    persons_rows,
    records,
    serving,
    write_profile,
)

PERSONS = "silver.population.persons"
ADDRESSES = "silver.geography.address_points"
RESIDENTS_NJ = "share.grants.residents_back.nanjing.population.residents"
RAW_ID = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
)


@dataclass
class World:
    lake: Any
    graph: Any
    keys: Any
    server: Any
    url: str
    tokens: dict[str, str]
    profiles: dict[str, Path]
    tmp: Path

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(f"{self.url}/delta-sharing{path}", headers=headers, timeout=60, **kwargs)

    def post(self, path: str, token: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return requests.post(
            f"{self.url}/delta-sharing{path}", json=body, headers=headers, timeout=60, **kwargs
        )

    def publish_step(self) -> Any:
        from jobs.pipeline.run import run_steps

        return next(run_steps(self.graph, self.lake, [self.graph.step("share.publish")]))


@pytest.fixture(scope="module")
def world(spark, own_lake, tmp_path_factory) -> Any:
    from govlake.lake import Lake, load_catalogue
    from govlake.registry import load_registry
    from govlake.sharing import share_keys
    from jobs.pipeline.graph import pipeline_graph
    from jobs.share.server import SharingServer, create_app

    tmp = tmp_path_factory.mktemp("sharing")
    shares = tmp / "shares.yaml"
    shares.write_text(SHARES_YAML, encoding="utf-8")
    settings = replace(own_lake("sharing_lake"), shares_path=shares)
    registry = load_registry(settings.registry_path)
    catalogue = load_catalogue(registry, shares=shares)
    lake = Lake(settings, spark, catalogue)
    spark.createDataFrame(persons_rows(), PERSONS_DDL).coalesce(1).write.format("delta").save(
        lake.path(PERSONS)
    )
    spark.createDataFrame(address_rows(95_000), ADDRESSES_DDL).coalesce(1).write.format("delta").save(
        lake.path(ADDRESSES)
    )
    publish_latest(lake, PERSONS, ADDRESSES)
    graph = pipeline_graph(registry, catalogue)
    keys = share_keys(settings)
    world = World(lake, graph, keys, None, "", {}, {}, tmp)
    run = world.publish_step()
    assert run.failed is None, run.failed
    assert {p.table for p in run.gate.published} == {g.table_id for g in catalogue.shares.grants}
    port = free_port()
    server = SharingServer(settings, catalogue, keys, base_url=f"http://127.0.0.1:{port}", url_ttl=600)
    for recipient in ("nanjing", "suzhou", "health"):
        token, _ = server.tokens.create(recipient)
        world.tokens[recipient] = token
    with serving(create_app(server), port) as url:
        world.server, world.url = server, url
        for recipient, token in world.tokens.items():
            world.profiles[recipient] = write_profile(tmp, recipient, f"{url}/delta-sharing", token)
        yield world


@pytest.mark.parametrize("use_delta_format", [None, True])
def test_official_client_reads_exactly_the_masked_filtered_rows(world, use_delta_format):
    import delta_sharing

    for recipient, prefectures in (("nanjing", ("3201",)), ("suzhou", ("3205", "3206"))):
        url = f"{world.profiles[recipient]}#residents_back.population.residents"
        frame = delta_sharing.load_as_pandas(url, use_delta_format=use_delta_format)
        assert list(frame.columns) == RESIDENT_COLUMNS
        assert records(frame) == expected_residents(world.keys, recipient, prefectures), recipient


def test_listings_protocol_lines_and_headers(world):
    import delta_sharing

    client = delta_sharing.SharingClient(str(world.profiles["health"]))
    assert [s.name for s in client.list_shares()] == ["health_stats"]
    assert sorted(t.name for t in client.list_all_tables()) == ["addresses", "persons"]
    token = world.tokens["health"]
    page = world.get("/shares/health_stats/all-tables?maxResults=1", token).json()
    assert len(page["items"]) == 1 and page["nextPageToken"]
    rest = world.get(
        f"/shares/health_stats/all-tables?maxResults=5&pageToken={page['nextPageToken']}", token
    ).json()
    assert len(rest["items"]) == 1 and "nextPageToken" not in rest
    assert world.get("/shares?maxResults=-1", token).status_code == 400
    version = world.get("/shares/health_stats/schemas/population/tables/persons/version", token)
    assert version.status_code == 200 and version.headers["Delta-Table-Version"].isdigit()
    asked = "responseformat=delta,parquet;readerfeatures=deletionvectors"
    response = world.post(
        "/shares/health_stats/schemas/population/tables/persons/query",
        token,
        {},
        headers={"delta-sharing-capabilities": asked},
    )
    assert (
        response.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    )  # our choice, not an echo
    assert response.headers["Delta-Table-Version"] == version.headers["Delta-Table-Version"]
    lines = [__import__("json").loads(line) for line in response.text.splitlines()]
    assert list(lines[0]) == ["protocol"] and list(lines[1]) == ["metaData"]
    assert lines[2:] and all(list(line) == ["file"] for line in lines[2:])
    file = lines[2]["file"]
    assert "X-Amz-Signature=" in file["url"] and file["expirationTimestamp"] > time.time() * 1000
    assert "validation run" in lines[1]["metaData"]["description"]


def test_wrong_or_expired_token_is_401(world):
    from datetime import timedelta

    assert world.get("/shares").status_code == 401
    wrong = world.get("/shares", world.tokens["nanjing"][:-2] + "xx")
    assert wrong.status_code == 401 and wrong.json()["errorCode"] == "UNAUTHENTICATED"
    assert world.get("/shares", "not-a-token").status_code == 401
    token, _ = world.server.tokens.create("nanjing", lifetime=timedelta(seconds=1))
    assert world.get("/shares", token).status_code == 200
    time.sleep(1.2)
    expired = world.get("/shares", token)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_another_recipients_share_is_404_as_if_absent(world):
    token = world.tokens["nanjing"]
    other = world.get("/shares/health_stats", token)
    absent = world.get("/shares/no_such_share", token)
    assert other.status_code == absent.status_code == 404
    assert other.json()["errorCode"] == absent.json()["errorCode"] == "RESOURCE_DOES_NOT_EXIST"
    assert world.get("/shares/health_stats/all-tables", token).status_code == 404
    assert (
        world.post("/shares/health_stats/schemas/population/tables/persons/query", token, {}).status_code
        == 404
    )
    names = [s["name"] for s in world.get("/shares", token).json()["items"]]
    assert names == ["residents_back"]


def test_expired_or_tampered_url_is_refused(world):
    from jobs.share.server import SharingServer, create_app

    port = free_port()
    short = SharingServer(
        world.lake.settings, world.lake.catalogue, world.keys, base_url=f"http://127.0.0.1:{port}", url_ttl=5
    )
    with serving(create_app(short), port) as url:
        response = requests.post(
            f"{url}/delta-sharing/shares/residents_back/schemas/population/tables/residents/query",
            json={},
            headers={"Authorization": f"Bearer {world.tokens['nanjing']}"},
            timeout=60,
        )
        file_url = [__import__("json").loads(line) for line in response.text.splitlines()][2]["file"]["url"]
        assert requests.get(file_url, timeout=60).status_code == 200
        tampered = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=9999999999", file_url)
        assert requests.get(tampered, timeout=60).status_code == 403
        # wait out the URL's own expiry (a fixed sleep races a loaded machine's slow first GET)
        expires = int(re.search(r"X-Amz-Expires=(\d+)", file_url).group(1))
        time.sleep(max(0.0, expires - time.time()) + 0.2)
        expired = requests.get(file_url, timeout=60)
        assert expired.status_code == 403 and "expired" in expired.json()["message"]


def test_revoked_token_is_refused_on_its_next_request(world):
    from datetime import timedelta

    from jobs.share.tokens import TokenStore

    token, state = world.server.tokens.create("suzhou")
    assert world.get("/shares", token).status_code == 200
    cli = TokenStore(world.lake.settings, world.lake.catalogue, world.keys)  # another process's view
    cli.revoke(state.token_id, "test")
    refused = world.get("/shares", token)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    # rotation: the old token works during its grace window only
    old, old_state = world.server.tokens.create("suzhou")
    new, _ = cli.rotate(old_state.token_id, grace=timedelta(seconds=1))
    assert world.get("/shares", old).status_code == 200 and world.get("/shares", new).status_code == 200
    time.sleep(1.2)
    assert world.get("/shares", old).status_code == 401 and world.get("/shares", new).status_code == 200


def test_share_zone_holds_no_raw_id_and_no_ungranted_column(world):
    import pyarrow.parquet as pq

    grants = world.lake.catalogue.shares.by_table_id()
    root = Path(world.lake.settings.zone("share"))
    files = sorted(root.rglob("*.parquet"))
    assert len(files) >= len(grants)
    for path in files:
        table = pq.read_table(path)
        grant_id = next((g for g in grants if str(path).startswith(world.lake.path(g) + "/")), None)
        if grant_id is not None:
            extra = set(table.column_names) - set(grants[grant_id].column_names) - {"_change_type"}
            assert not extra, f"{path}: columns outside the grant: {extra}"
        for column in table.column_names:
            for value in table.column(column).to_pylist():
                if isinstance(value, str):
                    assert not RAW_ID.search(value), f"{path}: raw ID number in {column}"
    raw = {citizen_id(a, b, 10 + i) for i, (_p, a, b, *_rest) in enumerate(__import__("sharehelpers").PEOPLE)}
    blob = b"".join(p.read_bytes() for p in files)
    assert not any(r.encode() in blob for r in raw)


def test_a_file_over_5_mib_is_read_with_range_requests(world):
    import delta_sharing

    from jobs.share.audit import read_audit

    path = Path(world.lake.path("share.grants.health_stats.health.geography.addresses"))
    big = max(path.glob("*.parquet"), key=lambda p: p.stat().st_size)
    assert big.stat().st_size > 5 * 1024 * 1024
    url = f"{world.profiles['health']}#health_stats.geography.addresses"
    for fmt in (None, True):
        frame = delta_sharing.load_as_pandas(url, use_delta_format=fmt)
        assert len(frame) == 95_000 and frame["address_key"].str.len().eq(43).all()
    fetches = [
        r
        for r in read_audit(world.lake.settings, world.lake.catalogue)
        if r["event"] == "file" and big.name in r["path"]
    ]
    assert len(fetches) >= 3  # the client fetches a file several times
    assert any("range" in (r["detail"] or "") for r in fetches)
    assert all(r["allowed"] for r in fetches)


def test_failed_gates_leave_recipients_on_the_previous_version(world):
    import delta_sharing
    from delta.tables import DeltaTable

    from jobs.quality.gate import QualityGateFailed

    url = f"{world.profiles['nanjing']}#residents_back.population.residents"
    before = records(delta_sharing.load_as_pandas(url))
    served = world.lake.publications()[RESIDENTS_NJ].delta_version
    # 1. a silver version that failed its gate (never published) does not reach the grants
    spark = world.lake.spark
    spark.createDataFrame(persons_rows({"p02": "13911112222"}), PERSONS_DDL).write.format("delta").mode(
        "overwrite"
    ).save(world.lake.path(PERSONS))
    run = world.publish_step()
    assert run.skipped or not (run.gate and run.gate.published)
    assert world.lake.publications()[RESIDENTS_NJ].delta_version == served
    assert records(delta_sharing.load_as_pandas(url)) == before
    # 2. a grant version that breaks its policy (a raw ID in it) fails the share gate: not served
    path = world.lake.path(RESIDENTS_NJ)
    leak = (
        spark.read.format("delta")
        .load(path)
        .limit(1)
        .withColumn(
            "name",
            __import__("pyspark.sql.functions", fromlist=["lit"]).lit(
                citizen_id("320102", __import__("datetime").date(1980, 1, 2), 10)
            ),
        )
    )
    leak.write.format("delta").mode("append").save(path)
    step = world.graph.step("share.publish")
    from jobs.pipeline.run import gate

    with pytest.raises(QualityGateFailed) as failed:
        gate(step, world.lake, {"inputs": world.lake.pin(step.inputs).published()})
    assert "no_column_holds_a_raw_id_number" in str(failed.value)
    assert world.lake.publications()[RESIDENTS_NJ].delta_version == served
    assert records(delta_sharing.load_as_pandas(url)) == before
    assert DeltaTable.forPath(spark, path).history(1).first()["version"] > served


def test_change_feed_shows_only_what_changed(world):
    import delta_sharing

    served = world.lake.publications()[RESIDENTS_NJ].delta_version
    publish_latest(world.lake, PERSONS)  # silver with p02's new phone is now published
    run = world.publish_step()
    assert run.failed is None and run.gate.published
    new = world.lake.publications()[RESIDENTS_NJ].delta_version
    assert new > served + 1  # the failed version was restored away, then the change applied
    url = f"{world.profiles['nanjing']}#residents_back.population.residents"
    for fmt in (None, True):
        changes = delta_sharing.load_table_changes_as_pandas(
            url, starting_version=served + 1, use_delta_format=fmt
        )
        assert sorted(changes["_change_type"]) == ["update_postimage", "update_preimage"], fmt
        assert set(changes["phone"]) == {"139****4321", "139****2222"}
        assert set(changes["_commit_version"]) == {new}
        everything = delta_sharing.load_table_changes_as_pandas(url, starting_version=0, use_delta_format=fmt)
        assert "张**" in set(everything["name"]) and not any(
            RAW_ID.search(str(v)) for v in everything["name"]
        )
    current = delta_sharing.load_as_pandas(url)
    assert "139****2222" in set(current["phone"])


def test_every_request_is_audited_and_an_edit_is_detected(world):
    from deltalake import DeltaTable

    from jobs.share.audit import read_audit, verify
    from jobs.share.deltars import storage_options, table_uri

    rows = read_audit(world.lake.settings, world.lake.catalogue)
    requests_ = [r for r in rows if r["event"] == "request"]
    assert len(requests_) >= 40
    refused = [r for r in requests_ if not r["allowed"]]
    assert any(r["status"] == 401 for r in refused) and any(r["status"] == 404 for r in refused)
    queries = [r for r in requests_ if r["path"].endswith("/query") and r["allowed"]]
    assert all(r["files"] and r["rows"] is not None and r["url_expires_at"] for r in queries)
    assert {"token_created", "token_revoked", "token_rotated", "grant_built"} <= {r["event"] for r in rows}
    check = verify(world.lake.settings, world.lake.catalogue, world.keys)
    assert check.ok, check.report()
    target = requests_[3]["seq"]
    path = world.lake.path("share.audit")
    DeltaTable(
        table_uri(world.lake.settings, path), storage_options=storage_options(world.lake.settings)
    ).update(predicate=f"seq = {target}", updates={"recipient": "'someone_else'"})
    broken = verify(world.lake.settings, world.lake.catalogue, world.keys)
    assert not broken.ok and broken.broken_seq == target and "edited" in broken.report()
