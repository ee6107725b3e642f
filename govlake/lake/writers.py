"""One writer per table, enforced: an exclusive, expiring lease per table on the lake's own storage.

Delta on S3 has no put-if-absent for its log unless a commit coordinator (DynamoDB) is configured:
two drivers that both commit version N+1 of one table both "succeed", and the later PUT silently
replaces the earlier commit -- a lost write. The pipeline graph gives every table one writing step
and the Airflow ``spark`` pool serializes Spark work, but a second pool slot, a hand-run
``govlake`` command beside the scheduler, or a retried task whose first attempt still runs would
break that rule without a sound. So every writer takes a **lease** on each table it writes, for as
long as it writes:

* created with an atomic create-if-absent: ``O_CREAT|O_EXCL`` on local files, an S3 conditional
  PUT (``If-None-Match: *``) on the object store (SeaweedFS and AWS S3 both honour it);
* held by one owner (step, run, host, pid) until released; a thread of the holding process renews
  it every :data:`RENEW_EVERY`, so a killed writer's lease expires after :data:`LEASE_TTL`, and
  at once for a writer on the same host whose process is gone (an OOM-killed task's retry);
* re-entrant within one process (a build that publishes leases the publication log inside its own
  leases); acquired in sorted order (two writers of overlapping tables cannot deadlock);
* waited for, up to ``wait``, then :class:`TableBusy` names the holder.

Leases live in the ``lake.writer_lease`` location, outside the table folders (a CREATE TABLE
AS SELECT refuses a non-empty location).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govlake.lake.published import Lake

#: A lease not renewed for this long belongs to a dead writer and may be broken.
LEASE_TTL = timedelta(minutes=5)
RENEW_EVERY = timedelta(minutes=1)
#: How long a writer waits for a table another writer holds (the ingest log and quarantine are
#: shared by every source: their holders write for seconds, one file at a time).
DEFAULT_WAIT = timedelta(minutes=30)
POLL_SECONDS = 0.5
#: S3 error codes of a conditional PUT that found the lease already there.
_TAKEN = ("PreconditionFailed", "412", "ConditionalRequestConflict")


class TableBusy(RuntimeError):
    """Another writer holds the table's lease (and did not release it within the wait)."""


@dataclass
class _Held:
    table_id: str
    path: str
    token: str
    etag: str | None
    record: dict[str, Any]
    ttl: timedelta
    lake: Any
    depth: int = 1


_held: dict[tuple[str, str], _Held] = {}  # (storage root, table id) -> this process's lease
_held_lock = threading.RLock()


def lease_path(lake: Lake, table_id: str) -> str:
    return lake.location("lake.writer_lease", table=table_id.replace(".", "__"))


@contextmanager
def writing(
    lake: Lake,
    table_ids: Iterable[str],
    *,
    owner: str,
    wait: timedelta = DEFAULT_WAIT,
    ttl: timedelta = LEASE_TTL,
) -> Iterator[None]:
    """Hold the lease of every table in ``table_ids`` while the block runs."""
    taken: list[tuple[str, str]] = []
    try:
        for table_id in sorted(set(table_ids)):
            _acquire(lake, table_id, owner, wait, ttl)
            taken.append((lake.settings.storage_root, table_id))
        yield
    finally:
        for key in reversed(taken):
            _release(lake, key)


def holder(lake: Lake, table_id: str) -> dict[str, Any] | None:
    """The lease on ``table_id`` as stored (owner, host, pid, expiry), or None when it is free."""
    found = _read(lake, lease_path(lake, table_id))
    return None if found is None else found[0]


def _acquire(lake: Lake, table_id: str, owner: str, wait: timedelta, ttl: timedelta) -> None:
    key = (lake.settings.storage_root, table_id)
    with _held_lock:
        if key in _held:
            _held[key].depth += 1
            return
    path = lease_path(lake, table_id)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait.total_seconds()
    while True:
        now = datetime.now(UTC)
        record = {
            "table": table_id,
            "owner": owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "token": token,
            "acquired_at": now.isoformat(),
            "expires_at": (now + ttl).isoformat(),
        }
        created, etag = _create(lake, path, json.dumps(record).encode())
        if created:
            with _held_lock:
                _held[key] = _Held(table_id, path, token, etag, record, ttl, lake)
                _start_renewer()
            return
        current = _read(lake, path)
        if current is not None and _dead(current[0], now):
            _delete(lake, path, current[1])  # a dead writer's lease: break it, then race to create
            continue
        if time.monotonic() >= deadline:
            who = current[0] if current else {"owner": "?"}
            raise TableBusy(
                f"{table_id} is being written by {who.get('owner')} (host {who.get('host')}, pid "
                f"{who.get('pid')}, since {who.get('acquired_at')}); one writer per table: wait for it, "
                f"or remove {path} if that writer is known to be dead"
            )
        time.sleep(POLL_SECONDS)


def _dead(record: dict[str, Any], now: datetime) -> bool:
    """The lease's writer is gone: it stopped renewing, or it ran on this host and its process ended."""
    if datetime.fromisoformat(record["expires_at"]) < now:
        return True
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


_renewer: threading.Thread | None = None


def _start_renewer() -> None:
    """One daemon thread per process renews every lease it holds (called with ``_held_lock``)."""
    global _renewer
    if _renewer is None or not _renewer.is_alive():
        _renewer = threading.Thread(target=_renew_forever, name="govlake-writer-leases", daemon=True)
        _renewer.start()


def _renew_forever() -> None:
    while True:
        time.sleep(RENEW_EVERY.total_seconds())
        with _held_lock:  # a lease released meanwhile is not renewed back into existence
            for lease in list(_held.values()):
                now = datetime.now(UTC)
                record = lease.record | {"expires_at": (now + lease.ttl).isoformat()}
                try:
                    lease.etag = _overwrite(lease.lake, lease.path, json.dumps(record).encode())
                except Exception:  # retried next round; the lease is still ours until it expires
                    continue


def _release(lake: Lake, key: tuple[str, str]) -> None:
    with _held_lock:
        held = _held.get(key)
        if held is None:
            return
        held.depth -= 1
        if held.depth:
            return
        del _held[key]
        current = _read(lake, held.path)
        if current is not None and current[0].get("token") == held.token:  # never another's lease
            _delete(lake, held.path, current[1])


# ---------------------------------------------------------------------- create-if-absent, by store


def _create(lake: Lake, path: str, body: bytes) -> tuple[bool, str | None]:
    if lake.settings.s3 is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False, None
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        return True, None
    from botocore.exceptions import ClientError

    bucket, key = _bucket_key(path)
    try:
        response = _s3(lake).put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "PreconditionFailed",
            "412",
            "ConditionalRequestConflict",
        ):
            return False, None
        raise
    return True, response.get("ETag")


def _overwrite(lake: Lake, path: str, body: bytes) -> str | None:
    """The holder renews its own lease in place (atomically: a reader sees old or new, whole)."""
    if lake.settings.s3 is None:
        partial = f"{path}.{uuid.uuid4().hex}.renewing"
        Path(partial).write_bytes(body)
        os.replace(partial, path)
        return None
    bucket, key = _bucket_key(path)
    return _s3(lake).put_object(Bucket=bucket, Key=key, Body=body).get("ETag")


def _read(lake: Lake, path: str) -> tuple[dict[str, Any], str | None] | None:
    if lake.settings.s3 is None:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8")), None
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:  # being written by its creator this instant
            return {"owner": "?", "expires_at": datetime.max.replace(tzinfo=UTC).isoformat()}, None
    from botocore.exceptions import ClientError

    bucket, key = _bucket_key(path)
    try:
        response = _s3(lake).get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(response["Body"].read()), response.get("ETag")


def _delete(lake: Lake, path: str, etag: str | None) -> None:
    if lake.settings.s3 is None:
        # Rename first: of two breakers of one stale lease only one rename succeeds.
        tomb = f"{path}.{uuid.uuid4().hex}.released"
        try:
            os.rename(path, tomb)
        except FileNotFoundError:
            return
        os.remove(tomb)
        return
    from botocore.exceptions import ClientError

    bucket, key = _bucket_key(path)
    try:  # only the lease that was read: a breaker never deletes the lease a faster one just made
        _s3(lake).delete_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412", "NoSuchKey", "404"):
            raise


def _bucket_key(path: str) -> tuple[str, str]:
    bucket, _, key = path.split("://", 1)[1].partition("/")
    return bucket, key


def _s3(lake: Lake) -> Any:
    from govlake.objectstore import s3_client

    return s3_client(lake.settings.s3)
