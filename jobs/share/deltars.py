"""delta-rs (``deltalake``) access to the lake's Delta tables: no JVM, for the sharing server and CLI.

Spark addresses the object store as ``s3a://bucket/key``; delta-rs as ``s3://bucket/key`` with the
credentials passed as storage options. On the local default lake paths are used as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govlake.config import Settings

if TYPE_CHECKING:
    import pyarrow as pa
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


def read_arrow(table: DeltaTable, columns: list[str] | None = None) -> pa.Table:
    """The table's rows at its loaded version, read by delta-rs's own engine.

    Not ``to_pyarrow_table``: its Arrow dataset scan starts Arrow's C++ thread pools, whose workers
    can abort a short-lived process as it exits ("terminate called without an active exception",
    seen on ``govlake share audit verify`` in CI). delta-rs reads on its Rust runtime instead.
    """
    import pyarrow as pa
    from deltalake import QueryBuilder

    selected = ", ".join('"' + name.replace('"', '""') + '"' for name in columns) if columns else "*"
    reader = QueryBuilder().register("delta_table", table).execute(f"SELECT {selected} FROM delta_table")
    return pa.table(reader.read_all())


def read_rows(settings: Settings, path: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of the table at ``path`` as dicts ([] when there is no table)."""
    table = open_table(settings, path)
    if table is None:
        return []
    return read_arrow(table, columns).to_pylist()
