"""Two writers of one table on the object store: what S3 does to them, and what the lease prevents.

Delta's S3 log store checks that commit file N+1 is absent and then PUTs it; across two drivers the
check and the PUT are not atomic, and an S3 PUT replaces what is there. Each child process below
does exactly that commit protocol on the table's ``_delta_log`` (list the newest version, do its
work, check N+1 is absent, PUT it). Between its check and its PUT each writer waits (3 s under
the lease, up to a minute without) for the other to have checked too: the interleaving S3 allows,
made certain rather than left to the timing of two processes on a loaded machine (CI once saw the
second writer start after the first had put). Without the guard both
"commit" version 1 and one commit is silently lost; with ``govlake.lake.writers.writing`` around it
(the lease every pipeline writer takes) the second writer cannot check before the first has put,
waits for the lease, and commits version 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govlake.config import load_settings
from govlake.lake import Lake

pytestmark = pytest.mark.objectstore

TABLE = "bronze.household_registration"

WRITER = """
import json, sys, time
from datetime import timedelta
from pathlib import Path
from contextlib import nullcontext
from botocore.exceptions import ClientError
from govlake.config import load_settings
from govlake.lake import Lake
from govlake.lake.writers import writing
from govlake.objectstore import s3_client

name, start_at, guarded, barrier = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1", Path(sys.argv[4])
lake = Lake(load_settings())
client = s3_client(lake.settings.s3)
bucket, _, prefix = lake.path("bronze.household_registration").split("://", 1)[1].partition("/")
log = f"{prefix}/_delta_log/"
time.sleep(max(0.0, start_at - time.time()))
guard = writing(lake, ["bronze.household_registration"], owner=name, wait=timedelta(seconds=60))
with guard if guarded else nullcontext():
    listed = client.list_objects_v2(Bucket=bucket, Prefix=log).get("Contents", [])
    newest = max(int(o["Key"].rsplit("/", 1)[1].split(".")[0]) for o in listed)
    time.sleep(1.0)  # the write: data files, then the commit
    key = f"{log}{newest + 1:020d}.json"
    try:
        client.head_object(Bucket=bucket, Key=key)
        print(json.dumps({"writer": name, "refused": newest + 1}))
        sys.exit(0)
    except ClientError:
        pass
    # Checked, not yet put: wait until the other writer has checked too (under the lease it cannot:
    # a short wait; without, it will, however late its process started).
    (barrier / name).touch()
    deadline = time.time() + (3 if guarded else 60)
    while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.05)
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps({"commitInfo": {"writer": name}}).encode())
print(json.dumps({"writer": name, "committed": newest + 1}))
"""


def _race(
    objectstore, objectstore_env, root: str, guarded: bool, barrier: Path
) -> tuple[list[dict], dict[int, str]]:
    env = objectstore_env | {
        "GOVLAKE_STORAGE_ROOT": root,
        "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    lake = Lake(load_settings(env))
    client = _client(lake)
    bucket, _, prefix = lake.path(TABLE).split("://", 1)[1].partition("/")
    client.put_object(Bucket=bucket, Key=f"{prefix}/_delta_log/{0:020d}.json", Body=b'{"commitInfo": {}}')
    start_at = time.time() + 3  # both children are up by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"writer-{i}", str(start_at), str(int(guarded)), str(barrier)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    said = []
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err[-2000:]
        said.append(json.loads(out.strip().splitlines()[-1]))
    log = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")["Contents"]
    commits = {}
    for entry in log:
        version = int(entry["Key"].rsplit("/", 1)[1].split(".")[0])
        if version:
            body = json.loads(client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            commits[version] = body["commitInfo"]["writer"]
    return said, commits


def _client(lake: Lake):
    from govlake.objectstore import s3_client

    return s3_client(lake.settings.s3)


def test_two_unguarded_writers_lose_a_commit(objectstore, objectstore_env, tmp_path: Path):
    root = f"s3a://{objectstore.bucket}/race-unguarded"
    said, commits = _race(objectstore, objectstore_env, root, False, tmp_path)
    assert sorted(s.get("committed") for s in said) == [1, 1]  # both believe they committed version 1
    assert list(commits) == [1]  # ... and one of the two commits is gone


def test_the_writer_lease_serializes_them_and_no_commit_is_lost(objectstore, objectstore_env, tmp_path: Path):
    root = f"s3a://{objectstore.bucket}/race-guarded"
    said, commits = _race(objectstore, objectstore_env, root, True, tmp_path)
    assert sorted(s["committed"] for s in said) == [1, 2]
    assert sorted(commits.values()) == ["writer-1", "writer-2"]
    lake = Lake(
        load_settings(
            objectstore_env
            | {
                "GOVLAKE_STORAGE_ROOT": f"s3a://{objectstore.bucket}/race-guarded",
                "GOVLAKE_S3_ENDPOINT": objectstore.endpoint,
            }
        )
    )
    from govlake.lake.writers import holder

    assert holder(lake, TABLE) is None  # released
