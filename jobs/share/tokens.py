"""Recipients' bearer tokens: created, rotated with a grace window, revoked; stored only as hashes.

A token reads ``<token_id>.<secret>``. ``share.tokens`` (Delta, written with delta-rs) keeps one
row per event — ``created`` (recipient, keyed hash of the whole token, expiry), ``rotated`` (the
old token stays valid until ``grace_until``, a new one is created beside it), ``revoked`` — and
never the token. The hash is HMAC-SHA256 under a key derived from ``GOVLAKE_SHARE_TOKEN_KEY``, so
the table alone cannot be used to test guesses. The server reads the table on every request: a
revoked token is refused on its next request. Every event is also a row of the audit chain.

What revocation cannot do: file URLs already handed out stay valid until they expire (they are
self-contained, like S3's), which is why their lifetime is short (``govlake share serve --url-ttl``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from govlake.config import Settings
from govlake.sharing import ShareKeys
from jobs.share.audit import AuditLog
from jobs.share.deltars import open_table, read_arrow, storage_options, table_uri

if TYPE_CHECKING:
    import pyarrow as pa

    from govlake.lake.catalogue import Catalogue

TOKENS = "share.tokens"
DEFAULT_LIFETIME = timedelta(days=90)
DEFAULT_GRACE = timedelta(hours=24)


class TokenError(ValueError):
    """A token command names an unknown recipient or token, or a token that is no longer valid."""


def _schema() -> pa.Schema:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("token_id", pa.string()),
            ("event", pa.string()),  # created, rotated, revoked
            ("recipient", pa.string()),
            ("token_hash", pa.string()),
            ("at", ts),
            ("expires_at", ts),
            ("grace_until", ts),
            ("replaced_by", pa.string()),
            ("note", pa.string()),
        ]
    )


@dataclass(frozen=True)
class TokenState:
    token_id: str
    recipient: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    grace_until: datetime | None = None  # set by a rotation
    revoked_at: datetime | None = None
    replaced_by: str | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why the token is refused at ``now`` (None: it is valid)."""
        if self.revoked_at is not None:
            return f"token {self.token_id} was revoked at {self.revoked_at.isoformat()}"
        if now >= self.expires_at:
            return f"token {self.token_id} expired at {self.expires_at.isoformat()}"
        if self.grace_until is not None and now >= self.grace_until:
            return f"token {self.token_id} was rotated; its grace window ended {self.grace_until.isoformat()}"
        return None

    def status(self, now: datetime) -> str:
        reason = self.refusal(now)
        if reason is None:
            return "valid until " + min(self.expires_at, self.grace_until or self.expires_at).isoformat()
        return reason.split(" ", 2)[2]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fold(rows: list[dict[str, Any]]) -> dict[str, TokenState]:
    """The state of every token from its events, in time order."""
    states: dict[str, TokenState] = {}
    for row in sorted(rows, key=lambda r: _aware(r["at"]) or datetime.min.replace(tzinfo=UTC)):
        tid = row["token_id"]
        if row["event"] == "created":
            states[tid] = TokenState(
                tid, row["recipient"], row["token_hash"], _aware(row["at"]), _aware(row["expires_at"])
            )
        elif tid in states and row["event"] == "rotated":
            old = states[tid]
            states[tid] = TokenState(
                **{
                    **old.__dict__,
                    "grace_until": _aware(row["grace_until"]),
                    "replaced_by": row["replaced_by"],
                }
            )
        elif tid in states and row["event"] == "revoked":
            old = states[tid]
            states[tid] = TokenState(**{**old.__dict__, "revoked_at": _aware(row["at"])})
    return states


class TokenStore:
    """Reads and writes ``share.tokens``; thread-safe, refreshed from the table on every lookup."""

    def __init__(
        self, settings: Settings, catalogue: Catalogue, keys: ShareKeys, audit: AuditLog | None = None
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.keys = keys
        self.path = catalogue.path(TOKENS, settings)
        self.audit = audit or AuditLog(settings, catalogue, keys)
        self._lock = threading.Lock()
        self._table: Any = None
        self._version: int | None = None
        self._states: dict[str, TokenState] = {}

    # -- reading ---------------------------------------------------------------------------------

    def states(self) -> dict[str, TokenState]:
        """Every token's state as the table says now (re-read only when the table has a new version)."""
        with self._lock:
            if self._table is None:
                self._table = open_table(self.settings, self.path)
            else:
                self._table.update_incremental()
            if self._table is None:
                return {}
            version = self._table.version()
            if version != self._version:
                self._states = fold(read_arrow(self._table).to_pylist())
                self._version = version
            return dict(self._states)

    def authenticate(self, token: str, now: datetime | None = None) -> tuple[TokenState | None, str | None]:
        """``(state, None)`` for a valid token; ``(state or None, reason)`` when refused."""
        now = now or datetime.now(UTC)
        token_id, _, secret = token.partition(".")
        if not token_id or not secret:
            return None, "malformed bearer token"
        state = self.states().get(token_id)
        if state is None or not hmac.compare_digest(self.keys.token_hash(token), state.token_hash):
            return None, "unknown bearer token"
        if state.recipient not in self.catalogue.shares.recipients:
            return state, f"recipient {state.recipient} is no longer declared in the share definitions"
        return state, state.refusal(now)

    # -- writing ---------------------------------------------------------------------------------

    def _append(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        from deltalake import write_deltalake

        data = pa.Table.from_pylist(
            [{**{f: None for f in _schema().names}, **r} for r in rows], schema=_schema()
        )
        write_deltalake(
            table_uri(self.settings, self.path),
            data,
            mode="append",
            storage_options=storage_options(self.settings),
        )

    def create(
        self, recipient: str, lifetime: timedelta = DEFAULT_LIFETIME, note: str = ""
    ) -> tuple[str, TokenState]:
        """A new token for ``recipient``: returns the token (shown once, never stored) and its state."""
        if recipient not in self.catalogue.shares.recipients:
            known = ", ".join(sorted(self.catalogue.shares.recipients)) or "none"
            raise TokenError(f"no recipient {recipient!r} in the share definitions (known: {known})")
        if lifetime <= timedelta(0):
            raise TokenError("a token's lifetime must be positive")
        token_id = secrets.token_hex(8)
        token = f"{token_id}.{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        row = {
            "token_id": token_id,
            "event": "created",
            "recipient": recipient,
            "token_hash": self.keys.token_hash(token),
            "at": now,
            "expires_at": now + lifetime,
            "note": note,
        }
        self._append([row])
        self.audit.record(
            event="token_created",
            recipient=recipient,
            token_id=token_id,
            allowed=True,
            reason=f"expires {row['expires_at'].isoformat()}",
            detail={"note": note},
        )
        return token, fold([row])[token_id]

    def _valid(self, token_id: str) -> TokenState:
        state = self.states().get(token_id)
        if state is None:
            raise TokenError(f"no token {token_id!r}")
        reason = state.refusal(datetime.now(UTC))
        if reason:
            raise TokenError(reason)
        return state

    def rotate(
        self, token_id: str, grace: timedelta = DEFAULT_GRACE, lifetime: timedelta = DEFAULT_LIFETIME
    ) -> tuple[str, TokenState]:
        """A new token for the same recipient; the old one keeps working for ``grace``, then stops."""
        old = self._valid(token_id)
        token, new = self.create(old.recipient, lifetime, note=f"rotation of {token_id}")
        grace_until = datetime.now(UTC) + max(grace, timedelta(0))
        self._append(
            [
                {
                    "token_id": token_id,
                    "event": "rotated",
                    "recipient": old.recipient,
                    "at": datetime.now(UTC),
                    "grace_until": grace_until,
                    "replaced_by": new.token_id,
                }
            ]
        )
        self.audit.record(
            event="token_rotated",
            recipient=old.recipient,
            token_id=token_id,
            allowed=True,
            reason=f"replaced by {new.token_id}; old token valid until {grace_until.isoformat()}",
        )
        return token, new

    def revoke(self, token_id: str, reason: str = "") -> TokenState:
        state = self.states().get(token_id)
        if state is None:
            raise TokenError(f"no token {token_id!r}")
        if state.revoked_at is not None:
            raise TokenError(f"token {token_id} is already revoked")
        self._append(
            [
                {
                    "token_id": token_id,
                    "event": "revoked",
                    "recipient": state.recipient,
                    "at": datetime.now(UTC),
                    "note": reason,
                }
            ]
        )
        self.audit.record(
            event="token_revoked",
            recipient=state.recipient,
            token_id=token_id,
            allowed=True,
            reason=reason or "revoked",
        )
        return self.states()[token_id]
