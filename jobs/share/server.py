"""``govlake share serve``: the open Delta Sharing protocol over the published grant tables.

Endpoints (under ``/delta-sharing``; PROTOCOL.md of delta-io/delta-sharing):

    GET  /shares                                   list shares granted to the caller
    GET  /shares/{share}                           one share (404 if not granted: as if absent)
    GET  /shares/{share}/schemas                   its schemas
    GET  /shares/{share}/schemas/{schema}/tables   its tables
    GET  /shares/{share}/all-tables                every table of the share
    GET  .../tables/{table}/version                Delta-Table-Version header only
    GET  .../tables/{table}/metadata               protocol + metaData lines
    POST .../tables/{table}/query                  protocol, metaData, then one line per file
    GET  .../tables/{table}/changes                the change data feed between two versions
    GET|HEAD /files/{table_id}/{path}              a signed, expiring file URL (HTTP Range)

Lists take ``maxResults`` / ``pageToken``. Only **published** versions of a grant table exist for
recipients: the served version is the one the share gate published last; ``version`` and the change
feed only reach published versions. Responses are in Parquet format unless the client asks for
delta format only, or allows it and the table needs it; the server states its choice in the
``delta-sharing-capabilities`` response header (it never echoes the client's).

Every request, allowed or refused, is a row of the audit chain (:mod:`jobs.share.audit`) written
before the response leaves; one that cannot be recorded is answered 500.

File URLs point at this server, on the local lake and on the object store alike: it signs them
(HMAC over table id, path and expiry, as ``X-Amz-Signature``: the official client's Rust reader
looks for that name) and streams the file from the lake through :mod:`govlake.storage`, answering
HEAD with the size and GET with HTTP Range. So the object store stays private (recipients never
reach it, no store credential is ever in a URL) and every file read is an audit row. Store
pre-signed URLs are not used: SeaweedFS keeps the ``Content-Encoding: aws-chunked`` of S3A's
uploads and sends it back, so fsspec (the official Python client's reader) distrusts the
Content-Length, cannot learn the size and cannot seek; and a GET-signed URL refuses HEAD. A URL is
self-contained and expires after ``url_ttl`` seconds: revoking a token does not recall URLs
already handed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from govlake.config import Settings
from govlake.lake.catalogue import Catalogue
from govlake.lake.published import PUBLICATIONS
from govlake.sharing import Grant, ShareKeys
from govlake.storage import iter_range, read_bytes, stored_file
from jobs.share.audit import AuditLog
from jobs.share.deltars import open_table, read_arrow
from jobs.share.tokens import TokenState, TokenStore

log = logging.getLogger("govlake.share.server")

PREFIX = "/delta-sharing"
DEFAULT_URL_TTL = 600  # seconds: the whole read of a table must fit, and not much more
CAPABILITIES = "delta-sharing-capabilities"
_NDJSON = "application/x-ndjson; charset=utf-8"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(what: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclass
class AuditNote:
    """What a handler learnt about its request, for the audit row."""

    recipient: str | None = None
    token_id: str | None = None
    share: str | None = None
    schema: str | None = None
    table: str | None = None
    version: int | None = None
    files: int | None = None
    rows: int | None = None
    url_expires_at: datetime | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishedVersion:
    version: int
    published_at: datetime
    run_id: str
    inputs: dict[str, int]


# ---------------------------------------------------------------------------------- file URLs


class FileSigner:
    """Signs the file URLs this server answers itself (``/files/``), whatever the lake's storage."""

    def __init__(self, key: bytes, base_url: str) -> None:
        self.key, self.base_url = key, base_url.rstrip("/")

    def _signature(self, table_id: str, relative: str, expires: int) -> str:
        return hmac.new(
            self.key, f"GET\n{table_id}\n{relative}\n{expires}".encode(), hashlib.sha256
        ).hexdigest()

    def sign(self, table_id: str, relative: str, expires: int) -> str:
        signature = self._signature(table_id, relative, expires)
        return (
            f"{self.base_url}{PREFIX}/files/{table_id}/{quote(relative)}"
            f"?X-Amz-Expires={expires}&X-Amz-Signature={signature}"
        )

    def check(self, table_id: str, relative: str, expires: int, signature: str) -> str | None:
        """Why the URL is refused (None: valid)."""
        if not hmac.compare_digest(self._signature(table_id, relative, expires), signature):
            return "bad signature"
        if time.time() >= expires:
            return f"URL expired at {datetime.fromtimestamp(expires, UTC).isoformat()}"
        return None


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have (HTTP 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte offsets, inclusive, one ``Range: bytes=...`` header asks of a file of
    ``size`` bytes; None to send the whole file (no header, another unit, several ranges or a
    malformed one: RFC 9110 lets a server ignore those). Raises RangeNotSatisfiable."""
    unit, _, spec = (header or "").strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first_text:  # a suffix: the last N bytes
            suffix = int(last_text)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable
            return max(0, size - suffix), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else None
    except ValueError:
        return None
    if first < 0 or (last is not None and last < first):
        return None
    if first >= size:
        raise RangeNotSatisfiable
    return first, size - 1 if last is None else min(last, size - 1)


# ------------------------------------------------------------------------------------- server


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"govlake:{name}"))


def _page(items: list[dict[str, Any]], max_results: int | None, page_token: str | None) -> dict[str, Any]:
    if max_results is not None and max_results < 0:
        raise _bad("maxResults must be non-negative")
    start = 0
    if page_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(page_token.encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            raise _bad("pageToken is not one this server issued") from None
    end = len(items) if max_results is None else start + max_results
    body: dict[str, Any] = {"items": items[start:end]}
    if end < len(items):
        body["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"offset": end}).encode()).decode()
    return body


def response_format(header: str | None, needs_delta: bool) -> str:
    """``parquet`` or ``delta`` from the client's capabilities and the table (raises if impossible)."""
    formats: list[str] = []
    for part in (header or "").split(";"):
        key, _, values = part.partition("=")
        if key.strip().lower() == "responseformat":
            formats = [v.strip().lower() for v in values.split(",") if v.strip()]
    if not formats:
        formats = ["parquet"]
    if "parquet" in formats and not needs_delta:
        return "parquet"
    if "delta" in formats:
        return "delta"
    raise _bad("this table needs responseformat=delta (its reader version is above 1)")


class SharingServer:
    """The protocol's logic over the lake; :func:`create_app` puts it on HTTP."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        keys: ShareKeys,
        *,
        base_url: str,
        url_ttl: int = DEFAULT_URL_TTL,
    ) -> None:
        self.settings, self.catalogue, self.keys = settings, catalogue, keys
        self.defs = catalogue.shares
        self.url_ttl = int(url_ttl)
        self.audit = AuditLog(settings, catalogue, keys)
        self.tokens = TokenStore(settings, catalogue, keys, self.audit)
        self.signer = FileSigner(keys.url_key, base_url)

    # -- who, and what they may see ----------------------------------------------------------------

    def authenticate(self, authorization: str | None, note: AuditNote) -> TokenState:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "UNAUTHENTICATED", "a bearer token is required")
        state, refusal = self.tokens.authenticate(token.strip())
        if state is not None:
            note.recipient, note.token_id = state.recipient, state.token_id
        if refusal is not None or state is None:
            raise ApiError(401, "UNAUTHENTICATED", refusal or "unknown bearer token")
        return state

    def publications(self) -> dict[str, list[PublishedVersion]]:
        """Grant table id -> its published versions, oldest first."""
        table = open_table(self.settings, self.catalogue.path(PUBLICATIONS, self.settings))
        if table is None:
            return {}
        rows = read_arrow(table, ["table", "delta_version", "published_at", "run_id", "inputs"]).to_pylist()
        grants = self.defs.by_table_id()
        out: dict[str, list[PublishedVersion]] = {}
        for row in rows:
            if row["table"] in grants:
                out.setdefault(row["table"], []).append(
                    PublishedVersion(
                        int(row["delta_version"]),
                        row["published_at"],
                        row["run_id"],
                        json.loads(row["inputs"] or "{}"),
                    )
                )
        for versions in out.values():
            versions.sort(key=lambda p: (p.published_at, p.version))
        return out

    def _shares_of(self, recipient: str) -> list[str]:
        return [s.name for s in self.defs.shares_of(recipient)]

    def _share(self, recipient: str, share: str) -> str:
        share = share.lower()
        if share not in self._shares_of(recipient):
            raise _not_found(f"share {share!r}")  # granted to someone else, or absent: the same answer
        return share

    def _visible(
        self, recipient: str, share: str, published: dict[str, list[PublishedVersion]]
    ) -> list[Grant]:
        return [g for g in self.defs.grants_of(recipient) if g.share == share and published.get(g.table_id)]

    def _grant(
        self, recipient: str, share: str, schema: str, table: str
    ) -> tuple[Grant, list[PublishedVersion]]:
        share = self._share(recipient, share)
        grant = self.defs.grant(recipient, share, schema.lower(), table.lower())
        published = self.publications()
        if grant is None or not published.get(grant.table_id):
            raise _not_found(f"table {share}.{schema}.{table}")
        return grant, published[grant.table_id]

    # -- listings -------------------------------------------------------------------------------------

    def list_shares(self, recipient: str, max_results: int | None, page_token: str | None) -> dict[str, Any]:
        items = [{"name": s, "id": _uuid(f"share:{s}")} for s in self._shares_of(recipient)]
        return _page(items, max_results, page_token)

    def get_share(self, recipient: str, share: str) -> dict[str, Any]:
        share = self._share(recipient, share)
        return {"share": {"name": share, "id": _uuid(f"share:{share}")}}

    def list_schemas(
        self, recipient: str, share: str, max_results: int | None, page_token: str | None
    ) -> dict[str, Any]:
        share = self._share(recipient, share)
        grants = self._visible(recipient, share, self.publications())
        items = [{"name": s, "share": share} for s in dict.fromkeys(g.schema for g in grants)]
        return _page(items, max_results, page_token)

    def _table_item(self, grant: Grant) -> dict[str, Any]:
        return {
            "name": grant.table,
            "schema": grant.schema,
            "share": grant.share,
            "shareId": _uuid(f"share:{grant.share}"),
            "id": _uuid(grant.table_id),
        }

    def list_tables(
        self, recipient: str, share: str, schema: str | None, max_results: int | None, page_token: str | None
    ) -> dict[str, Any]:
        share = self._share(recipient, share)
        grants = self._visible(recipient, share, self.publications())
        if schema is not None:
            grants = [g for g in grants if g.schema == schema.lower()]
            if not grants:
                raise _not_found(f"schema {share}.{schema}")
        return _page([self._table_item(g) for g in grants], max_results, page_token)

    # -- one table ------------------------------------------------------------------------------------

    def _path(self, grant: Grant) -> str:
        return self.catalogue.path(grant.table_id, self.settings)

    def _version(self, versions: list[PublishedVersion], asked: int | None) -> PublishedVersion:
        if asked is None:
            return versions[-1]
        for published in versions:
            if published.version == asked:
                return published
        raise _bad(
            f"version {asked} of this table is not published "
            f"(published: {sorted({p.version for p in versions})})"
        )

    def _lines_head(
        self, grant: Grant, published: PublishedVersion, fmt: str, version_field: int | None
    ) -> list[dict[str, Any]]:
        table = open_table(self.settings, self._path(grant), version=published.version)
        assert table is not None
        protocol, metadata = table.protocol(), table.metadata()
        schema = table.schema().to_json()
        inputs = ", ".join(f"{t} v{v}" for t, v in sorted(published.inputs.items()) if t == grant.source)
        description = (
            f"{grant.description}. Version {published.version}, published "
            f"{published.published_at.isoformat()} after validation run {published.run_id}; "
            f"built from {inputs or grant.source}."
        )
        if fmt == "parquet":
            meta: dict[str, Any] = {
                "id": metadata.id,
                "name": grant.table,
                "description": description,
                "format": {"provider": "parquet"},
                "schemaString": schema,
                "partitionColumns": list(metadata.partition_columns),
                "configuration": dict(metadata.configuration),
            }
            if version_field is not None:
                meta["version"] = version_field
            return [{"protocol": {"minReaderVersion": 1}}, {"metaData": meta}]
        delta_protocol: dict[str, Any] = {
            "minReaderVersion": protocol.min_reader_version,
            "minWriterVersion": protocol.min_writer_version,
        }
        if protocol.reader_features:
            delta_protocol["readerFeatures"] = list(protocol.reader_features)
        if protocol.writer_features:
            delta_protocol["writerFeatures"] = list(protocol.writer_features)
        delta_meta = {
            "id": metadata.id,
            "name": grant.table,
            "description": description,
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema,
            "partitionColumns": list(metadata.partition_columns),
            "configuration": dict(metadata.configuration),
            "createdTime": metadata.created_time,
        }
        wrapper: dict[str, Any] = {"deltaMetadata": delta_meta}
        if version_field is not None:
            wrapper["version"] = version_field
        return [{"protocol": {"deltaProtocol": delta_protocol}}, {"metaData": wrapper}]

    def _needs_delta(self, grant: Grant, version: int) -> bool:
        table = open_table(self.settings, self._path(grant), version=version)
        return table is not None and table.protocol().min_reader_version > 1

    def table_version(self, recipient: str, share: str, schema: str, table: str, note: AuditNote) -> int:
        _, versions = self._grant(recipient, share, schema, table)
        note.version = versions[-1].version
        return versions[-1].version

    def metadata(
        self, recipient: str, share: str, schema: str, table: str, capabilities: str | None, note: AuditNote
    ) -> tuple[int, str, list[dict[str, Any]]]:
        grant, versions = self._grant(recipient, share, schema, table)
        published = versions[-1]
        fmt = response_format(capabilities, self._needs_delta(grant, published.version))
        note.version = published.version
        return published.version, fmt, self._lines_head(grant, published, fmt, None)

    def _file_line(
        self,
        grant: Grant,
        fmt: str,
        kind: str,
        action: dict[str, Any],
        expires: int,
        version: int | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        relative = action["path"]
        url = self.signer.sign(grant.table_id, relative, expires)
        file_id = hashlib.md5(f"{grant.table_id}/{relative}".encode()).hexdigest()
        expires_ms = expires * 1000
        if fmt == "parquet":
            line: dict[str, Any] = {
                "url": url,
                "id": file_id,
                "partitionValues": action.get("partitionValues") or {},
                "size": int(action.get("size") or 0),
                "expirationTimestamp": expires_ms,
            }
            if action.get("stats") and kind in ("file", "add"):
                line["stats"] = action["stats"]
            if version is not None:
                line["version"], line["timestamp"] = version, timestamp
            return {kind: line}
        single = {**action, "path": url}
        if kind == "remove":
            single.setdefault("deletionTimestamp", timestamp)
            single.setdefault("dataChange", True)
        wrapper: dict[str, Any] = {
            "id": file_id,
            "size": int(action.get("size") or 0),
            "expirationTimestamp": expires_ms,
            "deltaSingleAction": {{"file": "add", "cdf": "cdc"}.get(kind, kind): single},
        }
        if version is not None:
            wrapper["version"], wrapper["timestamp"] = version, timestamp
        return {"file": wrapper}

    def _snapshot_actions(self, grant: Grant, version: int) -> list[dict[str, Any]]:
        import pyarrow as pa

        table = open_table(self.settings, self._path(grant), version=version)
        assert table is not None
        files = (
            pa.table(table.get_add_actions(flatten=True))
            .select(["path", "size_bytes", "modification_time", "num_records"])
            .to_pylist()
        )
        return [
            {
                "path": f["path"],
                "partitionValues": {},
                "size": f["size_bytes"],
                "modificationTime": f["modification_time"],
                "dataChange": True,
                "stats": json.dumps({"numRecords": f["num_records"]})
                if f["num_records"] is not None
                else None,
                "_rows": f["num_records"] or 0,
            }
            for f in files
        ]

    def query(
        self,
        recipient: str,
        share: str,
        schema: str,
        table: str,
        body: dict[str, Any],
        capabilities: str | None,
        note: AuditNote,
    ) -> tuple[int, str, list[dict[str, Any]]]:
        grant, versions = self._grant(recipient, share, schema, table)
        if body.get("timestamp") is not None:
            raise _bad("time travel by timestamp is not offered; give a published version")
        if body.get("startingVersion") is not None:
            return self._changes(
                grant,
                versions,
                int(body["startingVersion"]),
                body.get("endingVersion"),
                capabilities,
                note,
                query=True,
            )
        asked = body.get("version")
        published = self._version(versions, int(asked) if asked is not None else None)
        fmt = response_format(capabilities, self._needs_delta(grant, published.version))
        expires = int(time.time()) + self.url_ttl
        actions = self._snapshot_actions(grant, published.version)
        lines = self._lines_head(grant, published, fmt, published.version if asked is not None else None)
        for action in actions:
            rows = action.pop("_rows")
            note.rows = (note.rows or 0) + rows
            lines.append(
                self._file_line(
                    grant, fmt, "file", {k: v for k, v in action.items() if v is not None}, expires
                )
            )
        note.version, note.files = published.version, len(actions)
        note.url_expires_at = datetime.fromtimestamp(expires, UTC)
        return published.version, fmt, lines

    # -- change data feed -----------------------------------------------------------------------------

    def _commit(self, grant: Grant, version: int) -> list[dict[str, Any]]:
        data = read_bytes(self.settings, f"{self._path(grant)}/_delta_log/{version:020d}.json")
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def _changes_of(
        self, grant: Grant, versions: list[PublishedVersion], index: int
    ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """The changes a published version made over the previous published one: (timestamp, actions)."""
        version = versions[index].version
        actions = self._commit(grant, version)
        timestamp = next((a["commitInfo"].get("timestamp") for a in actions if "commitInfo" in a), None) or 0
        if index == 0:  # the first published version: all its rows are new to recipients
            return timestamp, [
                ("add", {k: v for k, v in a.items() if k != "_rows" and v is not None})
                for a in self._snapshot_actions(grant, version)
            ]
        previous = versions[index - 1].version
        if version - 1 != previous:
            parent = self._commit(grant, version - 1)
            info = next((a["commitInfo"] for a in parent if "commitInfo" in a), {})
            restored_to = str((info.get("operationParameters") or {}).get("version", ""))
            if info.get("operation") != "RESTORE" or restored_to != str(previous):
                raise _bad(
                    f"the changes between published versions {previous} and {version} are not available; "
                    f"read version {version}"
                )
        cdc = [("cdf", a["cdc"]) for a in actions if "cdc" in a]
        if cdc:
            return timestamp, cdc
        changes = [("add", a["add"]) for a in actions if "add" in a and a["add"].get("dataChange", True)]
        changes += [
            ("remove", a["remove"]) for a in actions if "remove" in a and a["remove"].get("dataChange", True)
        ]
        return timestamp, changes

    def changes(
        self,
        recipient: str,
        share: str,
        schema: str,
        table: str,
        params: dict[str, Any],
        capabilities: str | None,
        note: AuditNote,
    ) -> tuple[int, str, list[dict[str, Any]]]:
        grant, versions = self._grant(recipient, share, schema, table)
        if params.get("startingTimestamp") or params.get("endingTimestamp"):
            raise _bad("timestamps are not offered for the change feed; give startingVersion")
        if params.get("startingVersion") is None:
            raise _bad("startingVersion is required")
        return self._changes(
            grant,
            versions,
            int(params["startingVersion"]),
            params.get("endingVersion"),
            capabilities,
            note,
            query=False,
        )

    def _changes(
        self,
        grant: Grant,
        versions: list[PublishedVersion],
        start: int,
        end: Any,
        capabilities: str | None,
        note: AuditNote,
        *,
        query: bool,
    ) -> tuple[int, str, list[dict[str, Any]]]:
        latest = versions[-1].version
        end_version = latest if end is None else min(int(end), latest)
        if start < 0 or start > latest:
            raise _bad(f"startingVersion {start} is not between 0 and the published version {latest}")
        if end_version < start:
            raise _bad(f"endingVersion {end} is before startingVersion {start}")
        history = sorted({p.version: p for p in versions}.values(), key=lambda p: p.version)
        fmt = response_format(capabilities, self._needs_delta(grant, latest))
        expires = int(time.time()) + self.url_ttl
        lines = self._lines_head(grant, history[-1], fmt, start if fmt == "delta" else None)
        files = 0
        for index, published in enumerate(history):
            if not start <= published.version <= end_version:
                continue
            timestamp, actions = self._changes_of(grant, history, index)
            for kind, action in actions:
                kind = {"add": "add", "cdf": "cdf", "remove": "remove"}[kind]
                if query and fmt == "parquet" and kind == "cdf":
                    continue  # a streaming query reads adds and removes only
                lines.append(self._file_line(grant, fmt, kind, action, expires, published.version, timestamp))
                files += 1
        note.version, note.files = start, files
        note.detail["ending_version"] = end_version
        note.url_expires_at = datetime.fromtimestamp(expires, UTC)
        return start, fmt, lines


# ------------------------------------------------------------------------------------- the app


def create_app(server: SharingServer) -> FastAPI:
    app = FastAPI(title="govlake Delta Sharing", docs_url=None, redoc_url=None, openapi_url=None)

    def error(exc: ApiError) -> Response:
        return JSONResponse({"errorCode": exc.code, "message": exc.message}, status_code=exc.status)

    @app.middleware("http")
    async def audit(request: Request, call_next: Any) -> Response:
        request.state.note = AuditNote()
        response = await call_next(request)
        note: AuditNote = request.state.note
        try:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(
                server.audit.record,
                event="file" if request.url.path.startswith(f"{PREFIX}/files/") else "request",
                recipient=note.recipient,
                token_id=note.token_id,
                method=request.method,
                path=request.url.path,
                share=note.share,
                schema=note.schema,
                table=note.table,
                version=note.version,
                files=note.files,
                rows=note.rows,
                url_expires_at=note.url_expires_at,
                allowed=response.status_code < 400,
                status=response.status_code,
                reason=note.reason,
                client=request.client.host if request.client else None,
                detail={
                    **note.detail,
                    **({"range": request.headers["range"]} if "range" in request.headers else {}),
                },
            )
        except Exception:  # an access that cannot be recorded does not happen
            log.exception("audit row not written; refusing the request")
            return JSONResponse(
                {"errorCode": "INTERNAL_ERROR", "message": "the access could not be recorded"},
                status_code=500,
            )
        return response

    def handle(request: Request, work: Any) -> Response:
        note: AuditNote = request.state.note
        try:
            state = server.authenticate(request.headers.get("authorization"), note)
            return work(state.recipient, note)
        except ApiError as exc:
            note.reason = exc.message
            return error(exc)

    def ndjson(version: int, fmt: str, lines: Iterable[dict[str, Any]]) -> Response:
        body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        return Response(
            body,
            media_type=_NDJSON,
            headers={"Delta-Table-Version": str(version), CAPABILITIES: f"responseformat={fmt}"},
        )

    def params(request: Request) -> tuple[int | None, str | None]:
        raw = request.query_params.get("maxResults")
        try:
            max_results = int(raw) if raw is not None else None
        except ValueError:
            raise _bad("maxResults must be an integer") from None
        return max_results, request.query_params.get("pageToken")

    def listing(request: Request, fn: Any) -> Response:
        def work(recipient: str, note: AuditNote) -> Response:
            max_results, page_token = params(request)
            return JSONResponse(fn(recipient, max_results, page_token))

        return handle(request, work)

    def noted(note: AuditNote, share: str, schema: str | None = None, table: str | None = None) -> None:
        note.share, note.schema, note.table = (
            share.lower(),
            schema.lower() if schema else None,
            table.lower() if table else None,
        )

    @app.get(PREFIX + "/shares")
    def list_shares(request: Request) -> Response:
        return listing(request, server.list_shares)

    @app.get(PREFIX + "/shares/{share}")
    def get_share(request: Request, share: str) -> Response:
        def work(recipient: str, note: AuditNote) -> Response:
            noted(note, share)
            return JSONResponse(server.get_share(recipient, share))

        return handle(request, work)

    @app.get(PREFIX + "/shares/{share}/schemas")
    def list_schemas(request: Request, share: str) -> Response:
        request.state.note.share = share.lower()
        return listing(request, lambda r, m, p: server.list_schemas(r, share, m, p))

    @app.get(PREFIX + "/shares/{share}/schemas/{schema}/tables")
    def list_tables(request: Request, share: str, schema: str) -> Response:
        noted(request.state.note, share, schema)
        return listing(request, lambda r, m, p: server.list_tables(r, share, schema, m, p))

    @app.get(PREFIX + "/shares/{share}/all-tables")
    def list_all_tables(request: Request, share: str) -> Response:
        request.state.note.share = share.lower()
        return listing(request, lambda r, m, p: server.list_tables(r, share, None, m, p))

    base = PREFIX + "/shares/{share}/schemas/{schema}/tables/{table}"

    @app.get(base + "/version")
    def table_version(request: Request, share: str, schema: str, table: str) -> Response:
        def work(recipient: str, note: AuditNote) -> Response:
            noted(note, share, schema, table)
            if request.query_params.get("startingTimestamp"):
                raise _bad(
                    "startingTimestamp is not offered; the current published version is returned without it"
                )
            version = server.table_version(recipient, share, schema, table, note)
            return Response(status_code=200, headers={"Delta-Table-Version": str(version)})

        return handle(request, work)

    @app.get(base + "/metadata")
    def table_metadata(request: Request, share: str, schema: str, table: str) -> Response:
        def work(recipient: str, note: AuditNote) -> Response:
            noted(note, share, schema, table)
            return ndjson(
                *server.metadata(recipient, share, schema, table, request.headers.get(CAPABILITIES), note)
            )

        return handle(request, work)

    @app.post(base + "/query")
    async def table_query(request: Request, share: str, schema: str, table: str) -> Response:
        raw = await request.body()
        from starlette.concurrency import run_in_threadpool

        def work(recipient: str, note: AuditNote) -> Response:
            noted(note, share, schema, table)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise _bad("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise _bad("the request body must be a JSON object")
            note.detail = {
                k: body[k]
                for k in ("version", "startingVersion", "endingVersion", "limitHint")
                if body.get(k) is not None
            }
            return ndjson(
                *server.query(recipient, share, schema, table, body, request.headers.get(CAPABILITIES), note)
            )

        return await run_in_threadpool(handle, request, work)

    @app.get(base + "/changes")
    def table_changes(request: Request, share: str, schema: str, table: str) -> Response:
        def work(recipient: str, note: AuditNote) -> Response:
            noted(note, share, schema, table)
            query = dict(request.query_params)
            return ndjson(
                *server.changes(
                    recipient, share, schema, table, query, request.headers.get(CAPABILITIES), note
                )
            )

        return handle(request, work)

    @app.api_route(PREFIX + "/files/{table_id}/{relative:path}", methods=["GET", "HEAD"])
    def file(request: Request, table_id: str, relative: str) -> Response:
        note: AuditNote = request.state.note
        grant = server.defs.by_table_id().get(table_id)
        note.share, note.schema, note.table = (
            (grant.share, grant.schema, grant.table) if grant else (None, None, None)
        )
        note.recipient = grant.recipient if grant else None
        try:
            expires = int(request.query_params.get("X-Amz-Expires", ""))
        except ValueError:
            expires = 0
        reason = (
            "not a grant table"
            if grant is None
            else "bad path"
            if relative.startswith("/") or ".." in relative.split("/")
            else server.signer.check(
                table_id, relative, expires, request.query_params.get("X-Amz-Signature", "")
            )
        )
        if reason is not None:
            note.reason = reason
            return JSONResponse(
                {"errorCode": "PERMISSION_DENIED", "message": f"file URL refused: {reason}"}, status_code=403
            )
        note.url_expires_at = datetime.fromtimestamp(expires, UTC)
        path = f"{server.catalogue.path(table_id, server.settings)}/{relative}"
        stored = stored_file(server.settings, path)
        if stored is None:  # a valid URL to a file vacuumed since
            note.reason = "no such file"
            return error(_not_found("the file"))
        # No Content-Encoding: the bytes are sent as stored, so the length is the file's size.
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
        try:
            span = byte_range(request.headers.get("range"), stored.size)
        except RangeNotSatisfiable:
            note.reason = "range not satisfiable"
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{stored.size}"})
        first, last = span if span is not None else (0, stored.size - 1)
        length = last - first + 1
        headers["Content-Length"] = str(length)
        status = 200
        if span is not None:
            status, headers["Content-Range"] = 206, f"bytes {first}-{last}/{stored.size}"
        note.detail["bytes"] = length
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type="application/octet-stream")
        return StreamingResponse(
            iter_range(server.settings, path, first, length),
            status_code=status,
            headers=headers,
            media_type="application/octet-stream",
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error(exc)

    return app


def profile(endpoint: str, token: str, expires_at: datetime | None) -> dict[str, Any]:
    """A Delta Sharing profile file's content for one recipient token."""
    body: dict[str, Any] = {
        "shareCredentialsVersion": 1,
        "endpoint": endpoint.rstrip("/") + PREFIX,
        "bearerToken": token,
    }
    if expires_at is not None:
        body["expirationTime"] = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return body
