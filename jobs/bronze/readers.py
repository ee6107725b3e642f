"""Split one extract into records, streaming, exactly as sent: no Spark, memory bounded by a chunk.

Every record of the file comes out once: with its fields mapped to canonical columns, or with a
quarantine reason, its raw text and its byte range in the raw file. A syntax error, an oversized
field, undecodable bytes or a wrong field count quarantine that record and reading goes on.
Whole-file problems (empty, truncated, a required column missing, a header that is not text) are
reported as a file reason; the loader then quarantines every record of that file, so nothing is
half-loaded.

Records leave as Arrow record batches in the *staging schema* (:func:`staging_schema`), handed to a
``sink`` as they are made; a reader holds one chunk (``storage.CHUNK_BYTES``) and one batch.

**What a record is** (CSV; ``jobs.bronze.counting`` counts by the same rules, written separately):

- Physical lines end at LF, CRLF or a lone CR. A line of nothing but spaces and tabs is blank, not
  a record. The first record is the header.
- A record is one line, or several when a quoted field holds line breaks (RFC 4180 quoting, as
  Python's ``csv`` reads it). A record spanning several lines must have the header's field count
  and may span at most ``limits.max_record_lines`` lines and ``limits.max_record_bytes`` bytes;
  otherwise (and when a quote is still open at the end of the file) it is *cut back to its first
  line*, quarantined as UNTERMINATED_QUOTE, and reading resumes at the line after it. So a stray
  quote costs one record, never the rest of the file.
- A line longer than ``max_record_bytes`` is a record by itself (RECORD_TOO_LONG); only its first
  ``max_record_bytes`` are kept as raw text, its byte range says where the rest is.

JSON Lines: every non-blank line is a record. XLSX: every row of every worksheet with at least one
value is a record, the first of each sheet being that sheet's header.

Fast path: a chunk with no quote, NUL, BOM or lone CR that decodes cleanly (nearly every chunk of a
real extract) is split and checked with Arrow compute kernels, not row by row in Python; any other
chunk goes through the line-by-line reader. Both apply the same checks to a record's values
(:func:`_judge`), so a record's fate does not depend on its neighbours. JSON Lines likewise: a block
whose lines are all JSON values is decoded in one call, and a record is taken from it only where
the line-by-line decoder would build the same object and find no fault (:meth:`_JsonReader._fast`).
A block refused by its fast path is halved at a line end until the halves pass, or are small or one
line, and those are read line by line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govlake.registry import Dataset, FileFormat, Limits, Source

# GB18030 is a strict superset of GBK and GB2312: decoding a file declared (or detected) as either
# with GB18030 loses nothing and accepts the rare-character names a GBK table lacks.
_CODEC_ALIASES = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "ascii": "utf-8-sig",
}
#: Records per staged batch from the line-by-line readers (the fast path stages a chunk at a time).
BATCH_ROWS = 50_000
#: Below this many bytes a dirty stretch is read line by line rather than halved again.
_SMALL_BLOCK = 64 * 2**10
_BOM = "\ufeff"
_QUOTE = '"'


class Reason(StrEnum):
    """Why a record (or a whole file) was quarantined. Stable codes: dashboards group by them."""

    # record-level: the record is quarantined, the rest of the file is read
    WRONG_FIELD_COUNT = "WRONG_FIELD_COUNT"
    UNDECODABLE_BYTES = "UNDECODABLE_BYTES"
    NUL_BYTE = "NUL_BYTE"
    UNTERMINATED_QUOTE = "UNTERMINATED_QUOTE"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    RECORD_TOO_LONG = "RECORD_TOO_LONG"
    REPEATED_HEADER = "REPEATED_HEADER"
    BAD_JSON_RECORD = "BAD_JSON_RECORD"
    DUPLICATE_JSON_KEY = "DUPLICATE_JSON_KEY"
    UNEXPECTED_SHEET = "UNEXPECTED_SHEET"
    MISSING_REQUIRED_VALUE = "MISSING_REQUIRED_VALUE"
    UNPARSEABLE_REQUIRED_VALUE = "UNPARSEABLE_REQUIRED_VALUE"
    # file-level: every record of the file carries them
    EMPTY_FILE = "EMPTY_FILE"
    TRUNCATED_FILE = "TRUNCATED_FILE"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    MISSING_REQUIRED_COLUMN = "MISSING_REQUIRED_COLUMN"
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    # file-level limits (registry ``limits``): the file is not loaded at all and stays in raw
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    XLSX_TOO_LARGE = "XLSX_TOO_LARGE"


#: File reasons that refuse a file unread (no record is staged): a limit was exceeded.
LIMIT_REASONS = frozenset({Reason.FILE_TOO_LARGE, Reason.TOO_MANY_ROWS, Reason.XLSX_TOO_LARGE})
# What a damaged workbook raises: zipfile.BadZipFile, zlib.error, XML ParseError (a SyntaxError),
# defusedxml's refusals (ValueError), openpyxl's KeyError for a missing part.
_BAD_WORKBOOK = (OSError, KeyError, ValueError, EOFError, SyntaxError, zlib.error)


class FileRefused(Exception):
    """Reading stopped: the file is over one of its source's limits, or a workbook cannot be read.

    The loader rejects such a file unread: no record is loaded or quarantined, the bytes stay in raw.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail

    def __reduce__(self) -> tuple[type[FileRefused], tuple[Reason, str]]:
        # Sent back from a staging worker process to the loader: pickled with both fields.
        return (FileRefused, (self.reason, self.detail))


# ------------------------------------------------------------------------------ the extract's bytes


class Extract:
    """The bytes of one extract, readable as often as needed: in chunks, or as a seekable file."""

    size: int

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        raise NotImplementedError

    def open(self) -> Any:
        raise NotImplementedError


class BytesExtract(Extract):
    """An extract held in memory (tests, small files)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        for start in range(0, len(self.data), chunk_bytes):
            yield self.data[start : start + chunk_bytes]

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)


class LakeExtract(Extract):
    """A raw object in the lake, streamed through :mod:`govlake.storage`."""

    def __init__(self, settings: Any, path: str) -> None:
        from govlake import storage

        self.settings, self.path = settings, path
        self.size = storage.size_of(settings, path)

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        from govlake import storage

        return storage.iter_chunks(self.settings, self.path, chunk_bytes)

    def open(self) -> Any:
        from govlake import storage

        return storage.open_input(self.settings, self.path)


# ------------------------------------------------------------------------------ encodings


def resolve_codec(declared: str, extract: Extract | bytes) -> str:
    """The Python codec to decode with: the declared one, or a detected one for ``unknown``.

    Detection streams the whole file: a strict UTF-8 decode, then a strict GB18030 one (mainland
    government extracts come as one of the two; a strict decode is decisive on real files, where
    statistical detectors confuse GB18030 with Big5 on short Chinese text). Only when neither
    decodes cleanly does charset_normalizer pick the closer one from the first 200 kB.
    """
    if declared.lower() != "unknown":
        return _CODEC_ALIASES.get(declared.lower(), declared)
    extract = BytesExtract(extract) if isinstance(extract, bytes) else extract
    for codec in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(codec)("strict")
        try:
            for chunk in extract.chunks(2**20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return codec
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    head = b""
    for chunk in extract.chunks(200_000):
        head = chunk
        break
    best = from_bytes(head, cp_isolation=["utf_8", "gb18030"]).best()
    detected = (best.encoding if best else "gb18030").lower().replace("_", "-")
    return _CODEC_ALIASES.get(detected, detected)


def _base_codec(codec: str) -> str:
    # A BOM is stripped from the start of any record (files are concatenated), so decode without
    # the -sig variant, which would strip it only at the start of each decode call.
    return "utf-8" if codec.replace("_", "-").lower() in ("utf-8-sig", "utf8-sig") else codec


def _printable(raw: bytes, codec: str) -> str:
    """Raw bytes as text safe to store: bytes invalid in ``codec`` shown as \\xNN escapes."""
    return raw.decode(codec, "backslashreplace")


# ------------------------------------------------------------------------------ staging schema


#: The staging columns every dataset has, after its own: where a record was and what became of it
#: (all that quarantine keeps).
STAGING_FATE_COLUMNS = pa.schema(
    [
        pa.field("_row_number", pa.int64()),
        pa.field("_raw_text", pa.string()),
        pa.field("_raw_offset", pa.int64()),
        pa.field("_raw_length", pa.int64()),
        pa.field("_reason", pa.string()),
        pa.field("_detail", pa.string()),
    ]
)


def staging_schema(dataset: Dataset) -> pa.Schema:
    """What every reader emits: canonical strings as sent, drift, lineage inside the file, fate."""
    return pa.schema(
        [
            *(pa.field(name, pa.string()) for name in dataset.column_names),
            pa.field("_extra", pa.map_(pa.string(), pa.string())),
            *STAGING_FATE_COLUMNS,
        ]
    )


@dataclass
class ReadResult:
    """What reading taught about the whole file (the records went to the sink)."""

    encoding: str | None
    source_columns: list[str] = field(default_factory=list)
    drift_columns: list[str] = field(default_factory=list)
    rows: int = 0  # records emitted (accepted candidates + quarantined)
    quarantined: int = 0  # of which the reader quarantined
    file_reason: Reason | None = None
    file_detail: str | None = None
    last_reason: Reason | None = None  # the last record's reason (a truncated file ends badly)


Sink = Callable[[pa.RecordBatch], None]


class _Stager:
    """Numbers records, checks them against the limits, and builds staging batches for the sink."""

    def __init__(self, dataset: Dataset, source: Source, sink: Sink, quarantine_sink: Sink) -> None:
        self.dataset, self.source, self.sink, self.quarantine_sink = dataset, source, sink, quarantine_sink
        self.limits: Limits = source.limits
        self.schema = staging_schema(dataset)
        self.next_row = 1
        self.result: ReadResult | None = None
        self.quarantined = 0
        self.last_reason: Reason | None = None

    def take_numbers(self, count: int) -> np.ndarray:
        """Row numbers for the next ``count`` records (1-based, in file order)."""
        first = self.next_row
        self.next_row += count
        if self.next_row - 1 > self.limits.max_rows:
            raise FileRefused(
                Reason.TOO_MANY_ROWS,
                f"more than {self.limits.max_rows:,} records (the source's limits.max_rows)",
            )
        return np.arange(first, first + count, dtype=np.int64)

    @property
    def rows(self) -> int:
        return self.next_row - 1

    def quarantine(
        self,
        numbers: pa.Array | np.ndarray,
        raw_text: pa.Array | list[str],
        offsets: pa.Array | np.ndarray | list[int | None],
        lengths: pa.Array | np.ndarray | list[int | None],
        reasons: pa.Array | list[str],
        details: pa.Array | list[str | None],
    ) -> None:
        n = len(numbers)
        if not n:
            return
        self.quarantined += n
        columns = [pa.nulls(n, pa.string()) for _ in self.dataset.column_names]
        self.quarantine_sink(
            pa.RecordBatch.from_arrays(
                [
                    *columns,
                    pa.nulls(n, self.schema.field("_extra").type),
                    pa.array(numbers, pa.int64()),
                    pa.array(raw_text, pa.string()),
                    pa.array(offsets, pa.int64()),
                    pa.array(lengths, pa.int64()),
                    pa.array(reasons, pa.string()),
                    pa.array(details, pa.string()),
                ],
                schema=self.schema,
            )
        )

    def accepted(
        self,
        canonical: dict[str, pa.Array],
        extra: pa.Array | None,
        numbers: pa.Array | np.ndarray,
        raw_text: pa.Array,
        offsets: pa.Array | np.ndarray | list[int | None],
        lengths: pa.Array | np.ndarray | list[int | None],
    ) -> None:
        """Stage records the reader found sound (Spark still checks their required values)."""
        n = len(numbers)
        if not n:
            return
        columns = []
        for name in self.dataset.column_names:
            if name in canonical:
                columns.append(canonical[name])
            elif name in self.source.constants:
                columns.append(pa.array([self.source.constants[name]] * n, pa.string()))
            else:
                columns.append(pa.nulls(n, pa.string()))
        self.sink(
            pa.RecordBatch.from_arrays(
                [
                    *columns,
                    extra if extra is not None else pa.nulls(n, self.schema.field("_extra").type),
                    pa.array(numbers, pa.int64()),
                    raw_text,
                    pa.array(offsets, pa.int64()),
                    pa.array(lengths, pa.int64()),
                    pa.nulls(n, pa.string()),
                    pa.nulls(n, pa.string()),
                ],
                schema=self.schema,
            )
        )


# ------------------------------------------------------------------------------ positional header


class _Header:
    """One file's header (CSV, XLSX): which source position feeds which canonical column, and drift."""

    def __init__(self, source: Source, dataset: Dataset, names: list[str]) -> None:
        # Names of an undecodable header keep their bad bytes as \\udcNN escapes (storable text).
        self.names = [
            (n or "").strip().lstrip(_BOM).strip().encode("utf-8", "backslashreplace").decode("utf-8")
            for n in names
        ]
        self.width = len(self.names)
        self.canonical: dict[str, int] = {}  # canonical column -> source position
        self.drift: list[tuple[str, int]] = []  # (name kept in _extra, source position)
        self.file_reason: Reason | None = None
        self.file_detail: str | None = None
        seen: dict[str, int] = {}
        for position, name in enumerate(self.names):
            target = source.column_map.get(name) if name else None
            if target is not None:
                if target in self.canonical:
                    first = self.names[self.canonical[target]]
                    self.file_reason = Reason.DUPLICATE_COLUMN
                    self.file_detail = (
                        f"columns {position + 1} ({name}) and {self.canonical[target] + 1} ({first}) both "
                        f"give {target}: which one to keep is not said"
                    )
                    continue
                self.canonical[target] = position
                continue
            # Drift: kept in _extra. A column without a name is named by its position, a repeated
            # name gets #2, #3, ... so that no value is dropped or overwritten.
            kept = name or f"_column_{position + 1}"
            seen[kept] = seen.get(kept, 0) + 1
            if seen[kept] > 1:
                kept = f"{kept}#{seen[kept]}"
            self.drift.append((kept, position))
        constants = {c for c in source.constants if c not in self.canonical}
        present = set(self.canonical) | constants
        missing = [c for c in dataset.required_columns if c not in present]
        if missing and self.file_reason is None:
            expected = ", ".join(f"{source.canonical_to_source.get(c, c)} ({c})" for c in missing)
            self.file_reason = Reason.MISSING_REQUIRED_COLUMN
            self.file_detail = f"required column(s) missing from the header: {expected}"

    @property
    def drift_names(self) -> list[str]:
        return [name for name, _ in self.drift]


def _numpy_mask(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array (no nulls) as numpy, without pyarrow's pandas-based conversion."""
    return pc.cast(mask, pa.uint8()).to_numpy() == 1


def _nullif_empty(values: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _map_of(names: list[str], columns: list[pa.Array], n: int) -> pa.Array | None:
    """A map<string,string> array, row i = {names[j]: columns[j][i]} (row-major interleave)."""
    k = len(names)
    if not k:
        return None
    keys = pa.array(names, pa.string()).take(pa.array(np.tile(np.arange(k, dtype=np.int64), n)))
    stacked = pa.concat_arrays([c.cast(pa.string()) for c in columns])
    items = stacked.take(pa.array(np.arange(k * n, dtype=np.int64).reshape(k, n).T.ravel()))
    offsets = pa.array(np.arange(0, k * n + 1, k, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, keys, items)


def _judge(
    stager: _Stager,
    header: _Header,
    values: list[pa.Array],
    numbers: np.ndarray,
    raw_text: pa.Array,
    offsets: np.ndarray | list[int | None],
    lengths: np.ndarray | list[int | None],
) -> None:
    """Check records with the header's field count (values per source position) and stage them.

    The same checks for both the fast path and the line-by-line readers: a field over the length
    limit (FIELD_TOO_LONG), a record repeating the header (REPEATED_HEADER: files concatenated).
    """
    n = len(numbers)
    if not n:
        return
    limit = stager.limits.max_field_length
    reason = pa.nulls(n, pa.string())
    detail = pa.nulls(n, pa.string())
    trimmed = [_nullif_empty(v) for v in values]
    for position, column in enumerate(values):
        length = pc.utf8_length(column)
        over = pc.fill_null(pc.greater(length, limit), False)
        if not pc.any(over).as_py():
            continue
        name = header.names[position] or f"column {position + 1}"
        text = pc.binary_join_element_wise(
            f"field {name}: ", pc.cast(length, pa.string()), f" characters, over the limit of {limit:,}", ""
        )
        reason = pc.if_else(pc.and_(over, pc.is_null(reason)), Reason.FIELD_TOO_LONG.value, reason)
        detail = pc.if_else(pc.and_(over, pc.is_null(detail)), text, detail)
    if header.width and any(header.names):
        repeated = pa.array(np.ones(n, dtype=bool))
        for column, name in zip(trimmed, header.names, strict=True):
            same = pc.equal(column, name) if name else pc.is_null(column)
            repeated = pc.and_(repeated, pc.fill_null(same, False))
        if pc.any(repeated).as_py():
            reason = pc.if_else(pc.and_(repeated, pc.is_null(reason)), Reason.REPEATED_HEADER.value, reason)
            detail = pc.if_else(
                pc.and_(repeated, pc.is_null(detail)), "the header again (files joined together?)", detail
            )
    offsets_arr, lengths_arr = pa.array(offsets, pa.int64()), pa.array(lengths, pa.int64())
    numbers_arr = pa.array(numbers, pa.int64())
    bad = pc.is_valid(reason)
    if pc.any(bad).as_py():
        stager.quarantine(
            numbers_arr.filter(bad),
            raw_text.filter(bad),
            offsets_arr.filter(bad),
            lengths_arr.filter(bad),
            reason.filter(bad),
            detail.filter(bad),
        )
        good = pc.invert(bad)
        trimmed = [c.filter(good) for c in trimmed]
        numbers_arr, raw_text = numbers_arr.filter(good), raw_text.filter(good)
        offsets_arr, lengths_arr = offsets_arr.filter(good), lengths_arr.filter(good)
    n_good = len(numbers_arr)
    canonical = {name: trimmed[position] for name, position in header.canonical.items()}
    extra = _map_of(header.drift_names, [trimmed[p] for _, p in header.drift], n_good)
    stager.accepted(canonical, extra, numbers_arr, raw_text, offsets_arr, lengths_arr)


# ------------------------------------------------------------------------------ physical lines


@dataclass
class _Long:
    """A physical line over ``max_record_bytes``: only its head is kept."""

    offset: int
    head: bytes
    length: int
    terminated: bool


def _line_end_before(buffer: bytes | bytearray, end: int) -> int:
    """Index just past the last line end in ``buffer[:end]`` (0 if none)."""
    return max(buffer.rfind(b"\n", 0, end), buffer.rfind(b"\r", 0, end)) + 1


def _blocks(chunks: Iterable[bytes], max_record_bytes: int) -> Iterator[tuple[int, bytes] | _Long]:
    """The extract as blocks of whole physical lines (with their byte offset), or :class:`_Long` lines.

    Every line inside a block is at most ``max_record_bytes`` long (the chunks read are no longer
    than that, so only a block's first line can grow past it, and that one is checked).
    """
    buffer = b""
    offset = 0  # of buffer[0] in the file
    skipping: _Long | None = None  # inside a long line: its head is kept, the rest only counted
    for chunk in chunks:
        if skipping is not None:
            end = _first_line_end(chunk)
            if end < 0:
                skipping.length += len(chunk)
                continue
            end = _through_crlf(chunk, end)
            skipping.length += end
            skipping.terminated = True
            offset = skipping.offset + skipping.length
            yield skipping
            skipping, buffer = None, chunk[end:]
            if not buffer:
                continue
            chunk, buffer = buffer, b""
        carried = len(buffer)
        buffer = buffer + chunk if buffer else chunk
        # The carried part holds no line end, except perhaps a final CR kept back for a CRLF.
        first_end = _first_line_end(buffer, max(carried - 1, 0))
        if first_end > max_record_bytes or (first_end < 0 and len(buffer) > max_record_bytes):
            if first_end < 0:
                skipping = _Long(offset, buffer[:max_record_bytes], len(buffer), False)
                buffer = b""
                continue
            first_end = _through_crlf(buffer, first_end)
            yield _Long(offset, buffer[:max_record_bytes], first_end, True)
            offset += first_end
            buffer = buffer[first_end:]
        # A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
        cut = _line_end_before(buffer, len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer))
        if cut:
            yield offset, buffer[:cut]
            offset += cut
            buffer = buffer[cut:]
    if skipping is not None:
        yield skipping
    elif buffer:
        yield offset, buffer


def _first_line_end(data: bytes, start: int = 0) -> int:
    """Index of the first LF or CR at or after ``start``; -1 if none."""
    lf, cr = data.find(b"\n", start), data.find(b"\r", start)
    if lf < 0 or cr < 0:
        return max(lf, cr)
    return min(lf, cr)


def _through_crlf(data: bytes, end: int) -> int:
    """Index just past the line end at ``end`` (a CRLF counts as one)."""
    if data[end : end + 2] == b"\r\n":
        return end + 2
    return end + 1


def _halve(block: bytes) -> int:
    """Where to cut ``block`` in two at a line end, near its middle; 0 when it is one line.

    Never at either end: a single long line (a huge quoted field, say) would otherwise be "cut"
    into itself and the empty block, forever.
    """
    cut = _line_end_before(block, len(block) // 2)
    if not cut:
        end = _first_line_end(block)
        cut = _through_crlf(block, end) if end >= 0 else 0
    return cut if cut < len(block) else 0


def _lines(block: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    for line in block.splitlines(keepends=True):
        yield offset, line
        offset += len(line)


def _is_blank(text: str) -> bool:
    return not text.strip(" \t\r\n")


def _body(text: str) -> str:
    """A line without its line end."""
    return text.rstrip("\r\n")


# ------------------------------------------------------------------------------ CSV


@dataclass
class _Line:
    offset: int
    raw: bytes
    text: str
    undecodable: bool


class _Incomplete(Exception):
    """The csv module asked for another line: a quoted field is still open."""


def _csv_values(texts: list[str], delimiter: str) -> list[str] | None:
    """The record's values if ``texts`` (lines with their line ends) make one record, else None."""

    def feed() -> Iterator[str]:
        yield from texts
        raise _Incomplete

    try:
        return next(csv.reader(feed(), delimiter=delimiter))
    except _Incomplete:
        return None
    except StopIteration:  # pragma: no cover - blank lines never reach here
        return []


class _CsvReader:
    """The CSV reader: the fast path for clean chunks, the line-by-line path for everything else."""

    def __init__(self, source: Source, dataset: Dataset, codec: str, stager: _Stager) -> None:
        self.source, self.dataset, self.stager = source, dataset, stager
        self.codec, self.decode_codec = codec, _base_codec(codec)
        self.delimiter = source.delimiter or ","
        self.limits = source.limits
        self.header: _Header | None = None
        self.pending: list[_Line] = []  # lines of a record whose quoted field is still open
        self.queue: deque[_Line] = deque()  # lines to read again after a record was cut back
        # line-by-line records waiting to be staged
        self.rows: list[list[str]] = []
        self.rows_meta: list[tuple[str, int, int]] = []  # raw text, offset, length
        self.bad: list[tuple[str, int | None, int, str, str]] = []  # raw, offset, length, reason, detail
        self.ended_with_newline = True
        self.unicode_is_utf8 = self.decode_codec.lower().replace("_", "-") in ("utf-8", "utf8")
        csv.field_size_limit(max(csv.field_size_limit(), self.limits.max_record_bytes * 4))

    # -------------------------------------------------------------- driving

    def read(self, extract: Extract) -> None:
        chunk_bytes = min(8 * 2**20, self.limits.max_record_bytes)
        for item in _blocks(extract.chunks(chunk_bytes), self.limits.max_record_bytes):
            if isinstance(item, _Long):
                self._long(item)
                self.ended_with_newline = item.terminated
                continue
            offset, block = item
            self.ended_with_newline = block.endswith((b"\n", b"\r"))
            self._process(block, offset)
            if len(self.rows) + len(self.bad) >= BATCH_ROWS:
                self._flush_lines()
        self._finish()
        self._flush_lines()

    def _process(self, block: bytes, offset: int) -> None:
        """Read a block of whole lines: clean stretches on the fast path, the rest line by line.

        A dirty block is halved (at a line end) until the halves are clean or small, so one odd
        line costs a small stretch of line-by-line reading, not its whole chunk.
        """
        pos = 0
        while pos < len(block):
            if self.header is None or self.pending:
                end = _first_line_end(block, pos)
                end = len(block) if end < 0 else _through_crlf(block, end)
                self._line(offset + pos, block[pos:end])
                self._drain()
                pos = end
                continue
            rest = block[pos:] if pos else block
            self._flush_lines()  # records are numbered in file order
            if self._fast(rest, offset + pos):
                return
            mid = _halve(rest)
            if len(rest) <= _SMALL_BLOCK or not mid:
                for line_offset, raw in _lines(rest, offset + pos):
                    self._line(line_offset, raw)
                    self._drain()
                return
            self._process(rest[:mid], offset + pos)
            pos += mid

    def _drain(self) -> None:
        while self.queue:
            line = self.queue.popleft()
            self._take(line)

    def _finish(self) -> None:
        """End of file: a record still open was never closed."""
        while self.pending:
            self._cut()
            self._drain()

    # -------------------------------------------------------------- the fast path

    def _fast(self, block: bytes, offset: int) -> bool:
        """Split and check a clean block with Arrow kernels; False when the block is not clean."""
        if b'"' in block or b"\x00" in block or block.count(b"\r") != block.count(b"\r\n"):
            return False
        try:
            if self.unicode_is_utf8:
                if b"\xef\xbb\xbf" in block:
                    return False
                text = pa.array([block], pa.binary()).cast(pa.string())  # validates the UTF-8
            else:
                decoded = block.decode(self.decode_codec)
                if _BOM in decoded:
                    return False
                text = pa.array([decoded.encode("utf-8")], pa.binary()).view(pa.string())
        except (UnicodeDecodeError, pa.ArrowInvalid):
            return False
        assert self.header is not None
        lines = pc.list_flatten(pc.split_pattern(text, "\n"))
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
        starts = np.concatenate(([0], ends + 1))
        if block.endswith(b"\n"):
            lines = lines.slice(0, len(lines) - 1)
            starts = starts[:-1]
        stops = np.concatenate((ends + 1, [len(block)]))[: len(starts)]
        lines = pc.ascii_rtrim(lines, "\r")
        keep = pc.invert(pc.match_substring_regex(lines, r"^[ \t]*$"))
        keep_np = _numpy_mask(keep)
        lines = lines.filter(keep)
        starts, stops = starts[keep_np], stops[keep_np]
        n = len(lines)
        if not n:
            return True
        numbers = self.stager.take_numbers(n)
        offsets, lengths = starts + offset, stops - starts
        fields = pc.split_pattern(lines, self.delimiter)
        counts = pc.list_value_length(fields)
        right = pc.equal(counts, self.header.width)
        right_np = _numpy_mask(right)
        if not right_np.all():
            wrong = pc.invert(right)
            wrong_np = ~right_np
            self.stager.quarantine(
                numbers[wrong_np],
                lines.filter(wrong),
                offsets[wrong_np],
                lengths[wrong_np],
                pa.array([Reason.WRONG_FIELD_COUNT.value] * int(wrong_np.sum()), pa.string()),
                pc.binary_join_element_wise(
                    pc.cast(counts.filter(wrong), pa.string()), f" fields, header has {self.header.width}", ""
                ),
            )
            fields, lines = fields.filter(right), lines.filter(right)
            numbers, offsets, lengths = numbers[right_np], offsets[right_np], lengths[right_np]
        values = [pc.list_element(fields, p) for p in range(self.header.width)]
        _judge(self.stager, self.header, values, numbers, lines, offsets, lengths)
        self.stager.last_reason = None if right_np[-1] else Reason.WRONG_FIELD_COUNT
        return True

    # -------------------------------------------------------------- line by line

    def _line(self, offset: int, raw: bytes) -> None:
        try:
            text, undecodable = raw.decode(self.decode_codec), False
        except UnicodeDecodeError:
            text, undecodable = raw.decode(self.decode_codec, "surrogateescape"), True
        self._take(_Line(offset, raw, text, undecodable))

    def _take(self, line: _Line) -> None:
        if not self.pending:
            if _is_blank(line.text):
                return
            if _QUOTE not in line.text:
                self._record([line], _body(line.text).lstrip(_BOM).split(self.delimiter))
                return
        self.pending.append(line)
        self._settle()

    def _settle(self) -> None:
        """Decide the pending record: complete, cut back, or wait for its next line."""
        texts = [line.text for line in self.pending]
        texts[0] = texts[0].lstrip(_BOM)
        values = _csv_values(texts, self.delimiter)
        if values is not None:
            if len(self.pending) == 1 or self.header is None or len(values) == self.header.width:
                lines, self.pending = self.pending, []
                self._record(lines, values)
            else:
                self._cut()
            return
        size = sum(len(line.raw) for line in self.pending)
        if len(self.pending) >= self.limits.max_record_lines or size > self.limits.max_record_bytes:
            self._cut()

    def _cut(self) -> None:
        """The pending record is no record: its first line alone is, the others are read again."""
        first, *rest = self.pending
        self.pending = []
        self.queue.extendleft(reversed(rest))
        if self.header is None:  # a header with an open quote: its first line is the header
            self._set_header([first], next(csv.reader([first.text.lstrip(_BOM)], delimiter=self.delimiter)))
            return
        self._quarantine_lines(
            [first],
            Reason.UNTERMINATED_QUOTE,
            "a quoted field opened on this line is not closed within "
            f"{self.limits.max_record_lines} lines as a record of {self._width_text()} fields; "
            "the next line is read as a new record",
        )

    def _width_text(self) -> str:
        return str(self.header.width) if self.header else "the header's"

    def _long(self, item: _Long) -> None:
        while self.pending:  # a line too long for any record ends an open one
            self._cut()
            self._drain()
        if self.header is None:
            self.header = _Header(self.source, self.dataset, [])
            self.header.file_reason = Reason.UNREADABLE_FILE
            self.header.file_detail = f"the first line is over {self.limits.max_record_bytes:,} bytes long"
        self._flush_lines()
        self.stager.quarantine(
            self.stager.take_numbers(1),
            [_printable(item.head, self.decode_codec)],
            [item.offset],
            [item.length],
            [Reason.RECORD_TOO_LONG.value],
            [
                f"a line of {item.length:,} bytes, over the limit of {self.limits.max_record_bytes:,} "
                f"(limits.max_record_bytes); raw_text holds its first {len(item.head):,} bytes"
            ],
        )
        self.stager.last_reason = Reason.RECORD_TOO_LONG

    def _record(self, lines: list[_Line], values: list[str]) -> None:
        if self.header is None:
            self._set_header(lines, values)
            return
        if any(line.undecodable for line in lines):
            self._quarantine_lines(lines, Reason.UNDECODABLE_BYTES, f"bytes not valid in {self.codec}")
        elif any("\x00" in line.text for line in lines):
            self._quarantine_lines(lines, Reason.NUL_BYTE, "a NUL byte (binary data, or a UTF-16 file?)")
        elif len(values) != self.header.width:
            self._quarantine_lines(
                lines, Reason.WRONG_FIELD_COUNT, f"{len(values)} fields, header has {self.header.width}"
            )
        else:
            first, last = lines[0], lines[-1]
            raw = "".join(line.text for line in lines)
            self.rows.append(values)
            self.rows_meta.append((_body(raw), first.offset, last.offset + len(last.raw) - first.offset))
            self.stager.last_reason = None

    def _set_header(self, lines: list[_Line], values: list[str]) -> None:
        self.header = _Header(self.source, self.dataset, values)
        if any(line.undecodable or "\x00" in line.text for line in lines):
            self.header.file_reason = Reason.UNREADABLE_FILE
            self.header.file_detail = f"the header is not text in {self.codec} (binary data?)"

    def _quarantine_lines(self, lines: list[_Line], reason: Reason, detail: str) -> None:
        raw = b"".join(line.raw for line in lines)
        body = raw.rstrip(b"\r\n")
        self.bad.append(
            (_printable(body, self.decode_codec), lines[0].offset, len(raw), reason.value, detail)
        )
        self.stager.last_reason = reason

    # -------------------------------------------------------------- staging line-by-line records

    def _flush_lines(self) -> None:
        """Stage the line-by-line records gathered so far, numbered in file order."""
        if not self.rows and not self.bad:
            return
        assert self.header is not None
        # Interleave good and bad records by offset so row numbers follow the file.
        good = [(meta[1], i, True) for i, meta in enumerate(self.rows_meta)]
        bad = [(entry[1] or 0, i, False) for i, entry in enumerate(self.bad)]
        order = sorted(good + bad)
        numbers = self.stager.take_numbers(len(order))
        good_numbers = np.array([n for n, (_, _, ok) in zip(numbers, order, strict=True) if ok], np.int64)
        bad_numbers = np.array([n for n, (_, _, ok) in zip(numbers, order, strict=True) if not ok], np.int64)
        if self.bad:
            raw, offsets, lengths, reasons, details = (list(c) for c in zip(*self.bad, strict=True))
            self.stager.quarantine(bad_numbers, raw, offsets, lengths, reasons, details)
        if self.rows:
            width = self.header.width
            columns = [pa.array(c, pa.string()) for c in zip(*self.rows, strict=True)] if width else []
            raw_text, offsets, lengths = (list(c) for c in zip(*self.rows_meta, strict=True))
            _judge(
                self.stager,
                self.header,
                columns,
                good_numbers,
                pa.array(raw_text, pa.string()),
                offsets,
                lengths,
            )
        self.rows, self.rows_meta, self.bad = [], [], []


# ------------------------------------------------------------------------------ JSON Lines


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


#: One decoder for every record: ``json.loads`` with a hook builds a new one per call (measured on
#: a 418,622-line extract: 0.6 s of 5.3 s).
_JSON_OBJECTS = json.JSONDecoder(object_pairs_hook=_pairs)
#: A block of records decoded as one JSON array, in one call: msgspec, which builds the same
#: Python values as ``json`` (it refuses NaN, lone surrogates and over-long numbers, which then
#: go line by line) several times faster. Which records it may vouch for: ``_JsonReader._fast``.
_JSON_BLOCK = msgspec.json.Decoder()


def _json_text(value: Any) -> str | None:
    """A JSON value as bronze text: strings as they are, nested objects and arrays as JSON."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _has_lone_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _JsonReader:
    def __init__(self, source: Source, dataset: Dataset, codec: str, stager: _Stager) -> None:
        self.source, self.dataset, self.stager = source, dataset, stager
        self.codec, self.decode_codec = codec, _base_codec(codec)
        self.limits = source.limits
        self.keys: dict[str, None] = {}  # every key seen, in order of first appearance
        self.mapped = source.column_map
        self.mapped_keys = frozenset(source.column_map)
        self.sources_of: dict[str, list[str]] = {}  # canonical column -> source keys, in registry order
        for key, canonical in source.column_map.items():
            self.sources_of.setdefault(canonical, []).append(key)
        self.objects: list[dict[str, Any]] = []
        self.meta: list[tuple[str, int, int]] = []  # raw text, offset, length
        self.bad: list[tuple[int, str, int, int, str, str]] = []  # seq, raw, offset, length, reason, detail
        self.ended_with_newline = True
        self.seq = 0

    def read(self, extract: Extract) -> None:
        chunk_bytes = min(8 * 2**20, self.limits.max_record_bytes)
        for item in _blocks(extract.chunks(chunk_bytes), self.limits.max_record_bytes):
            if isinstance(item, _Long):
                self.ended_with_newline = item.terminated
                self._bad(
                    _printable(item.head, self.decode_codec),
                    item.offset,
                    item.length,
                    Reason.RECORD_TOO_LONG,
                    f"a line of {item.length:,} bytes, over the limit of {self.limits.max_record_bytes:,} "
                    f"(limits.max_record_bytes); raw_text holds its first {len(item.head):,} bytes",
                )
                continue
            offset, block = item
            self.ended_with_newline = block.endswith((b"\n", b"\r"))
            self._process(block, offset)
            if len(self.objects) + len(self.bad) >= BATCH_ROWS:
                self._flush()
        self._flush()

    def _process(self, block: bytes, offset: int) -> None:
        """Read a block of whole lines: in one decoder call when every line in it is a JSON value,
        else halved (at a line end) until the halves are, or are small or one line: those are read
        line by line."""
        if self._fast(block, offset):
            return
        mid = _halve(block)
        if len(block) <= _SMALL_BLOCK or not mid:
            for line_offset, raw in _lines(block, offset):
                self._line(line_offset, raw)
            return
        self._process(block[:mid], offset)
        self._process(block[mid:], offset + mid)

    def _fast(self, block: bytes, offset: int) -> bool:
        """Decode the block's records as one JSON array; False when a line is not one JSON value.

        A record is taken from that array only where the line-by-line path (:meth:`_line`) could
        find no fault and would build the same object: a flat object (no nested object or array:
        their text is re-encoded), within the field length, no backslash and no BOM. Without a
        backslash every quote delimits a string, so a key written twice shows as more quotes than
        the object's keys and string values account for. Any other record is read by
        :meth:`_line`, in its place.
        """
        if b"\x00" in block:
            return False
        start, codec = offset, self.decode_codec
        meta: list[tuple[str, int, int]] = []  # body, offset, length of each non-blank line
        try:
            for raw in block.splitlines(keepends=True):
                body = _body(raw.decode(codec))
                if not _is_blank(body):
                    meta.append((body, offset, len(raw)))
                offset += len(raw)
        except UnicodeDecodeError:
            return False
        try:
            values = _JSON_BLOCK.decode("[" + ",".join([m[0] for m in meta]) + "]")
        except (msgspec.DecodeError, RecursionError):
            return False
        # Every line gives at least one value (an empty one is a syntax error), so as many values
        # as lines means one each: a line "1, 2" cannot shift the others.
        if len(values) != len(meta):
            return False
        limit = self.limits.max_field_length
        for entry, obj in zip(meta, values, strict=True):
            body = entry[0]
            if obj.__class__ is dict and len(body) <= limit and "\\" not in body and _BOM not in body:
                strings = 0
                for value in obj.values():
                    kind = value.__class__
                    if kind is str:
                        strings += 1
                    elif kind is dict or kind is list:
                        break
                else:
                    if body.count('"') == 2 * (len(obj) + strings):
                        self._take(obj, *entry)
                        continue
            at = entry[1] - start
            self._line(entry[1], block[at : at + entry[2]])
        return True

    def _bad(self, raw: str, offset: int, length: int, reason: Reason, detail: str) -> None:
        self.bad.append((self.seq, raw, offset, length, reason.value, detail))
        self.seq += 1
        self.stager.last_reason = reason

    def _line(self, offset: int, raw: bytes) -> None:
        try:
            text = raw.decode(self.decode_codec)
        except UnicodeDecodeError:
            if raw.strip(b" \t\r\n"):
                body = _printable(raw.rstrip(b"\r\n"), self.decode_codec)
                self._bad(
                    body, offset, len(raw), Reason.UNDECODABLE_BYTES, f"bytes not valid in {self.codec}"
                )
            return
        body = _body(text)
        if _is_blank(body):
            return
        if "\x00" in body:
            self._bad(
                body.replace("\x00", "\\x00"), offset, len(raw), Reason.NUL_BYTE, "a NUL byte in the record"
            )
            return
        try:
            obj = _JSON_OBJECTS.decode(body.lstrip(_BOM))
        except _DuplicateKey as exc:
            self._bad(body, offset, len(raw), Reason.DUPLICATE_JSON_KEY, f"key {exc} appears twice")
            return
        except json.JSONDecodeError as exc:
            self._bad(
                body,
                offset,
                len(raw),
                Reason.BAD_JSON_RECORD,
                f"invalid JSON: {exc.msg} at column {exc.colno}",
            )
            return
        except ValueError as exc:  # a number of more than sys.get_int_max_str_digits() digits
            self._bad(body, offset, len(raw), Reason.BAD_JSON_RECORD, f"invalid JSON: {exc}")
            return
        except RecursionError:
            self._bad(body, offset, len(raw), Reason.BAD_JSON_RECORD, "invalid JSON: nested too deep")
            return
        if not isinstance(obj, dict):
            self._bad(body, offset, len(raw), Reason.BAD_JSON_RECORD, "not a JSON object")
            return
        if "\\u" in body and _has_lone_surrogate(obj):  # "\ud800": no character, no UTF-8 for it
            self._bad(
                body,
                offset,
                len(raw),
                Reason.BAD_JSON_RECORD,
                "invalid JSON: an escaped lone surrogate (\\ud800-\\udfff) is not a character",
            )
            return
        # A value's text is never longer than the record's, so only long records are looked at.
        if len(body) > self.limits.max_field_length:
            limit = self.limits.max_field_length
            for key, value in obj.items():
                text_value = _json_text(value)
                if text_value is not None and len(text_value) > limit:
                    self._bad(
                        body,
                        offset,
                        len(raw),
                        Reason.FIELD_TOO_LONG,
                        f"field {key}: {len(text_value)} characters, over the limit of {limit:,}",
                    )
                    return
        self._take(obj, body, offset, len(raw))

    def _take(self, obj: dict[str, Any], body: str, offset: int, length: int) -> None:
        if not obj.keys() <= self.keys.keys():
            for key in obj:
                self.keys.setdefault(key, None)
        self.objects.append(obj)
        self.meta.append((body, offset, length))
        self.seq += 1
        self.stager.last_reason = None

    def _flush(self) -> None:
        if not self.objects and not self.bad:
            return
        total = len(self.objects) + len(self.bad)
        numbers = self.stager.take_numbers(total)
        first_seq = self.seq - total
        is_bad = np.zeros(total, dtype=bool)
        is_bad[[entry[0] - first_seq for entry in self.bad]] = True
        if self.bad:
            _, raw, offsets, lengths, reasons, details = (list(c) for c in zip(*self.bad, strict=True))
            self.stager.quarantine(numbers[is_bad], raw, offsets, lengths, reasons, details)
        objects = self.objects
        if objects:
            canonical: dict[str, pa.Array] = {}
            for name, keys in self.sources_of.items():
                first = keys[0]
                # Most values are strings already: only the others go through _json_text.
                column = [v if (v := o.get(first)).__class__ is str else _json_text(v) for o in objects]
                for key in keys[1:]:  # several source keys for one column: the first one present
                    column = [
                        v if v is not None else _json_text(o.get(key))
                        for v, o in zip(column, objects, strict=True)
                    ]
                canonical[name] = _nullif_empty(pa.array(column, pa.string()))
            mapped = self.mapped_keys
            extras = [
                [(k, _json_text(v)) for k, v in o.items() if k not in mapped] if o.keys() - mapped else None
                for o in objects
            ]
            extra = pa.array(extras, pa.map_(pa.string(), pa.string()))
            if extra.null_count < len(extra):
                extra = pa.MapArray.from_arrays(
                    extra.offsets, extra.keys, _nullif_empty(extra.items), mask=extra.is_null()
                )
            body, offsets, lengths = (list(c) for c in zip(*self.meta, strict=True))
            self.stager.accepted(
                canonical, extra, numbers[~is_bad], pa.array(body, pa.string()), offsets, lengths
            )
        self.objects, self.meta, self.bad = [], [], []


# ------------------------------------------------------------------------------ XLSX


def _cell_text(value: object) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")  # Excel stores dates as dates: ISO is the canonical text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_decompressed_size(extract: Extract) -> int:
    """Bytes the workbook's parts take uncompressed, by the zip directory.

    Python's zipfile never inflates a member past the size its directory declares (it stops there
    and fails the CRC check), so a forged directory cannot smuggle a bigger part past this check.
    """
    import zipfile

    with extract.open() as handle, zipfile.ZipFile(handle) as archive:
        return sum(info.file_size for info in archive.infolist())


def _read_xlsx(
    extract: Extract, source: Source, dataset: Dataset, stager: _Stager, result: ReadResult
) -> None:
    """Every worksheet's rows, streamed (openpyxl read-only, defusedxml, dimensions ignored).

    Sheets whose header equals the first sheet's continue it (extracts split at Excel's row limit);
    rows of any other sheet are quarantined as UNEXPECTED_SHEET. Cells are read as Excel stores
    them: a formula's cached value, a merged range's value in its top-left cell only, a date-formatted
    number as an ISO date.
    """
    import zipfile

    import openpyxl
    from openpyxl import load_workbook

    if not openpyxl.DEFUSEDXML:  # pragma: no cover - a dependency of the project
        raise RuntimeError("defusedxml is required to read workbooks safely (pip install defusedxml)")
    limits = source.limits
    try:
        size = xlsx_decompressed_size(extract)
    except (zipfile.BadZipFile, *_BAD_WORKBOOK) as exc:
        raise FileRefused(Reason.UNREADABLE_FILE, f"not a readable XLSX workbook: {exc}") from exc
    if size > limits.max_xlsx_decompressed_bytes:
        raise FileRefused(
            Reason.XLSX_TOO_LARGE,
            f"the workbook inflates to {size:,} bytes, over limits.max_xlsx_decompressed_bytes "
            f"({limits.max_xlsx_decompressed_bytes:,}): a zip bomb, or an extract to send as CSV",
        )
    handle = extract.open()
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, *_BAD_WORKBOOK) as exc:
        handle.close()
        raise FileRefused(Reason.UNREADABLE_FILE, f"not a readable XLSX workbook: {exc}") from exc
    header: _Header | None = None
    rows: list[list[str | None]] = []
    bad: list[tuple[int, str, str, str]] = []  # seq, raw, reason, detail
    seq = 0

    def flush() -> None:
        nonlocal rows, bad
        total = len(rows) + len(bad)
        if not total:
            return
        numbers = stager.take_numbers(total)
        bad_seq = {b[0] for b in bad}
        first = seq - total
        is_bad = np.array([first + i in bad_seq for i in range(total)], dtype=bool)
        if bad:
            _, raw, reasons, details = (list(c) for c in zip(*bad, strict=True))
            stager.quarantine(numbers[is_bad], raw, [None] * len(bad), [None] * len(bad), reasons, details)
        if rows:
            assert header is not None
            columns = [pa.array(c, pa.string()) for c in zip(*rows, strict=True)] if header.width else []
            raw_text = pa.array(["\t".join(v or "" for v in r).rstrip("\t") for r in rows], pa.string())
            none = [None] * len(rows)
            _judge(stager, header, columns, numbers[~is_bad], raw_text, none, none)
        rows, bad = [], []

    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # a stale <dimension> would make openpyxl stop early
            sheet_header: list[str] | None = None
            continues = False
            for cells in sheet.iter_rows(values_only=True):
                if all(v is None for v in cells):
                    continue
                values = [_cell_text(v) for v in cells]
                if sheet_header is None:
                    sheet_header = [v or "" for v in values]
                    while sheet_header and not sheet_header[-1]:
                        sheet_header.pop()
                    if header is None:
                        header = _Header(source, dataset, sheet_header)
                        result.source_columns = header.names
                        continues = True
                    else:
                        continues = [h.strip() for h in sheet_header] == header.names
                    continue
                assert header is not None
                raw = "\t".join(v or "" for v in values).rstrip("\t")
                if not continues:
                    bad.append(
                        (
                            seq,
                            raw,
                            Reason.UNEXPECTED_SHEET.value,
                            f"sheet {sheet.title!r}: its header "
                            f"{sheet_header[:5]}... is not the first sheet's",
                        )
                    )
                    stager.last_reason = Reason.UNEXPECTED_SHEET
                elif any(v not in (None, "") for v in values[header.width :]):
                    bad.append(
                        (
                            seq,
                            raw,
                            Reason.WRONG_FIELD_COUNT.value,
                            f"cells beyond the header's {header.width} columns",
                        )
                    )
                    stager.last_reason = Reason.WRONG_FIELD_COUNT
                else:
                    rows.append((values + [None] * header.width)[: header.width])
                    stager.last_reason = None
                seq += 1
                if len(rows) + len(bad) >= BATCH_ROWS:
                    flush()
        flush()
    except (zipfile.BadZipFile, *_BAD_WORKBOOK) as exc:  # e.g. a part inflating past its declared size
        raise FileRefused(Reason.UNREADABLE_FILE, f"the workbook cannot be read to its end: {exc}") from exc
    finally:
        workbook.close()
        handle.close()
    if header is None:
        result.file_reason, result.file_detail = Reason.EMPTY_FILE, "no sheet has a row with a value"
        return
    result.source_columns = header.names
    result.drift_columns = header.drift_names
    if header.file_reason is not None:
        result.file_reason, result.file_detail = header.file_reason, header.file_detail


# ------------------------------------------------------------------------------ the entry point


def read_extract(
    extract: Extract, source: Source, dataset: Dataset, sink: Sink, quarantine_sink: Sink | None = None
) -> ReadResult:
    """Read one extract, handing staging batches to ``sink``; return what was learnt about the file.

    Records the reader quarantined go to ``quarantine_sink`` when one is given (a small file of
    their own, so that loading the sound ones never scans their raw text).

    Raises :class:`FileRefused` when the file is over one of its source's limits (the caller
    rejects it; whatever reached the sink is to be discarded).
    """
    stager = _Stager(dataset, source, sink, quarantine_sink or sink)
    if extract.size > source.limits.max_bytes:
        raise FileRefused(
            Reason.FILE_TOO_LARGE,
            f"{extract.size:,} bytes, over the source's limits.max_bytes ({source.limits.max_bytes:,})",
        )
    if source.format is FileFormat.XLSX:
        result = ReadResult("xlsx")
        _read_xlsx(extract, source, dataset, stager, result)
    else:
        if extract.size == 0 or _only_whitespace(extract):
            return ReadResult(None, file_reason=Reason.EMPTY_FILE, file_detail="the file is empty")
        codec = resolve_codec(source.encoding, extract)
        try:
            codecs.lookup(codec)
        except LookupError:
            return ReadResult(
                None, file_reason=Reason.UNREADABLE_FILE, file_detail=f"unknown encoding {codec!r}"
            )
        result = ReadResult(codec)
        if source.format is FileFormat.CSV:
            reader: Any = _CsvReader(source, dataset, codec, stager)
            reader.read(extract)
            header = reader.header
            if header is None:
                result.file_reason, result.file_detail = (
                    Reason.EMPTY_FILE,
                    "the file has no header and no rows",
                )
            else:
                result.source_columns, result.drift_columns = header.names, header.drift_names
                if header.file_reason is not None:
                    result.file_reason, result.file_detail = header.file_reason, header.file_detail
        else:
            reader = _JsonReader(source, dataset, codec, stager)
            reader.read(extract)
            result.source_columns = list(reader.keys)
            result.drift_columns = [k for k in reader.keys if k not in source.column_map]
            if stager.rows == 0:
                result.file_reason, result.file_detail = Reason.EMPTY_FILE, "the file has no records"
            else:
                header_names = list(reader.keys)
                missing = [
                    c
                    for c in dataset.required_columns
                    if c not in {source.column_map.get(k) for k in header_names} and c not in source.constants
                ]
                if missing:
                    expected = ", ".join(f"{source.canonical_to_source.get(c, c)} ({c})" for c in missing)
                    result.file_reason = Reason.MISSING_REQUIRED_COLUMN
                    result.file_detail = f"no record has the required key(s): {expected}"
        if (
            result.file_reason is None
            and stager.rows
            and not reader.ended_with_newline
            and stager.last_reason
            in (Reason.WRONG_FIELD_COUNT, Reason.UNTERMINATED_QUOTE, Reason.BAD_JSON_RECORD)
        ):
            result.file_reason = Reason.TRUNCATED_FILE
            result.file_detail = (
                f"no final line end and the last record ({stager.rows}) is incomplete "
                f"({stager.last_reason.value})"
            )
    result.rows, result.quarantined, result.last_reason = stager.rows, stager.quarantined, stager.last_reason
    return result


def _only_whitespace(extract: Extract) -> bool:
    return all(not chunk.strip() for chunk in extract.chunks(2**20))


# ------------------------------------------------------------------------------ in memory (tests)


@dataclass
class SourceRow:
    row_number: int  # 1-based among the file's records (the header is not one)
    raw_text: str
    fields: dict[str, str | None] = field(default_factory=dict)  # canonical name -> value
    extra: dict[str, str | None] = field(default_factory=dict)  # unmapped source columns (drift)
    reason: Reason | None = None
    detail: str | None = None
    raw_offset: int | None = None
    raw_length: int | None = None


@dataclass
class ParsedFile:
    encoding: str | None
    source_columns: list[str]
    rows: list[SourceRow]
    drift_columns: list[str]
    file_reason: Reason | None = None
    file_detail: str | None = None


def parse_extract(data: bytes, source: Source, dataset: Dataset) -> ParsedFile:
    """:func:`read_extract` on bytes in memory, rows as Python objects, sorted by row number.

    For tests and small files; the loader streams instead. A file over a limit comes back with the
    limit's file reason and no rows.
    """
    batches: list[pa.RecordBatch] = []
    try:
        result = read_extract(BytesExtract(data), source, dataset, batches.append)
    except FileRefused as exc:
        return ParsedFile(None, [], [], [], exc.reason, exc.detail)
    shown = [c for c in dataset.column_names if c in set(source.column_map.values()) | set(source.constants)]
    rows: list[SourceRow] = []
    for batch in batches:
        for record in batch.to_pylist():
            reason = Reason(record["_reason"]) if record["_reason"] else None
            rows.append(
                SourceRow(
                    record["_row_number"],
                    record["_raw_text"],
                    {c: record[c] for c in shown} if reason is None else {},
                    dict(record["_extra"] or []) if reason is None else {},
                    reason,
                    record["_detail"],
                    record["_raw_offset"],
                    record["_raw_length"],
                )
            )
    rows.sort(key=lambda r: r.row_number)
    if result.file_reason is not None:
        for row in rows:
            row.reason, row.detail = result.file_reason, result.file_detail
    return ParsedFile(
        result.encoding,
        result.source_columns,
        rows,
        result.drift_columns,
        result.file_reason,
        result.file_detail,
    )


__all__ = [
    "LIMIT_REASONS",
    "BytesExtract",
    "Extract",
    "FileRefused",
    "LakeExtract",
    "ParsedFile",
    "ReadResult",
    "Reason",
    "SourceRow",
    "parse_extract",
    "read_extract",
    "resolve_codec",
    "staging_schema",
]
