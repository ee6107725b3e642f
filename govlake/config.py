"""The one place that decides where the lake lives and how to reach it.

Everything comes from the environment, never from the repo:

========================  ===================================================  ==========================
variable                  meaning                                              default
========================  ===================================================  ==========================
GOVLAKE_STORAGE_ROOT      root of every zone: a local path or ``s3a://B/P``    ``<repo>/.lake`` (local)
GOVLAKE_S3_ENDPOINT       S3 API endpoint when the root is ``s3a://``          ``http://127.0.0.1:8333``
GOVLAKE_S3_REGION         S3 region                                            ``us-east-1``
AWS_ACCESS_KEY_ID         S3 access key (only read when the root is s3a://)    (required for s3a)
AWS_SECRET_ACCESS_KEY     S3 secret key                                        (required for s3a)
GOVLAKE_SPARK_MASTER      Spark master URL                                     ``local[2]``
GOVLAKE_JARS_DIR          where infra/install.sh put the Spark jars            ``<repo>/.jars``
GOVLAKE_REGISTRY          the source registry file                             ``registry/sources.yaml``
GOVLAKE_SHARES            the share definitions (who receives what)            ``registry/shares.yaml``
GOVLAKE_SHARE_PSEUDONYM_KEY  key of the recipients' pseudonyms (HMAC-SHA256)  (generated for ``.lake``)
GOVLAKE_SHARE_TOKEN_KEY   key of token hashes, file-URL signatures, audit      (generated for ``.lake``)
GOVLAKE_METASTORE_URL     JDBC URL of a shared Hive metastore database         (none: names live in each
                          (``jdbc:postgresql://host:port/db``)                 session, no servers)
GOVLAKE_METASTORE_USER    its database user                                    ``govlake_metastore``
GOVLAKE_METASTORE_PASSWORD  its password: read by the JVM from the environment (required with the URL)
GOVLAKE_PERSON_ID_KEY     secret key person_ids are keyed with (HMAC-SHA256)   required, except on the
                                                                               embedded demo lake
GOVLAKE_SQL_ENDPOINT_DIR  state of the local SQL endpoint (infra/sql-endpoint)  ``<repo>/.run/sql-endpoint``
GOVLAKE_CONNECT_URL       the SQL endpoint's Spark Connect server, for notebooks (none: a local session)
                          (``sc://localhost:15002``; its token in SPARK_CONNECT_AUTHENTICATE_TOKEN)
GOVLAKE_INGEST_WORKERS    processes that stage a load batch's files at once     the cores, at most 4
========================  ===================================================  ==========================

The metastore password never enters the settings or a Spark setting: Spark's Hive client is given
the reference ``${env.GOVLAKE_METASTORE_PASSWORD}`` (Hadoop configuration substitution), so the
value stays in the environment of the process that connects.

The person-id key is a secret reference like the S3 keys: the repo holds none, not even a default.
On the embedded demo lake (``.lake/``, synthetic citizens only) a random key is made once into
``.lake/_secrets/person_id.key`` (git-ignored with the rest of ``.lake/``, and deleted with it): the
demo needs no setup, and that key names nobody real. Anywhere else it must be set: with a key in
the repo or a fixed fallback, anyone could recompute every citizen's person_id from the enumerable
ID numbers. A fingerprint of the key (:func:`key_fingerprint`) is kept beside the resolution model,
and a build with another key stops (:class:`KeyMismatch`) instead of renumbering every citizen.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The embedded default lake: local files in the repo, no servers (what `govlake demo` runs on).
EMBEDDED_LAKE = REPO_ROOT / ".lake"
DEFAULT_REGISTRY = REPO_ROOT / "registry" / "sources.yaml"
DEFAULT_SHARES = REPO_ROOT / "registry" / "shares.yaml"
PERSON_ID_KEY_ENV = "GOVLAKE_PERSON_ID_KEY"
#: Where the embedded demo lake keeps the key it made for itself (inside the lake: gone with it).
EMBEDDED_PERSON_ID_KEY = EMBEDDED_LAKE / "_secrets" / "person_id.key"
#: A key shorter than this is refused: person_ids are only as secret as the key is unguessable.
MIN_KEY_CHARS = 32
_FINGERPRINT_LABEL = b"govlake person-id key fingerprint v1"


class Zone(StrEnum):
    """Storage zones, in the order data flows through them."""

    LANDING = "landing"  # departments drop extracts here; mutable, cleaned after landing
    RAW = "raw"  # immutable copies of every extract, addressed by SHA-256
    BRONZE = "bronze"  # one Delta table per dataset, canonical columns + lineage
    QUARANTINE = "quarantine"  # rows and files that could not be accepted, with a reason
    SILVER = "silver"  # base libraries: population, legal persons, geography
    GOLD = "gold"  # analytics marts (dbt)
    SHARE = "share"  # published, masked versions other departments may read
    QUALITY = "quality"  # validation results, Data Docs, scorecards


#: The variable the shared metastore's password is read from (by reference only: see above).
METASTORE_PASSWORD_ENV = "GOVLAKE_METASTORE_PASSWORD"


class ConfigError(ValueError):
    """The environment describes a configuration that cannot work."""


class KeyMismatch(ConfigError):
    """The lake's person_ids were made with another key than the one configured now."""


def key_fingerprint(key: str) -> str:
    """16 hex digits of HMAC-SHA256(key, a fixed label): tells keys apart, reveals nothing of them."""
    return hmac.new(key.encode("utf-8"), _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    region: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)


@dataclass(frozen=True)
class MetastoreSettings:
    """Where the shared Hive metastore keeps its tables; the password stays in the environment."""

    url: str
    user: str


@dataclass(frozen=True)
class Settings:
    storage_root: str
    spark_master: str
    jars_dir: Path
    s3: S3Settings | None
    registry_path: Path = DEFAULT_REGISTRY
    shares_path: Path = DEFAULT_SHARES
    #: Sharing secrets (govlake.sharing.share_keys says what happens when they are not set).
    share_pseudonym_key: str | None = field(default=None, repr=False)
    share_token_key: str | None = field(default=None, repr=False)
    #: A shared Hive metastore (JDBC URL of its Postgres database): every Spark session of the
    #: project then keeps table and view names there (the SQL endpoint's servers, dbt, the steps).
    metastore: MetastoreSettings | None = None
    #: The person-id key (``GOVLAKE_PERSON_ID_KEY``); None when unset on a lake that is not the
    #: embedded demo lake — :meth:`require_person_id_key` then refuses.
    person_id_key: str | None = field(default=None, repr=False)

    def require_person_id_key(self) -> str:
        """The person-id key, or a :class:`ConfigError` saying how to set one."""
        if not self.person_id_key:
            raise ConfigError(
                f"{PERSON_ID_KEY_ENV} is not set: the lake at {self.storage_root} is not the embedded demo "
                "lake, so person_ids need a secret key of its own (e.g. `openssl rand -hex 32`, kept in "
                "the secret store and the same for every scheduler and worker)"
            )
        return self.person_id_key

    sql_endpoint_dir: Path = REPO_ROOT / ".run" / "sql-endpoint"
    connect_url: str | None = None
    #: Processes that stage (read, count) a load batch's files side by side; 1 reads them in turn.
    ingest_workers: int = 1

    @property
    def is_s3(self) -> bool:
        return self.storage_root.startswith("s3a://")

    @property
    def is_embedded_default(self) -> bool:
        """The lake is the repo's own ``.lake/`` folder (demo data may be written there)."""
        return not self.is_s3 and Path(self.storage_root) == EMBEDDED_LAKE.resolve()

    @property
    def bucket(self) -> str | None:
        """The bucket named by an ``s3a://`` root, else None."""
        if not self.is_s3:
            return None
        return self.storage_root.removeprefix("s3a://").split("/", 1)[0]

    def zone(self, zone: Zone | str) -> str:
        """Root of one zone, as a path or URI Spark and the storage helpers both accept."""
        return f"{self.storage_root.rstrip('/')}/{Zone(zone).value}"

    def table_path(self, zone: Zone | str, *parts: str) -> str:
        """Location of a table (or any object) inside a zone, e.g. ``table_path(BRONZE, 'household')``."""
        return "/".join([self.zone(zone), *parts])


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: ``os.environ``) and check they are usable."""
    env = os.environ if env is None else env
    root = env.get("GOVLAKE_STORAGE_ROOT", "").strip() or str(EMBEDDED_LAKE)
    if root.startswith("s3://"):
        raise ConfigError(f"GOVLAKE_STORAGE_ROOT={root!r}: use the s3a:// scheme (Hadoop's S3A connector)")
    if not root.startswith("s3a://"):
        root = str(Path(root).expanduser().resolve())

    s3 = None
    if root.startswith("s3a://"):
        if not root.removeprefix("s3a://").split("/", 1)[0]:
            raise ConfigError(f"GOVLAKE_STORAGE_ROOT={root!r} names no bucket")
        missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(k)]
        if missing:
            raise ConfigError(f"storage root {root} is on S3 but {', '.join(missing)} is not set")
        s3 = S3Settings(
            endpoint=env.get("GOVLAKE_S3_ENDPOINT", "http://127.0.0.1:8333"),
            region=env.get("GOVLAKE_S3_REGION", "us-east-1"),
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    metastore = None
    if url := env.get("GOVLAKE_METASTORE_URL", "").strip():
        if not url.startswith("jdbc:postgresql://"):
            raise ConfigError(
                f"GOVLAKE_METASTORE_URL={url!r}: expected a Postgres JDBC URL (jdbc:postgresql://host:port/db)"
            )
        if not env.get(METASTORE_PASSWORD_ENV):
            raise ConfigError(f"GOVLAKE_METASTORE_URL is set but {METASTORE_PASSWORD_ENV} is not")
        metastore = MetastoreSettings(url=url, user=env.get("GOVLAKE_METASTORE_USER") or "govlake_metastore")
    key = env.get(PERSON_ID_KEY_ENV, "").strip() or None
    embedded = not root.startswith("s3a://") and Path(root) == EMBEDDED_LAKE.resolve()
    if key is None and embedded:
        key = _embedded_person_id_key()
    if key is not None and len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{PERSON_ID_KEY_ENV} is too short ({len(key)} characters; at least {MIN_KEY_CHARS})"
        )

    return Settings(
        storage_root=root,
        spark_master=env.get("GOVLAKE_SPARK_MASTER", "local[2]"),
        jars_dir=Path(env.get("GOVLAKE_JARS_DIR", str(REPO_ROOT / ".jars"))),
        s3=s3,
        registry_path=Path(env.get("GOVLAKE_REGISTRY") or DEFAULT_REGISTRY).expanduser().resolve(),
        shares_path=Path(env.get("GOVLAKE_SHARES") or DEFAULT_SHARES).expanduser().resolve(),
        share_pseudonym_key=env.get("GOVLAKE_SHARE_PSEUDONYM_KEY") or None,
        share_token_key=env.get("GOVLAKE_SHARE_TOKEN_KEY") or None,
        metastore=metastore,
        person_id_key=key,
        sql_endpoint_dir=Path(env.get("GOVLAKE_SQL_ENDPOINT_DIR") or REPO_ROOT / ".run" / "sql-endpoint")
        .expanduser()
        .resolve(),
        connect_url=env.get("GOVLAKE_CONNECT_URL") or None,
        ingest_workers=_positive_int(env, "GOVLAKE_INGEST_WORKERS", default=min(os.cpu_count() or 1, 4)),
    )


def _positive_int(env: Mapping[str, str], name: str, *, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def _embedded_person_id_key() -> str:
    """The embedded demo lake's own key: read, or made once (random, owner-only file)."""
    path = EMBEDDED_PERSON_ID_KEY
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key
