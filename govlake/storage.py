"""Byte-level access to the lake for what is not a table: landing files, raw objects, reports.

One interface (pyarrow's FileSystem) over the local default and the S3 object store, chosen by
the storage root, so callers never branch on where the lake lives. Spark reaches the same locations
through its own connectors (file:/ or s3a://).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from govlake.config import Settings

#: Bytes read or written per call when streaming: large enough for full-speed I/O, small enough to
#: keep a process's memory flat whatever the size of the file.
CHUNK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class StoredFile:
    path: str  # in the lake's own notation: local path or s3a://bucket/key
    size: int


@cache
def _filesystem(settings: Settings):  # -> pyarrow.fs.FileSystem
    import pyarrow.fs as pafs

    if not settings.is_s3:
        return pafs.LocalFileSystem()
    assert settings.s3 is not None
    scheme, _, host = settings.s3.endpoint.partition("://")
    return pafs.S3FileSystem(
        access_key=settings.s3.access_key,
        secret_key=settings.s3.secret_key,
        region=settings.s3.region,
        endpoint_override=host or scheme,
        scheme=scheme if host else "https",
        # Path-style addressing: bucket names are not DNS names on a loopback object store.
        force_virtual_addressing=False,
    )


def _fs_path(settings: Settings, path: str) -> str:
    """pyarrow's notation: 'bucket/key' for S3, the absolute path locally."""
    return path.removeprefix("s3a://")


def _lake_path(settings: Settings, fs_path: str) -> str:
    return f"s3a://{fs_path}" if settings.is_s3 else fs_path


def list_files(settings: Settings, prefix: str) -> list[StoredFile]:
    """Every file below ``prefix`` (recursively), sorted by path; [] if the prefix is absent."""
    import pyarrow.fs as pafs

    fs = _filesystem(settings)
    selector = pafs.FileSelector(_fs_path(settings, prefix), recursive=True, allow_not_found=True)
    infos = [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]
    return sorted(
        (StoredFile(_lake_path(settings, i.path), i.size or 0) for i in infos), key=lambda f: f.path
    )


def exists(settings: Settings, path: str) -> bool:
    import pyarrow.fs as pafs

    return _filesystem(settings).get_file_info(_fs_path(settings, path)).type == pafs.FileType.File


def size_of(settings: Settings, path: str) -> int:
    return int(_filesystem(settings).get_file_info(_fs_path(settings, path)).size or 0)


def stored_file(settings: Settings, path: str) -> StoredFile | None:
    """The file at ``path`` with its size, or None when there is none (one HEAD on S3)."""
    import pyarrow.fs as pafs

    info = _filesystem(settings).get_file_info(_fs_path(settings, path))
    return StoredFile(path, int(info.size or 0)) if info.type == pafs.FileType.File else None


def read_bytes(settings: Settings, path: str) -> bytes:
    with _filesystem(settings).open_input_stream(_fs_path(settings, path)) as stream:
        return stream.read()


def write_bytes(settings: Settings, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` in one operation: a reader sees all of it or none.

    Locally the bytes go to a temporary sibling that is then renamed over the target; an S3 PUT
    is already atomic.
    """
    fs = _filesystem(settings)
    target = _fs_path(settings, path)
    parent = target.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    if settings.is_s3:
        with fs.open_output_stream(target) as out:
            out.write(data)
        return
    tmp = f"{target}.tmp-writing"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, target)


def open_input(settings: Settings, path: str) -> Any:
    """A seekable binary file over ``path`` (pyarrow NativeFile: ``read``, ``seek``, ``tell``, ``size``).

    For readers that need random access (a workbook's zip directory); plain streaming uses
    :func:`iter_chunks`.
    """
    return _filesystem(settings).open_input_file(_fs_path(settings, path))


def iter_chunks(settings: Settings, path: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The bytes of ``path`` in order, ``chunk_bytes`` at a time (the last chunk may be shorter)."""
    with _filesystem(settings).open_input_stream(_fs_path(settings, path)) as stream:
        while chunk := stream.read(chunk_bytes):
            yield chunk


def iter_range(
    settings: Settings, path: str, start: int, length: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """``length`` bytes of ``path`` from offset ``start``, ``chunk_bytes`` at a time.

    On S3 each chunk is one ranged GET, so serving part of a large object reads only that part.
    Raises EOFError if the file ends before ``start + length``.
    """
    with open_input(settings, path) as source:
        source.seek(start)
        left = length
        while left > 0:
            chunk = source.read(min(chunk_bytes, left))
            if not chunk:
                raise EOFError(f"{path} ended {left} bytes before offset {start + length}")
            left -= len(chunk)
            yield chunk


def sha256_of(settings: Settings, path: str) -> tuple[str, int]:
    """SHA-256 (hex) and size of ``path``, streamed."""
    digest, size = hashlib.sha256(), 0
    for chunk in iter_chunks(settings, path):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def write_stream(settings: Settings, path: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Write ``chunks`` at ``path`` as one object and return its SHA-256 (hex) and size.

    Streamed: memory stays at one chunk. A reader sees all of the object or none of it: locally the
    bytes go to a temporary sibling renamed over the target at the end; on S3 a multipart upload
    only becomes visible when it completes (a killed process never completes it; a failure in
    ``chunks`` deletes what pyarrow completes on the way out).
    """
    fs = _filesystem(settings)
    target = _fs_path(settings, path)
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    written = target if settings.is_s3 else f"{target}.tmp-writing"
    digest, size = hashlib.sha256(), 0
    try:
        with fs.open_output_stream(written) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        delete(settings, _lake_path(settings, written))
        raise
    if written != target:
        fs.move(written, target)
    return digest.hexdigest(), size


def open_output(settings: Settings, path: str) -> Any:
    """A binary output stream at ``path`` (parent folders created), e.g. for a Parquet writer."""
    fs = _filesystem(settings)
    target = _fs_path(settings, path)
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    return fs.open_output_stream(target)


def move(settings: Settings, source: str, target: str) -> None:
    """Rename ``source`` to ``target`` (a local rename; a copy then delete on S3)."""
    fs = _filesystem(settings)
    fs.create_dir(_fs_path(settings, target).rsplit("/", 1)[0], recursive=True)
    fs.move(_fs_path(settings, source), _fs_path(settings, target))


def delete_tree(settings: Settings, prefix: str) -> None:
    """Delete the folder ``prefix`` and everything below it; nothing happens when it is absent."""
    import pyarrow.fs as pafs

    fs = _filesystem(settings)
    target = _fs_path(settings, prefix)
    if fs.get_file_info(target).type == pafs.FileType.Directory:
        fs.delete_dir(target)


def delete(settings: Settings, path: str) -> None:
    import pyarrow.fs as pafs

    fs = _filesystem(settings)
    target = _fs_path(settings, path)
    if fs.get_file_info(target).type != pafs.FileType.NotFound:
        fs.delete_file(target)
