"""Decode and split one extract into rows, exactly as sent: pure Python, no Spark.

Every data row of the file comes out once, either with its fields mapped to canonical column
names or with a quarantine reason and its raw text. Whole-file problems (empty, truncated,
unreadable, a required column missing) are reported as a file reason; the loader then sends every
row of that file to quarantine, so nothing is half-loaded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from govlake.registry import Dataset, FileFormat, Source

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


class Reason(StrEnum):
    """Why a row (or a whole file) was quarantined. Stable codes: dashboards group by them."""

    WRONG_FIELD_COUNT = "WRONG_FIELD_COUNT"
    UNDECODABLE_BYTES = "UNDECODABLE_BYTES"
    BAD_JSON_RECORD = "BAD_JSON_RECORD"
    MISSING_REQUIRED_VALUE = "MISSING_REQUIRED_VALUE"
    UNPARSEABLE_REQUIRED_VALUE = "UNPARSEABLE_REQUIRED_VALUE"
    # file-level reasons: every row of the file carries them
    EMPTY_FILE = "EMPTY_FILE"
    TRUNCATED_FILE = "TRUNCATED_FILE"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    MISSING_REQUIRED_COLUMN = "MISSING_REQUIRED_COLUMN"


@dataclass
class SourceRow:
    row_number: int  # 1-based among the file's data rows (the header is not a data row)
    raw_text: str
    fields: dict[str, str | None] = field(default_factory=dict)  # canonical name -> value
    extra: dict[str, str | None] = field(default_factory=dict)  # unmapped source columns (drift)
    reason: Reason | None = None
    detail: str | None = None


@dataclass
class ParsedFile:
    encoding: str | None
    source_columns: list[str]
    rows: list[SourceRow]
    drift_columns: list[str]
    file_reason: Reason | None = None
    file_detail: str | None = None


def resolve_codec(declared: str, data: bytes) -> str:
    """The Python codec to decode with: the declared one, or a detected one for ``unknown``."""
    if declared.lower() != "unknown":
        return _CODEC_ALIASES.get(declared.lower(), declared)
    # Mainland government extracts come as UTF-8 or the GB family. A strict decode is decisive on
    # real files, where statistical detectors confuse GB18030 with Big5 on short Chinese text.
    for codec in ("utf-8-sig", "gb18030"):
        try:
            data.decode(codec)
            return codec
        except UnicodeDecodeError:
            pass
    # Neither decodes cleanly (some corrupt bytes): let the detector pick the closer of the two.
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000], cp_isolation=["utf_8", "gb18030"]).best()
    detected = (best.encoding if best else "gb18030").lower().replace("_", "-")
    return _CODEC_ALIASES.get(detected, detected)


def _has_undecodable(text: str) -> bool:
    # surrogateescape maps each undecodable byte to U+DC80..U+DCFF
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(text: str, codec: str) -> str:
    """Raw text safe to store: undecodable bytes shown as \\xNN escapes."""
    if not _has_undecodable(text):
        return text
    return text.encode(codec, "surrogateescape").decode(codec, "backslashreplace")


class _ColumnMapper:
    """Maps one file's source header to canonical columns and reports drift."""

    def __init__(self, source: Source, dataset: Dataset, header: list[str]) -> None:
        self.header = [h.strip().lstrip("\ufeff") for h in header]
        self.canonical = [source.column_map.get(h) for h in self.header]
        self.drift = [h for h, c in zip(self.header, self.canonical, strict=True) if c is None and h]
        # Values the sender states once for the whole extract (registry ``constants``, e.g. the CRS
        # of every coordinate) fill the canonical column when the file does not carry it.
        self.constants = {k: v for k, v in source.constants.items() if k not in self.canonical}
        present = {c for c in self.canonical if c} | set(self.constants)
        self.missing_required = [c for c in dataset.required_columns if c not in present]

    def split(self, values: list[str | None]) -> tuple[dict[str, str | None], dict[str, str | None]]:
        fields: dict[str, str | None] = {}
        extra: dict[str, str | None] = {}
        for name, canonical, value in zip(self.header, self.canonical, values, strict=True):
            value = value if value is None else value.strip()
            value = value or None
            if canonical:
                fields[canonical] = value
            elif name:
                extra[name] = value
        return fields | self.constants, extra


def _physical_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.removesuffix("\r") for line in lines]


def _read_csv(text: str, codec: str, source: Source, dataset: Dataset) -> ParsedFile:
    lines = _physical_lines(text)
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ParsedFile(codec, [], [], [], Reason.EMPTY_FILE, "the file has no header and no rows")
    delimiter = source.delimiter or ","
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    mapper = _ColumnMapper(source, dataset, header)

    consumed: list[str] = []

    def feed() -> Iterator[str]:
        for line in lines[1:]:
            consumed.append(line)
            yield line

    rows: list[SourceRow] = []
    reader = csv.reader(feed(), delimiter=delimiter)
    row_number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. an unterminated quote at end of data
            row_number += 1
            rows.append(
                SourceRow(
                    row_number,
                    _printable("\n".join(consumed), codec),
                    reason=Reason.WRONG_FIELD_COUNT,
                    detail=f"CSV syntax: {exc}",
                )
            )
            consumed.clear()
            break
        raw = "\n".join(consumed)
        consumed.clear()
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # blank line: not a row
        row_number += 1
        row = SourceRow(row_number, _printable(raw, codec))
        if _has_undecodable(raw):
            row.reason, row.detail = Reason.UNDECODABLE_BYTES, f"bytes not valid in {codec}"
        elif len(values) != len(mapper.header):
            row.reason = Reason.WRONG_FIELD_COUNT
            row.detail = f"{len(values)} fields, header has {len(mapper.header)}"
        else:
            row.fields, row.extra = mapper.split(list(values))
        rows.append(row)
    parsed = ParsedFile(codec, mapper.header, rows, mapper.drift)
    # A file cut off mid-row has no final newline and a malformed last row.
    if rows and not text.endswith("\n") and rows[-1].reason == Reason.WRONG_FIELD_COUNT:
        parsed.file_reason = Reason.TRUNCATED_FILE
        parsed.file_detail = (
            f"no final newline and row {rows[-1].row_number} is incomplete ({rows[-1].detail})"
        )
    return parsed


def _read_json_lines(text: str, codec: str, source: Source, dataset: Dataset) -> ParsedFile:
    records: list[tuple[int, str, dict | None, str | None]] = []
    keys: list[str] = []
    row_number = 0
    for line in _physical_lines(text):
        if not line.strip():
            continue
        row_number += 1
        try:
            obj = json.loads(line) if not _has_undecodable(line) else None
            error = None if isinstance(obj, dict) else "not a JSON object"
            if _has_undecodable(line):
                error = "undecodable"
        except json.JSONDecodeError as exc:
            obj, error = None, f"invalid JSON: {exc.msg} at column {exc.colno}"
        if isinstance(obj, dict):
            keys.extend(k for k in obj if k not in keys)
        records.append((row_number, line, obj if isinstance(obj, dict) else None, error))
    if not records:
        return ParsedFile(codec, [], [], [], Reason.EMPTY_FILE, "the file has no records")
    mapper = _ColumnMapper(source, dataset, keys)
    rows = []
    for number, line, obj, error in records:
        row = SourceRow(number, _printable(line, codec))
        if error == "undecodable":
            row.reason, row.detail = Reason.UNDECODABLE_BYTES, f"bytes not valid in {codec}"
        elif obj is None:
            row.reason, row.detail = Reason.BAD_JSON_RECORD, error
        else:
            values = [None if obj.get(k) is None else str(obj.get(k)) for k in mapper.header]
            row.fields, row.extra = mapper.split(values)
        rows.append(row)
    parsed = ParsedFile(codec, mapper.header, rows, mapper.drift)
    if not text.endswith("\n") and rows[-1].reason == Reason.BAD_JSON_RECORD:
        parsed.file_reason = Reason.TRUNCATED_FILE
        parsed.file_detail = f"no final newline and record {rows[-1].row_number} is incomplete JSON"
    return parsed


def _cell_text(value: object) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")  # Excel stores dates as dates: ISO is the canonical text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes, source: Source, dataset: Dataset) -> ParsedFile:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        return ParsedFile(None, [], [], [], Reason.UNREADABLE_FILE, f"not a readable XLSX workbook: {exc}")
    try:
        sheet = workbook.worksheets[0]
        all_rows = [[_cell_text(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    all_rows = [r for r in all_rows if any(v not in (None, "") for v in r)]
    if not all_rows:
        return ParsedFile("xlsx", [], [], [], Reason.EMPTY_FILE, "the first sheet is empty")
    header = [h or "" for h in all_rows[0]]
    while header and not header[-1]:
        header.pop()
    mapper = _ColumnMapper(source, dataset, header)
    rows = []
    for number, values in enumerate(all_rows[1:], start=1):
        raw = "\t".join(v or "" for v in values).rstrip("\t")
        row = SourceRow(number, raw)
        if any(v not in (None, "") for v in values[len(header) :]):
            row.reason = Reason.WRONG_FIELD_COUNT
            row.detail = f"cells beyond the header's {len(header)} columns"
        else:
            padded = (list(values) + [None] * len(header))[: len(header)]
            row.fields, row.extra = mapper.split(padded)
        rows.append(row)
    return ParsedFile("xlsx", mapper.header, rows, mapper.drift)


def parse_extract(data: bytes, source: Source, dataset: Dataset) -> ParsedFile:
    """Split one extract into rows; then apply whole-file checks (required columns)."""
    if source.format is FileFormat.XLSX:
        parsed = _read_xlsx(data, source, dataset)
    else:
        if not data.strip():
            return ParsedFile(None, [], [], [], Reason.EMPTY_FILE, "the file is empty")
        codec = resolve_codec(source.encoding, data)
        try:
            text = data.decode(codec, "surrogateescape")
        except LookupError:
            return ParsedFile(None, [], [], [], Reason.UNREADABLE_FILE, f"unknown encoding {codec!r}")
        text = text.removeprefix("\ufeff")
        reader = _read_csv if source.format is FileFormat.CSV else _read_json_lines
        parsed = reader(text, codec, source, dataset)
    if parsed.file_reason is None and parsed.source_columns:
        missing = _ColumnMapper(source, dataset, parsed.source_columns).missing_required
        if missing:
            expected = ", ".join(f"{source.canonical_to_source.get(c, c)} ({c})" for c in missing)
            parsed.file_reason = Reason.MISSING_REQUIRED_COLUMN
            parsed.file_detail = f"required column(s) missing from the header: {expected}"
    if parsed.file_reason is not None:
        for row in parsed.rows:
            row.reason, row.detail = parsed.file_reason, parsed.file_detail
    return parsed
