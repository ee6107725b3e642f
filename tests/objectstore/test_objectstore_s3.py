"""The local SeaweedFS speaks enough S3 for the lake, and only to the configured identity."""

from __future__ import annotations

import dataclasses
import io
import stat
import subprocess
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from govlake.objectstore import SCRIPTS, ensure_bucket, s3_client, start, stop

pytestmark = pytest.mark.objectstore


def test_put_get_list_copy_delete(client, objectstore):
    bucket = objectstore.bucket
    client.put_object(Bucket=bucket, Key="boto/a.txt", Body="户籍 record\n".encode())
    client.put_object(Bucket=bucket, Key="boto/sub/b.txt", Body=b"b")
    assert client.get_object(Bucket=bucket, Key="boto/a.txt")["Body"].read().decode() == "户籍 record\n"

    client.copy_object(Bucket=bucket, Key="boto/copy.txt", CopySource={"Bucket": bucket, "Key": "boto/a.txt"})
    assert client.get_object(Bucket=bucket, Key="boto/copy.txt")["Body"].read() == "户籍 record\n".encode()

    listed = client.list_objects_v2(Bucket=bucket, Prefix="boto/")
    assert [o["Key"] for o in listed["Contents"]] == ["boto/a.txt", "boto/copy.txt", "boto/sub/b.txt"]
    top = client.list_objects_v2(Bucket=bucket, Prefix="boto/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["boto/sub/"]

    keys = [{"Key": o["Key"]} for o in listed["Contents"]]
    client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    assert client.list_objects_v2(Bucket=bucket, Prefix="boto/")["KeyCount"] == 0


def test_presigned_get(client, objectstore):
    client.put_object(Bucket=objectstore.bucket, Key="presigned/report.html", Body=b"<h1>ok</h1>")
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": objectstore.bucket, "Key": "presigned/report.html"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"<h1>ok</h1>"
    # The same object without a signature is refused: the bucket is not public.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.split("?", 1)[0], timeout=10)
    assert refused.value.code == 403


def test_multipart_upload(client, objectstore):
    from boto3.s3.transfer import TransferConfig

    data = bytes(range(256)) * (48 * 1024)  # 12 MiB: three 5 MiB parts
    five_mib = 5 * 1024 * 1024
    client.upload_fileobj(
        io.BytesIO(data),
        objectstore.bucket,
        "multipart/blob.bin",
        Config=TransferConfig(multipart_threshold=five_mib, multipart_chunksize=five_mib),
    )
    head = client.head_object(Bucket=objectstore.bucket, Key="multipart/blob.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # assembled from 3 parts
    # A ranged GET across the boundary of the first two parts.
    across = f"bytes={five_mib - 1}-{five_mib + 1}"
    part = client.get_object(Bucket=objectstore.bucket, Key="multipart/blob.bin", Range=across)
    assert part["Body"].read() == data[five_mib - 1 : five_mib + 2]


def test_wrong_secret_is_rejected(s3, objectstore):
    wrong = s3_client(dataclasses.replace(s3, secret_key=s3.secret_key + "x"))
    with pytest.raises(ClientError) as rejected:
        wrong.list_objects_v2(Bucket=objectstore.bucket)
    assert rejected.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    unknown = s3_client(dataclasses.replace(s3, access_key="NOSUCHKEY123"))
    with pytest.raises(ClientError) as rejected:
        unknown.get_object(Bucket=objectstore.bucket, Key="anything")
    assert rejected.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_ensure_bucket_is_idempotent(client):
    assert ensure_bucket("govlake-extra", client) is True
    assert ensure_bucket("govlake-extra", client) is False
    assert "govlake-extra" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_identities_file_is_private(objectstore):
    config = objectstore.run_dir / "s3-identities.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(objectstore.run_dir.stat().st_mode) == 0o700


def test_start_and_stop_are_idempotent(objectstore, objectstore_env, client):
    # Starting the running instance again changes nothing but ensures (new) buckets.
    again = start(
        objectstore.name,
        buckets=[objectstore.bucket, "govlake-second"],
        run_dir=objectstore.run_dir,
        env=objectstore_env,
    )
    assert again.endpoint == objectstore.endpoint
    assert {"govlake-second", objectstore.bucket} <= {b["Name"] for b in client.list_buckets()["Buckets"]}
    # Stopping an instance that does not run is fine.
    stop("never-started", run_dir=objectstore.run_dir.parent / "never-started", env=objectstore_env)


def test_start_refuses_without_credentials(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "GOVLAKE_OBJECTSTORE_DIR": str(tmp_path / "open")}
    result = subprocess.run(
        ["bash", str(SCRIPTS / "start.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert not (tmp_path / "open" / "weed.pid").exists()
