"""Byte-level access to the lake for what is not a table: landing files, raw objects, reports.

One interface (pyarrow's FileSystem) over the local default and the S3 object store, chosen by
the storage root, so callers never branch on where the lake lives. Spark reaches the same locations
through its own connectors (file:/ or s3a://).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from govlake.config import Settings


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


def delete(settings: Settings, path: str) -> None:
    import pyarrow.fs as pafs

    fs = _filesystem(settings)
    target = _fs_path(settings, path)
    if fs.get_file_info(target).type != pafs.FileType.NotFound:
        fs.delete_file(target)
