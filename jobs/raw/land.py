"""Land extracts: landing area -> raw zone, immutably, under their SHA-256.

``landing/<source_id>/<any name>``  is where a department drops files (mutable).
``raw/<source_id>/<sha256>``        is the file's bytes, written once and never changed.
``raw/<source_id>/<sha256>.json``   is its metadata: original name, size, landing time, batch id.

Landing streams: the file is hashed while it is copied, a chunk at a time, so a 2 GB extract costs
no more memory than a small one. Landing is crash-safe and idempotent: the raw copy and its
metadata are written before the landing file is removed, and a file whose hash is already in raw
is recognised, not kept twice. A raw
file is "pending" until the bronze loader marks it loaded (``<sha256>.loaded``), so a run that
failed after landing picks the file up again next time.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from govlake import storage
from govlake.config import Settings
from govlake.lake import Lake
from govlake.registry import load_registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandedFile:
    source_id: str
    file_hash: str
    original_name: str
    raw_path: str
    size_bytes: int
    batch_id: str
    landed_at: str
    already_landed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def landing_dir(settings: Settings, source_id: str) -> str:
    return Lake(settings).location("landing", source_id=source_id)


def raw_dir(settings: Settings, source_id: str) -> str:
    return Lake(settings).location("raw", source_id=source_id)


def raw_object_path(settings: Settings, source_id: str, file_hash: str) -> str:
    return f"{raw_dir(settings, source_id)}/{file_hash}"


def loaded_marker_path(settings: Settings, source_id: str, file_hash: str) -> str:
    return f"{raw_object_path(settings, source_id, file_hash)}.loaded"


def read_metadata(settings: Settings, source_id: str, file_hash: str) -> LandedFile:
    meta = json.loads(storage.read_bytes(settings, f"{raw_object_path(settings, source_id, file_hash)}.json"))
    return LandedFile(**meta)


def _copy_to_raw(settings: Settings, source_id: str, landing_path: str) -> tuple[str, int, str]:
    """Stream the landing file into raw under its SHA-256; return (hash, size, raw path).

    Memory stays at one chunk whatever the file's size. Locally the bytes are hashed while they are
    copied to a temporary name in raw, then renamed to their hash. On S3 a rename is a server-side
    copy (and S3 refuses single copies over 5 GB), so the file is hashed in a first pass and
    streamed to its final key in a second, whose hash must agree.
    """
    if settings.is_s3:
        file_hash, size = storage.sha256_of(settings, landing_path)
        raw_path = raw_object_path(settings, source_id, file_hash)
        if not storage.exists(settings, f"{raw_path}.json"):
            copied, _ = storage.write_stream(settings, raw_path, storage.iter_chunks(settings, landing_path))
            if copied != file_hash:
                storage.delete(settings, raw_path)
                raise RuntimeError(f"{landing_path} changed while it was being landed; landing it next run")
        return file_hash, size, raw_path
    incoming = f"{raw_dir(settings, source_id)}/.incoming-{uuid.uuid4().hex}"
    file_hash, size = storage.write_stream(settings, incoming, storage.iter_chunks(settings, landing_path))
    raw_path = raw_object_path(settings, source_id, file_hash)
    if storage.exists(settings, f"{raw_path}.json"):
        storage.delete(settings, incoming)
    else:
        storage.move(settings, incoming, raw_path)
    return file_hash, size, raw_path


def _land_one(settings: Settings, source_id: str, landing_path: str, now: datetime) -> LandedFile:
    file_hash, size, raw_path = _copy_to_raw(settings, source_id, landing_path)
    meta_path = f"{raw_path}.json"
    name = landing_path.rsplit("/", 1)[-1]
    if storage.exists(settings, meta_path):
        landed = read_metadata(settings, source_id, file_hash)
        log.info(
            "%s: %s is already in raw as %s (first landed as %s)",
            source_id,
            name,
            file_hash,
            landed.original_name,
        )
        landed = LandedFile(**{**landed.as_dict(), "already_landed": True})
    else:
        batch_id = f"{now:%Y%m%dT%H%M%S}-{file_hash[:8]}"
        landed = LandedFile(source_id, file_hash, name, raw_path, size, batch_id, now.isoformat())
        # Metadata last: its presence means the raw copy is complete.
        storage.write_bytes(settings, meta_path, json.dumps(landed.as_dict(), ensure_ascii=False).encode())
        log.info("%s: landed %s (%d bytes) as %s", source_id, name, size, file_hash)
    storage.delete(settings, landing_path)
    return landed


def pending_files(settings: Settings, source_id: str) -> list[LandedFile]:
    """Raw files of ``source_id`` that the bronze loader has not marked loaded, oldest first."""
    names = {f.path.rsplit("/", 1)[-1] for f in storage.list_files(settings, raw_dir(settings, source_id))}
    hashes = [n.removesuffix(".json") for n in names if n.endswith(".json")]
    pending = [read_metadata(settings, source_id, h) for h in hashes if f"{h}.loaded" not in names]
    return sorted(pending, key=lambda f: (f.landed_at, f.file_hash))


def land_new_files(source_id: str, settings: Settings) -> list[dict[str, Any]]:
    """Land every file waiting in the source's landing area; return all raw files still to load.

    The result (JSON-serialisable, for Airflow XCom) lists each newly landed file and every
    earlier one whose bronze load has not completed, so a retried DAG run loses nothing.
    """
    load_registry(settings.registry_path).source(source_id)  # fail early and clearly on an unknown source
    now = datetime.now(UTC)
    written_now: set[str] = set()
    for stored in storage.list_files(settings, landing_dir(settings, source_id)):
        if stored.path.rsplit("/", 1)[-1].startswith("."):  # editors' and uploaders' temp files
            continue
        landed = _land_one(settings, source_id, stored.path, now)
        if not landed.already_landed:
            written_now.add(landed.file_hash)
    return [
        {**f.as_dict(), "already_landed": f.file_hash not in written_now}
        for f in pending_files(settings, source_id)
    ]
