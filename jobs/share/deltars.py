"""delta-rs (``deltalake``) access to the lake's Delta tables: no JVM, for the sharing server and CLI.

Spark addresses the object store as ``s3a://bucket/key``; delta-rs as ``s3://bucket/key`` with the
credentials passed as storage options. On the local default lake paths are used as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govlake.config import Settings

if TYPE_CHECKING:
    from deltalake import DeltaTable


def table_uri(settings: Settings, path: str) -> str:
    return "s3://" + path.removeprefix("s3a://") if path.startswith("s3a://") else path


def storage_options(settings: Settings) -> dict[str, str]:
    """Credentials and endpoint for delta-rs; {} on local files."""
    if settings.s3 is None:
        return {}
    options = {
        "AWS_ENDPOINT_URL": settings.s3.endpoint,
        "AWS_REGION": settings.s3.region,
        "AWS_ACCESS_KEY_ID": settings.s3.access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3.secret_key,
        # Commits are created with a conditional PUT (If-None-Match): two writers of one table
        # cannot both commit version N, so no external lock service is needed.
        "conditional_put": "etag",
    }
    if settings.s3.endpoint.startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def open_table(settings: Settings, path: str, version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``path`` (at ``version``), or None when there is none."""
    from deltalake import DeltaTable

    uri, options = table_uri(settings, path), storage_options(settings)
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, version=version, storage_options=options)


def read_rows(settings: Settings, path: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of the table at ``path`` as dicts ([] when there is no table)."""
    table = open_table(settings, path)
    if table is None:
        return []
    return table.to_pyarrow_table(columns=columns).to_pylist()
