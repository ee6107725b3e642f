"""Serialize rows exactly as a department's system would, byte-for-byte reproducibly.

CSV is written by hand (not ``csv.writer``) so a row can be deliberately malformed; JSON Lines one
object per line; XLSX through openpyxl's write-only mode with its clock taken out: fixed document
properties and every zip entry dated 1980-01-01, so the same rows give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from functools import cache

_TOKENS = re.compile(r"yyyy|MM|M|dd|d")
FIXED_TIME = dt.datetime(2000, 1, 1)  # the xlsx "created"/"modified" stamp: constant, not now
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@cache
def date_formatter(pattern: str) -> Callable[[dt.date], str]:
    """A function formatting a date with a Spark datetime pattern (yyyy, MM, M, dd, d, literals)."""
    parts: list[str] = []
    pos = 0
    for m in _TOKENS.finditer(pattern):
        if m.start() > pos:
            parts.append(pattern[pos : m.start()].replace("{", "{{").replace("}", "}}"))
        parts.append(
            {
                "yyyy": "{0.year:04d}",
                "MM": "{0.month:02d}",
                "M": "{0.month}",
                "dd": "{0.day:02d}",
                "d": "{0.day}",
            }[m.group()]
        )
        pos = m.end()
    parts.append(pattern[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(parts).format


def _csv_field(value: str, delimiter: str, quote_all: bool) -> str:
    if quote_all or delimiter in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_text(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str,
    line_end: str,
    quote_all: bool = False,
    raw_rows: frozenset[int] = frozenset(),
) -> str:
    """CSV text; rows whose index is in ``raw_rows`` are joined verbatim (no quoting at all)."""
    out = [delimiter.join(_csv_field(h, delimiter, quote_all) for h in header)]
    for i, row in enumerate(rows):
        if i in raw_rows:
            out.append(delimiter.join(row))
        else:
            out.append(delimiter.join(_csv_field(v, delimiter, quote_all) for v in row))
    return line_end.join(out) + line_end


def jsonl_text(keys: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    return "".join(dumps(dict(zip(keys, row, strict=True))) + "\n" for row in rows)


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[object]], sheet: str = "Sheet1") -> bytes:
    """An XLSX workbook with one sheet, reproducible to the byte."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook(write_only=True)
    wb.properties.creator = "govlake"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    ws = wb.create_sheet(sheet)
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    raw = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook() would stamp "modified" with the clock.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    return normalize_zip(raw.getvalue())


def normalize_zip(data: bytes) -> bytes:
    """The same archive with every entry's timestamp and attributes fixed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()
