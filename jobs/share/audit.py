"""The sharing audit: every request, grant, token rotation and revocation, as a hash chain.

``share.audit`` is a Delta table written with delta-rs. Each row carries ``seq`` (0, 1, 2, ...),
the hash of the row before it (``prev_hash``) and its own ``row_hash``: HMAC-SHA256, under a key
derived from ``GOVLAKE_SHARE_TOKEN_KEY``, of every other field in a canonical JSON form. Editing,
removing or inserting a row breaks the chain at that row; recomputing the chain after an edit needs
the key. :func:`verify` recomputes it and names the first broken row; it prints the head hash so it
can be written down elsewhere (then truncation of the newest rows is detected too).

**One appender at a time.** A chain needs each row to see its predecessor. Inside a process, a lock
serialises appenders and whoever holds it commits every row waiting (group commit: one Delta
commit for all requests that arrived meanwhile). Across processes (the server, the CLI's token
commands, the share step), each commit replaces "the rows after the head it read at version N"
(there are none): delta-rs refuses it when another writer added rows after N ("a concurrent
transaction added new data"), and the appender re-reads the head and retries. A row is committed
before the response it records is sent: an access that cannot be recorded is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from govlake.config import Settings
from govlake.sharing import ShareKeys
from jobs.share.deltars import open_table, read_arrow, storage_options, table_uri

if TYPE_CHECKING:
    import pyarrow as pa

    from govlake.lake.catalogue import Catalogue

AUDIT = "share.audit"
GENESIS = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _schema() -> pa.Schema:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("seq", pa.int64()),
            ("at", ts),
            ("event", pa.string()),  # request, grant_built, token_created, token_rotated, token_revoked
            ("recipient", pa.string()),
            ("token_id", pa.string()),
            ("method", pa.string()),
            ("path", pa.string()),
            ("share", pa.string()),
            ("schema", pa.string()),
            ("table", pa.string()),
            ("version", pa.int64()),
            ("files", pa.int64()),
            ("rows", pa.int64()),
            ("url_expires_at", ts),
            ("allowed", pa.bool_()),
            ("status", pa.int32()),
            ("reason", pa.string()),
            ("client", pa.string()),
            ("detail", pa.string()),  # JSON
            ("prev_hash", pa.string()),
            ("row_hash", pa.string()),
        ]
    )


FIELDS = tuple(f.name for f in _schema())
_TIMESTAMPS = frozenset({"at", "url_expires_at"})


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def chain_hash(key: bytes, row: dict[str, Any]) -> str:
    """The row's hash: HMAC-SHA256 of every field but ``row_hash``, canonical JSON, times in µs."""
    canonical = {
        name: (_micros(row.get(name)) if name in _TIMESTAMPS else row.get(name))
        for name in FIELDS
        if name != "row_hash"
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Pending:
    row: dict[str, Any]
    seq: int | None = None
    error: BaseException | None = None


class AuditLog:
    """Appends hash-chained rows to ``share.audit`` (thread-safe; safe beside other processes)."""

    _locks: ClassVar[dict[str, threading.Lock]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, settings: Settings, catalogue: Catalogue, keys: ShareKeys) -> None:
        self.settings = settings
        self.path = catalogue.path(AUDIT, settings)
        self._key = keys.audit_key
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._table: Any = None  # kept open and brought up to date before each commit
        with AuditLog._registry_lock:
            self._write_lock = AuditLog._locks.setdefault(self.path, threading.Lock())

    def record(self, *, event: str, **fields: Any) -> int:
        """Append one row (committed when this returns) and return its ``seq``."""
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"audit rows have no field(s) {unknown}")
        row = {name: None for name in FIELDS}
        row.update(fields, event=event, at=datetime.now(UTC))
        if isinstance(row["detail"], dict):
            row["detail"] = json.dumps(row["detail"], sort_keys=True, ensure_ascii=False, default=str)
        entry = _Pending(row)
        with self._pending_lock:
            self._pending.append(entry)
        with self._write_lock:
            if entry.seq is None and entry.error is None:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                try:
                    self._commit(batch)
                except BaseException as exc:  # every waiting request learns its row was not written
                    for waiting in batch:
                        waiting.error = exc
        if entry.error is not None:
            raise RuntimeError(f"the audit row could not be written: {entry.error}") from entry.error
        assert entry.seq is not None
        return entry.seq

    def _commit(self, batch: list[_Pending], attempts: int = 40) -> None:
        import pyarrow as pa
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        uri, options = table_uri(self.settings, self.path), storage_options(self.settings)
        for attempt in range(attempts):
            if self._table is None:
                self._table = open_table(self.settings, self.path)
            else:
                self._table.update_incremental()
            table = self._table
            head, prev = _head(table)
            seq, rows = head, []
            for entry in batch:
                seq += 1
                row = {**entry.row, "seq": seq, "prev_hash": prev}
                row["row_hash"] = prev = chain_hash(self._key, row)
                rows.append(row)
            data = pa.Table.from_pylist(rows, schema=_schema())
            commit = CommitProperties(custom_metadata={_HEAD_SEQ: str(seq), _HEAD_HASH: prev})
            try:
                if table is None:
                    write_deltalake(
                        uri, data, mode="error", storage_options=options, commit_properties=commit
                    )
                else:
                    # Replacing "rows after the head" (there are none) makes the commit conflict with
                    # any concurrent append instead of forking the chain; stats prune every file.
                    write_deltalake(
                        table, data, mode="overwrite", predicate=f"seq > {head}", commit_properties=commit
                    )
            except CommitFailedError:
                if attempt == attempts - 1:
                    raise
                time.sleep(min(0.01 * (attempt + 1), 0.2))
                continue
            except Exception as exc:  # a lost race to create the table
                if table is None and "exists" in str(exc).lower() and attempt < attempts - 1:
                    continue
                raise
            for entry, row in zip(batch, rows, strict=True):
                entry.seq = row["seq"]
            return


_HEAD_SEQ, _HEAD_HASH = "govlake.audit.head_seq", "govlake.audit.head_hash"


def _head(table: Any) -> tuple[int, str]:
    """``(seq, row_hash)`` of the newest row (``(-1, GENESIS)`` without a table).

    Each append records the head it made in its commit's metadata, so this reads the last commits,
    not the rows; a commit without it (a compaction) is skipped, and only a table with none is
    scanned. A head recorded but since removed is caught by :func:`verify`.
    """
    import pyarrow.compute as pc

    if table is None:
        return -1, GENESIS
    for commit in table.history(20):
        if _HEAD_SEQ in commit and _HEAD_HASH in commit:
            return int(commit[_HEAD_SEQ]), str(commit[_HEAD_HASH])
    rows = read_arrow(table, ["seq", "row_hash"])
    if rows.num_rows == 0:
        return -1, GENESIS
    newest = pc.max(rows.column("seq")).as_py()
    return int(newest), rows.filter(pc.equal(rows.column("seq"), newest)).column("row_hash")[0].as_py()


# ------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class Verification:
    rows: int
    head: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None

    def report(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows} row(s), head {self.head}"
        return f"audit chain BROKEN at row seq={self.broken_seq}: {self.problem} ({self.rows} row(s) read)"


def read_audit(settings: Settings, catalogue: Catalogue) -> list[dict[str, Any]]:
    table = open_table(settings, catalogue.path(AUDIT, settings))
    if table is None:
        return []
    rows = read_arrow(table).to_pylist()
    return sorted(rows, key=lambda r: (r["seq"] is None, r["seq"]))


def verify(settings: Settings, catalogue: Catalogue, keys: ShareKeys) -> Verification:
    """Recompute the chain; the first row whose hash, predecessor or sequence number is wrong."""
    rows = read_audit(settings, catalogue)
    return verify_rows(rows, keys.audit_key)


def verify_rows(rows: list[dict[str, Any]], key: bytes) -> Verification:
    prev, expected_seq = GENESIS, 0
    for row in rows:
        seq = row.get("seq")
        if seq != expected_seq:
            problem = (
                "duplicate sequence number"
                if seq is not None and seq < expected_seq
                else (f"sequence jumps from {expected_seq - 1} to {seq}: rows removed")
            )
            return Verification(len(rows), prev, expected_seq if seq is None else seq, problem)
        if row.get("prev_hash") != prev:
            return Verification(len(rows), prev, seq, "it does not carry its predecessor's hash")
        if chain_hash(key, row) != row.get("row_hash"):
            return Verification(len(rows), prev, seq, "its content does not match its hash (edited)")
        prev, expected_seq = row["row_hash"], expected_seq + 1
    return Verification(len(rows), prev)


def iter_events(
    settings: Settings, catalogue: Catalogue, event: str | None = None
) -> Iterator[dict[str, Any]]:
    for row in read_audit(settings, catalogue):
        if event is None or row["event"] == event:
            yield row
