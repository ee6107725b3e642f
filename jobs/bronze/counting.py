"""Count an extract's records without the reader: the other side of the loader's accounting check.

The loader checks that the records it accepted plus those it quarantined equal the records of the
file. If both sides came from the reader, a reader that lost or doubled records would agree with
itself. So this module counts the same file a second time, streaming over the raw bytes with code
of its own: its own line splitting, its own quote-aware scanner (no ``csv`` module, no Arrow), and
for workbooks the sheet XML itself rather than openpyxl. It implements the record rules stated in
:mod:`jobs.bronze.readers` (what a line, a blank line, a record, a header is; where an unterminated
quote is cut), nothing more: it does not judge records, only counts them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from govlake.registry import FileFormat, Limits, Source


def _physical_lines(chunks: Iterator[bytes], max_record_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """(line with its line end, too long?) for every physical line; a too-long line is not kept whole."""
    partial = b""
    skipping = False
    for chunk in chunks:
        data = partial + chunk if partial else chunk
        partial = b""
        lines = data.splitlines(keepends=True)
        # The last piece may continue in the next chunk (including a CR that a LF may follow).
        last = (
            lines.pop()
            if lines and (not lines[-1].endswith((b"\n", b"\r")) or lines[-1].endswith(b"\r"))
            else b""
        )
        for line in lines:
            if skipping:  # the end of a too-long line
                skipping = False
                continue
            yield line, len(line.rstrip(b"\r\n")) > max_record_bytes
        if skipping:
            if last.endswith(b"\r"):  # a CR ends the long line; a LF may follow as a blank line
                skipping = False
            continue
        if len(last.rstrip(b"\r")) > max_record_bytes:
            yield last, True
            skipping = not last.endswith(b"\r")
            continue
        partial = last
    if partial and not skipping:
        yield partial, len(partial.rstrip(b"\r\n")) > max_record_bytes


def _blank(line: bytes) -> bool:
    return not line.strip(b" \t\r\n")


class _QuoteScanner:
    """Where a CSV record ends, read as Python's csv module reads (doubled quotes, non-strict)."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.stop = re.compile("[" + re.escape(delimiter) + "\r\n]")

    def scan(self, text: str) -> tuple[bool, int]:
        """(whether ``text`` ends as a complete record, its number of fields so far)."""
        fields, i, n = 1, 0, len(text)
        while True:
            # at the start of a field
            if i < n and text[i] == '"':
                i += 1
                while True:  # inside quotes: line ends and delimiters are data
                    j = text.find('"', i)
                    if j < 0:
                        return False, fields
                    if text.startswith('"', j + 1):  # a doubled quote is one quote of data
                        i = j + 2
                        continue
                    i = j + 1
                    break
                if i >= n or text[i] in "\r\n":
                    return True, fields
                if text[i] == self.delimiter:
                    fields, i = fields + 1, i + 1
                    continue
            # outside quotes (also after a closing quote followed by other characters)
            match = self.stop.search(text, i)
            if match is None or match.group() != self.delimiter:
                return True, fields
            fields, i = fields + 1, match.end()


def _count_csv(chunks: Iterator[bytes], source: Source, codec: str, limits: Limits) -> int:
    scanner = _QuoteScanner(source.delimiter or ",")
    count = 0
    header_width: int | None = None  # None until the header is read
    pending: list[bytes] = []
    queue: deque[tuple[bytes, bool]] = deque()

    def text_of(lines: list[bytes]) -> str:
        return b"".join(lines).decode(codec, "surrogateescape").lstrip("\ufeff")

    def record(width: int) -> None:
        nonlocal count, header_width
        if header_width is None:
            header_width = width
        else:
            count += 1

    def cut() -> None:
        nonlocal count, header_width
        first, rest = pending[0], pending[1:]
        pending.clear()
        queue.extendleft((line, False) for line in reversed(rest))
        if header_width is None:  # a header with an open quote: its first line is the header
            header_width = scanner.scan(text_of([first]))[1]
        else:
            count += 1

    def settle() -> None:
        complete, width = scanner.scan(text_of(pending))
        if complete:
            if len(pending) == 1 or header_width is None or width == header_width:
                pending.clear()
                record(width)
            else:
                cut()
        elif len(pending) >= limits.max_record_lines or sum(map(len, pending)) > limits.max_record_bytes:
            cut()

    def take(line: bytes, too_long: bool) -> None:
        nonlocal count, header_width
        if too_long:
            while pending:
                cut()
                drain()
            if header_width is None:
                header_width = 0  # the reader cannot use such a header: every record is quarantined
            count += 1
            return
        if not pending:
            if _blank(line):
                return
            if b'"' not in line:
                record(scanner.scan(text_of([line]))[1] if header_width is None else 0)
                return
        pending.append(line)
        settle()

    def drain() -> None:
        while queue:
            take(*queue.popleft())

    for line, too_long in _physical_lines(chunks, limits.max_record_bytes):
        take(line, too_long)
        drain()
    while pending:
        cut()
        drain()
    return count


def _count_lines(chunks: Iterator[bytes], limits: Limits) -> int:
    """JSON Lines: every non-blank physical line is a record."""
    return sum(
        1
        for line, too_long in _physical_lines(chunks, limits.max_record_bytes)
        if too_long or not _blank(line)
    )


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def count_sheet_rows(handle: object) -> int:
    """Data rows of a workbook: rows with a value, in every worksheet, less each sheet's header.

    Read from the sheet XML with defusedxml (no openpyxl): a cell has a value when it has a
    non-empty ``<v>`` or, for an inline string, an ``<is>`` element.
    """
    import posixpath
    import zipfile

    from defusedxml.ElementTree import fromstring, iterparse

    with zipfile.ZipFile(handle) as archive:  # type: ignore[arg-type]
        workbook = fromstring(archive.read("xl/workbook.xml"))
        rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {
            r.get("Id"): r.get("Target")
            for r in rels.iter(f"{_RELS}Relationship")
            if (r.get("Type") or "").endswith("/worksheet")
        }
        total = 0
        for sheet in workbook.iter(f"{_MAIN}sheet"):
            target = targets.get(sheet.get(f"{_DOC_RELS}id"))
            if target is None:
                continue
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            rows = 0
            with archive.open(part) as xml:
                for _, element in iterparse(xml, events=("end",)):
                    if element.tag == f"{_MAIN}row":
                        if any(_has_value(cell) for cell in element.iter(f"{_MAIN}c")):
                            rows += 1
                        element.clear()
            total += max(rows - 1, 0)  # the first row with a value is the sheet's header
        return total


def _has_value(cell: object) -> bool:
    if cell.get("t") == "inlineStr":  # type: ignore[attr-defined]
        return cell.find(f"{_MAIN}is") is not None  # type: ignore[attr-defined]
    return bool(cell.findtext(f"{_MAIN}v"))  # type: ignore[attr-defined]


def count_records(extract: object, source: Source, codec: str | None) -> int:
    """Records of ``extract`` (a ``jobs.bronze.readers.Extract``) by the record rules, header excluded."""
    limits = source.limits
    if source.format is FileFormat.XLSX:
        with extract.open() as handle:  # type: ignore[attr-defined]
            return count_sheet_rows(handle)
    chunk_bytes = min(2**20, limits.max_record_bytes)
    chunks = extract.chunks(chunk_bytes)  # type: ignore[attr-defined]
    if source.format is FileFormat.JSON:
        return _count_lines(chunks, limits)
    assert codec is not None
    return _count_csv(chunks, source, _decode_codec(codec), limits)


def _decode_codec(codec: str) -> str:
    return "utf-8" if codec.lower().replace("_", "-") == "utf-8-sig" else codec
