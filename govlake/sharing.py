"""Who receives what: the share definitions of ``registry/shares.yaml``, checked on load, and the keys.

The file names **recipients** (prefectures and province departments, each with the highest
GB/T 43697 grade it may receive) and **shares**. A share lists the recipients granted it and, per
schema, its tables: the published lake table each is built from, an optional static ``where``,
the column that locates a row in a prefecture (``located_by``), and every column it exposes with
its mask. Nothing else of the source is shared: a column not listed does not exist for recipients.

Each (share, recipient, table) is a **grant**: it is materialized as its own Delta table in the
share zone (``share.grants.<share>.<recipient>.<schema>.<table>``) holding only the rows and the
masked columns that recipient may see, so a pre-signed file URL exposes nothing more.

Rules checked here (errors name the share or recipient and the field, like the registry's):

- a prefecture sees the rows located in its own prefecture unless the share grants it more
  (``rows: province`` or a list of prefecture codes); departments see the province;
- a share may not include a table whose sharing type is ``not_shared`` (bronze tables take the type
  of their dataset in ``sources.yaml``, other tables declare it in ``lake.yaml``), and one that
  includes a ``conditional`` table must name its ``approval``;
- the grade of every shared column (the source column's grade in ``lake.yaml``, or ``general`` once
  masked) and of every shared table (its highest column) is at most the recipient's ``ceiling``;
  ``core`` is never a ceiling, so core data (raw ID numbers) only ever leaves masked or pseudonymised.

Masks: ``clear``; ``mask_id`` (``320102********1234``); ``mask_name`` (``张**``); ``mask_phone``
(``138****5678``); ``pseudonym``: HMAC-SHA256 under a key derived per recipient from
``GOVLAKE_SHARE_PSEUDONYM_KEY``, so a recipient can join its tables on it and two recipients cannot
link theirs. An unkeyed hash of an 18-digit ID would be reversed by enumerating the ~10^11 valid IDs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from govlake.config import REPO_ROOT, ConfigError, Settings
from govlake.registry import Classification, SharingType

if TYPE_CHECKING:
    from govlake.lake.catalogue import Table

DEFAULT_SHARES_FILE = REPO_ROOT / "registry" / "shares.yaml"
#: Where the embedded demo lake keeps the sharing keys it generated (git-ignored, mode 0600).
EMBEDDED_KEYS_FILE = REPO_ROOT / ".run" / "sharing" / "keys.json"
#: Prefix of the catalogue ids of grant tables.
GRANTS = "share.grants"
GRADE_RANK = {Classification.GENERAL: 0, Classification.IMPORTANT: 1, Classification.CORE: 2}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PREFECTURE = re.compile(r"^32(0[1-9]|1[0-3])$")
PROVINCE = "province"


class ShareDefinitionError(ValueError):
    """``registry/shares.yaml`` is inconsistent with itself or with the lake catalogue."""


class Mask(StrEnum):
    CLEAR = "clear"
    MASK_ID = "mask_id"  # 320102********1234: area code and last four kept
    MASK_NAME = "mask_name"  # 张**: the first character kept
    MASK_PHONE = "mask_phone"  # 138****5678
    PSEUDONYM = "pseudonym"  # keyed HMAC-SHA256 per recipient, base64url (43 characters)

    @property
    def injective(self) -> bool:
        """Distinct inputs stay distinct (so a masked key is still a key)."""
        return self in (Mask.CLEAR, Mask.PSEUDONYM)


class RecipientKind(StrEnum):
    PREFECTURE = "prefecture"
    DEPARTMENT = "department"


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    kind: RecipientKind
    ceiling: Classification
    prefecture: str | None = None  # a prefecture's code (3201..3213)
    department: str | None = None


@dataclass(frozen=True)
class GrantColumn:
    name: str  # as the recipient sees it
    source: str  # the source column
    mask: Mask
    grade: Classification  # as shared (masks lower it to general)


@dataclass(frozen=True)
class Grant:
    """One table of one share as one recipient receives it: its own Delta table in the share zone."""

    share: str
    recipient: str
    schema: str
    table: str
    source: str  # catalogue table id, read at its published version
    columns: tuple[GrantColumn, ...]
    #: Prefecture codes whose rows the recipient sees (by ``located_by``); None: every row.
    prefectures: tuple[str, ...] | None
    located_by: str | None
    where: str | None
    key: tuple[str, ...]  # grant columns that identify a row (empty: compare whole rows)
    grade: Classification
    description: str = ""

    @property
    def table_id(self) -> str:
        return f"{GRANTS}.{self.share}.{self.recipient}.{self.schema}.{self.table}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def policy(self) -> dict[str, Any]:
        """Everything that decides the grant's content (its fingerprint is recorded with each build)."""
        return {
            "source": self.source,
            "columns": [[c.name, c.source, c.mask.value] for c in self.columns],
            "prefectures": list(self.prefectures) if self.prefectures is not None else None,
            "located_by": self.located_by,
            "where": self.where,
            "recipient": self.recipient,
        }

    def policy_hash(self, key_fingerprint: str = "") -> str:
        text = json.dumps({**self.policy(), "keys": key_fingerprint}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Share:
    name: str
    description: str
    owner: str
    approval: str
    purpose: str
    recipients: tuple[str, ...]
    schemas: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ShareDefinitions:
    recipients: dict[str, Recipient]
    shares: dict[str, Share]
    grants: tuple[Grant, ...]

    def grants_of(self, recipient: str) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.recipient == recipient)

    def shares_of(self, recipient: str) -> tuple[Share, ...]:
        return tuple(s for s in self.shares.values() if recipient in s.recipients)

    def grant(self, recipient: str, share: str, schema: str, table: str) -> Grant | None:
        for g in self.grants:
            if (g.recipient, g.share, g.schema, g.table) == (recipient, share, schema, table):
                return g
        return None

    def by_table_id(self) -> dict[str, Grant]:
        return {g.table_id: g for g in self.grants}


EMPTY = ShareDefinitions({}, {}, ())


# ----------------------------------------------------------------------------------- parsing


def _name(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ShareDefinitionError(
            f"{where}: {what} {value!r} must be lower-case snake_case ({_NAME.pattern})"
        )
    return value


def _grade(value: Any, where: str, field_name: str) -> Classification:
    try:
        return Classification(value)
    except ValueError:
        raise ShareDefinitionError(
            f"{where}: {field_name} {value!r} is not a GB/T 43697 grade ({', '.join(Classification)})"
        ) from None


def _keys(spec: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ShareDefinitionError(f"{where}: unknown keys {unknown} (known: {sorted(allowed)})")


def _parse_recipient(rid: str, spec: Any) -> Recipient:
    where = f"registry/shares.yaml recipient {rid}"
    _name(rid, where, "id")
    if not isinstance(spec, Mapping):
        raise ShareDefinitionError(f"{where}: must be a mapping")
    _keys(spec, {"name", "kind", "prefecture", "department", "ceiling"}, where)
    try:
        kind = RecipientKind(spec.get("kind"))
    except ValueError:
        raise ShareDefinitionError(
            f"{where}: kind {spec.get('kind')!r} is not prefecture or department"
        ) from None
    ceiling = _grade(spec.get("ceiling"), where, "ceiling")
    if ceiling is Classification.CORE:
        raise ShareDefinitionError(
            f"{where}: ceiling core is refused: core data leaves the lake only masked or pseudonymised"
        )
    prefecture = str(spec["prefecture"]) if spec.get("prefecture") is not None else None
    if kind is RecipientKind.PREFECTURE and (prefecture is None or not _PREFECTURE.match(prefecture)):
        raise ShareDefinitionError(
            f"{where}: prefecture {prefecture!r} is not a Jiangsu city code (3201-3213)"
        )
    if kind is RecipientKind.DEPARTMENT and prefecture is not None:
        raise ShareDefinitionError(f"{where}: a department recipient has no prefecture")
    return Recipient(
        id=rid,
        name=str(spec.get("name") or rid),
        kind=kind,
        ceiling=ceiling,
        prefecture=prefecture,
        department=str(spec["department"]) if spec.get("department") else None,
    )


def _rows_of(recipient: Recipient, rows: Any, where: str) -> tuple[str, ...] | None:
    """The prefectures whose rows ``recipient`` sees: its own unless granted more; None = all."""
    if rows is None:
        return (recipient.prefecture,) if recipient.kind is RecipientKind.PREFECTURE else None  # type: ignore[return-value]
    if rows == PROVINCE:
        return None
    if not isinstance(rows, list) or not rows:
        raise ShareDefinitionError(f"{where}: rows must be 'province' or a list of prefecture codes")
    codes = [str(c) for c in rows]
    bad = [c for c in codes if not _PREFECTURE.match(c)]
    if bad:
        raise ShareDefinitionError(f"{where}: rows {bad} are not Jiangsu city codes (3201-3213)")
    own = [recipient.prefecture] if recipient.prefecture else []
    return tuple(sorted(set(own + codes)))


def _sharing_of(table: Table) -> SharingType | None:
    return table.sharing.type if table.sharing is not None else None


def _parse_columns(spec: Any, source: Table, recipient: Recipient, where: str) -> tuple[GrantColumn, ...]:
    if not isinstance(spec, Mapping) or not spec:
        raise ShareDefinitionError(f"{where}: columns must list every shared column with its mask")
    columns = []
    for name, value in spec.items():
        cwhere = f"{where} column {name}"
        _name(name, cwhere, "name")
        if isinstance(value, str):
            value = {"mask": value}
        if not isinstance(value, Mapping):
            raise ShareDefinitionError(
                f"{cwhere}: give a mask ({', '.join(Mask)}) or {{from: ..., mask: ...}}"
            )
        _keys(value, {"mask", "from"}, cwhere)
        try:
            mask = Mask(value.get("mask"))
        except ValueError:
            raise ShareDefinitionError(
                f"{cwhere}: mask {value.get('mask')!r} is not one of {', '.join(Mask)}"
            ) from None
        source_column = _name(value.get("from", name), cwhere, "from")
        source_grade = source.grade_of(source_column)
        grade = source_grade if mask is Mask.CLEAR else Classification.GENERAL
        if GRADE_RANK[grade] > GRADE_RANK[recipient.ceiling]:
            raise ShareDefinitionError(
                f"{cwhere}: {source.id}.{source_column} is {grade.value} data shared {mask.value}, above "
                f"recipient {recipient.id}'s ceiling {recipient.ceiling.value} (mask it or pseudonymise it)"
            )
        columns.append(GrantColumn(name, source_column, mask, grade))
    return tuple(columns)


def parse_shares(doc: Mapping[str, Any] | None, tables: Mapping[str, Table]) -> ShareDefinitions:
    """The share definitions in ``doc`` (the parsed YAML), checked against the catalogue's ``tables``."""
    if not doc:
        return EMPTY
    _keys(doc, {"version", "recipients", "shares"}, "registry/shares.yaml")
    recipients = {rid: _parse_recipient(rid, spec) for rid, spec in (doc.get("recipients") or {}).items()}
    shares: dict[str, Share] = {}
    grants: list[Grant] = []
    for share_name, spec in (doc.get("shares") or {}).items():
        where = f"registry/shares.yaml share {share_name}"
        _name(share_name, where, "name")
        if not isinstance(spec, Mapping):
            raise ShareDefinitionError(f"{where}: must be a mapping")
        _keys(spec, {"description", "owner", "approval", "purpose", "recipients", "schemas"}, where)
        granted: list[tuple[Recipient, Any]] = []
        for entry in spec.get("recipients") or []:
            rid, rows = (entry, None) if isinstance(entry, str) else (entry.get("id"), entry.get("rows"))
            if isinstance(entry, Mapping):
                _keys(entry, {"id", "rows"}, f"{where} recipient {rid}")
            if rid not in recipients:
                raise ShareDefinitionError(f"{where}: recipient {rid!r} is not declared under recipients")
            granted.append((recipients[rid], rows))
        if not granted:
            raise ShareDefinitionError(f"{where}: recipients is empty: a share is granted to someone")
        if len({r.id for r, _ in granted}) != len(granted):
            raise ShareDefinitionError(f"{where}: a recipient is listed twice")
        schemas = spec.get("schemas") or {}
        if not schemas:
            raise ShareDefinitionError(f"{where}: schemas is empty")
        conditional = []
        for schema, tables_spec in schemas.items():
            _name(schema, f"{where} schema {schema}", "name")
            for table_name, tspec in (tables_spec or {}).items():
                twhere = f"{where} table {schema}.{table_name}"
                _name(table_name, twhere, "name")
                if not isinstance(tspec, Mapping):
                    raise ShareDefinitionError(f"{twhere}: must be a mapping")
                _keys(
                    tspec, {"source", "where", "located_by", "rows", "key", "columns", "description"}, twhere
                )
                source_id = tspec.get("source")
                source = tables.get(str(source_id))
                if source is None:
                    raise ShareDefinitionError(
                        f"{twhere}: source {source_id!r} is not a table of the lake catalogue"
                    )
                if not source.published:
                    raise ShareDefinitionError(
                        f"{twhere}: source {source.id} is not a published table "
                        "(only gated versions are shared)"
                    )
                kind = _sharing_of(source)
                if kind is None:
                    raise ShareDefinitionError(
                        f"{twhere}: source {source.id} declares no sharing type in lake.yaml"
                    )
                if kind is SharingType.NOT_SHARED:
                    basis = source.sharing.basis if source.sharing else ""
                    raise ShareDefinitionError(
                        f"{twhere}: source {source.id} is not shared ({basis}); a share may not include it"
                    )
                if kind is SharingType.CONDITIONAL:
                    conditional.append(source.id)
                located_by = tspec.get("located_by")
                every_row = tspec.get("rows") == "all"
                if tspec.get("rows") not in (None, "all"):
                    raise ShareDefinitionError(f"{twhere}: rows may only be 'all' (per table)")
                if every_row and kind is not SharingType.UNCONDITIONAL:
                    raise ShareDefinitionError(
                        f"{twhere}: rows: all is for unconditionally shared reference data; "
                        f"{source.id} is {kind.value}"
                    )
                for recipient, rows in granted:
                    rwhere = f"{twhere} recipient {recipient.id}"
                    columns = _parse_columns(tspec.get("columns"), source, recipient, f"{twhere}")
                    prefectures = None if every_row else _rows_of(recipient, rows, rwhere)
                    if prefectures is not None:
                        if not located_by:
                            raise ShareDefinitionError(
                                f"{rwhere}: a prefecture sees only rows located in it: say located_by "
                                "(the admin-code column), or grant rows: province"
                            )
                        located = [c for c in columns if c.source == located_by and c.mask is Mask.CLEAR]
                        if not located or located[0].name != located_by:
                            raise ShareDefinitionError(
                                f"{rwhere}: located_by {located_by!r} must be a shared column, clear and "
                                "under its own name (the gate checks every row against it)"
                            )
                    names = [c.name for c in columns]
                    if len(set(names)) != len(names):
                        raise ShareDefinitionError(f"{twhere}: a column name is used twice")
                    # The row key, if it survives the masks: recipients' change feeds then show updates
                    # as updates; otherwise whole rows are compared (a change = delete + insert).
                    source_key = tuple(tspec.get("key") or source.key)
                    by_source = {c.source: c for c in columns}
                    key = tuple(
                        by_source[k].name
                        for k in source_key
                        if k in by_source and by_source[k].mask.injective
                    )
                    if tspec.get("key") and len(key) != len(source_key):
                        raise ShareDefinitionError(
                            f"{twhere}: key {list(source_key)} must be shared clear or pseudonymised"
                        )
                    if len(key) != len(source_key):
                        key = ()
                    grade = max((c.grade for c in columns), key=GRADE_RANK.__getitem__)
                    grants.append(
                        Grant(
                            share=share_name,
                            recipient=recipient.id,
                            schema=schema,
                            table=table_name,
                            source=source.id,
                            columns=columns,
                            prefectures=prefectures,
                            located_by=str(located_by) if located_by else None,
                            where=str(tspec["where"]) if tspec.get("where") else None,
                            key=key,
                            grade=grade,
                            description=str(tspec.get("description") or source.description),
                        )
                    )
        approval = str(spec.get("approval") or "").strip()
        if conditional and not approval:
            raise ShareDefinitionError(
                f"{where}: approval is missing: {', '.join(sorted(set(conditional)))} is shared only "
                "conditionally (name the approval document)"
            )
        shares[share_name] = Share(
            name=share_name,
            description=str(spec.get("description") or ""),
            owner=str(spec.get("owner") or ""),
            approval=approval,
            purpose=str(spec.get("purpose") or ""),
            recipients=tuple(r.id for r, _ in granted),
            schemas=tuple(schemas),
        )
    return ShareDefinitions(recipients=recipients, shares=shares, grants=tuple(grants))


@cache
def read_shares_file(path: Path) -> dict[str, Any]:
    """The YAML of a share-definition file ({} when there is none)."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def shares_file(path: Path | str | None = None) -> Path:
    """``path``, ``$GOVLAKE_SHARES`` or ``registry/shares.yaml`` (as the registry's own default)."""
    return Path(path or os.environ.get("GOVLAKE_SHARES") or DEFAULT_SHARES_FILE).expanduser().resolve()


# -------------------------------------------------------------------------------------- keys

_MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class ShareKeys:
    """The sharing secrets; every key used is derived from one of the two by a label."""

    pseudonym_key: bytes = field(repr=False)
    token_key: bytes = field(repr=False)

    def pseudonym_key_for(self, recipient: str) -> bytes:
        """The recipient's own pseudonym key: its pseudonyms join across its tables, not across recipients."""
        return derive(self.pseudonym_key, f"pseudonym:{recipient}")

    def token_hash(self, secret: str) -> str:
        return hmac.new(derive(self.token_key, "token"), secret.encode(), hashlib.sha256).hexdigest()

    @property
    def url_key(self) -> bytes:
        return derive(self.token_key, "file-url")

    @property
    def audit_key(self) -> bytes:
        return derive(self.token_key, "audit-chain")

    @property
    def fingerprint(self) -> str:
        """Names the pseudonym key without revealing it (a new key rebuilds every grant)."""
        return derive(self.pseudonym_key, "fingerprint").hex()[:16]


def derive(key: bytes, label: str) -> bytes:
    return hmac.new(key, label.encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, value: str) -> str:
    """The reference pseudonym (HMAC-SHA256, base64url without padding); Spark builds the same."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _checked(name: str, value: str) -> bytes:
    if len(value) < _MIN_KEY_CHARS:
        raise ConfigError(f"{name} is too short: give at least {_MIN_KEY_CHARS} random characters")
    return value.encode()


def share_keys(settings: Settings) -> ShareKeys:
    """The sharing keys: from the environment; for the embedded demo lake, generated once if unset.

    Any other lake must set both ``GOVLAKE_SHARE_PSEUDONYM_KEY`` and ``GOVLAKE_SHARE_TOKEN_KEY``
    (a key never lives in the repo). The demo's keys are written to ``.run/sharing/keys.json``
    (git-ignored, mode 0600), beside neither the data nor the code.
    """
    pseudonym_key, token_key = settings.share_pseudonym_key, settings.share_token_key
    if pseudonym_key and token_key:
        return ShareKeys(
            _checked("GOVLAKE_SHARE_PSEUDONYM_KEY", pseudonym_key),
            _checked("GOVLAKE_SHARE_TOKEN_KEY", token_key),
        )
    if not settings.is_embedded_default:
        missing = [
            n
            for n, v in (
                ("GOVLAKE_SHARE_PSEUDONYM_KEY", pseudonym_key),
                ("GOVLAKE_SHARE_TOKEN_KEY", token_key),
            )
            if not v
        ]
        raise ConfigError(
            f"{', '.join(missing)} must be set for the lake at {settings.storage_root} "
            "(only the embedded demo lake generates its own sharing keys)"
        )
    return _embedded_keys(EMBEDDED_KEYS_FILE)


def _embedded_keys(path: Path) -> ShareKeys:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated them first: use those
            return _embedded_keys(path)
        with os.fdopen(fd, "w") as fh:
            json.dump(
                {"pseudonym_key": secrets.token_urlsafe(32), "token_key": secrets.token_urlsafe(32)}, fh
            )
    data = json.loads(path.read_text())
    return ShareKeys(data["pseudonym_key"].encode(), data["token_key"].encode())
