"""A hostile-input corpus for bronze ingestion: files built to break readers, each with its expected fate.

    python -m tests.bronze.hostile_corpus OUT

writes ``OUT/sources.yaml`` (a registry: the real datasets, the corpus's own sources and limits),
``OUT/landing/<source_id>/<file>`` and ``OUT/expected.json`` (one entry per case: status, rows in,
accepted, quarantined, the reason of every quarantined row, the file reason, what else to check,
and the time and memory the case may take). ``tests/bronze/test_hostile_corpus.py`` lands and loads
every case through ``jobs.pipeline.run`` and holds ingestion to it.

The fates follow the record rules in ``jobs.bronze.readers`` (see README, "Ingestion").
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import random
import struct
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from govlake.config import REPO_ROOT

HOUSEHOLD = {
    "记录号": "record_no",
    "姓名": "name",
    "身份证号": "id_number",
    "出生日期": "birth_date",
    "住址": "address",
}
HEADER = ["记录号", "姓名", "身份证号", "出生日期", "住址"]


def _source(source_id: str, **keys: Any) -> dict[str, Any]:
    base = {
        "id": source_id,
        "department": "public_security",
        "dataset": "household_registration",
        "prefecture": "3201",
        "format": "csv",
        "encoding": "utf-8",
        "delimiter": ",",
        "date_formats": ["yyyy-MM-dd"],
        "columns": dict(HOUSEHOLD),
        "classification": "important",
        "owner": "hostile corpus",
        "schedule": "0 1 * * *",
    }
    return base | keys


SOURCES = [
    _source("hostile_csv"),
    _source("hostile_csv_tight", limits={"max_record_bytes": 100_000, "max_field_length": 1000}),
    _source("hostile_csv_limited", limits={"max_bytes": 2000, "max_rows": 5}),
    _source("hostile_gbk", encoding="gbk", delimiter="|"),
    _source("hostile_unknown", encoding="unknown"),
    _source(
        "hostile_json",
        department="health",
        dataset="death_records",
        prefecture=None,
        format="json",
        delimiter=None,
        columns={"cert": "certificate_no", "sfzh": "id_number", "xm": "name", "swrq": "death_date"},
    ),
    _source(
        "hostile_xlsx",
        department="market_regulation",
        dataset="enterprise_registration",
        prefecture=None,
        format="xlsx",
        delimiter=None,
        date_formats=["yyyy/M/d"],
        columns={
            "统一社会信用代码": "uscc",
            "企业名称": "name",
            "成立日期": "established_on",
            "备注": "status",
        },
    ),
    _source(
        "hostile_xlsx_tight",
        department="market_regulation",
        dataset="enterprise_registration",
        prefecture=None,
        format="xlsx",
        delimiter=None,
        columns={"统一社会信用代码": "uscc", "企业名称": "name", "成立日期": "established_on"},
        limits={"max_xlsx_decompressed_bytes": 5_000_000},
    ),
]


@dataclass
class Case:
    """One hostile file and what ingestion must make of it."""

    name: str
    source_id: str
    file: str
    status: str
    rows_in: int | None  # None: the count is whatever the raw bytes hold (binary garbage)
    accepted: int
    reasons: dict[int, str] | None = None  # row number -> reason code of every quarantined row
    file_reason: str | None = None
    # ("bronze", row, column, value) | ("extra", row, key, value) | ("quarantine", row, prefix of raw_text)
    # | ("drift", count) | ("detail", row, substring)
    checks: list[list[Any]] = field(default_factory=list)
    seconds: float = 180.0  # wall time for land + load (a shared, loaded CI machine)
    mib: float = 200.0  # growth of the test process's resident memory during land + load
    data: bytes = b""

    def meta(self) -> dict[str, Any]:
        entry = asdict(self)
        entry.pop("data")
        return entry


def _csv(rows: list[list[str]], *, sep: str = ",", end: str = "\n", header: list[str] = HEADER) -> str:
    return end.join(sep.join(r) for r in [header, *rows]) + end


def _people(n: int, start: int = 1) -> list[list[str]]:
    return [
        [f"R{i}", f"人{i}", f"32010219900101{i:04d}", "1990-01-01", f"南京市玄武区{i}号"]
        for i in range(start, start + n)
    ]


def _xlsx(sheets: list[tuple[str, list[list[Any]]]], merge: str | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if merge and title == sheets[0][0]:
            sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, change: dict[str, bytes]) -> bytes:
    """The workbook ``data`` with some parts replaced (or added)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, change.pop(info.filename, None) or source.read(info.filename))
        for name, part in change.items():
            target.writestr(name, part)
    return out.getvalue()


def _forge_size(data: bytes, member: str, declared: int) -> bytes:
    """``data`` whose zip headers claim ``member`` inflates to ``declared`` bytes (a lie)."""
    forged = bytearray(data)
    name = member.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (at := forged.find(signature, start)) >= 0:
            if forged[at + name_at : at + name_at + len(name)] == name:
                struct.pack_into("<I", forged, at + size_at, declared)
            start = at + 4
    return bytes(forged)


#: Every case, in the order :func:`cases` builds them (a test parametrizes over this list).
NAMES = (
    "huge_field",
    "record_too_long",
    "no_line_end_64mb",
    "unterminated_quote",
    "unterminated_quote_all_quoted",
    "huge_quoted_field",
    "huge_quoted_field_last_without_line_end",
    "quoted_line_break",
    "bad_records",
    "mixed_line_ends",
    "bom_mid_file",
    "binary_garbage",
    "duplicate_mapped_header",
    "duplicate_and_empty_header_names",
    "header_only",
    "empty_file",
    "blank_lines_only",
    "thousands_of_columns",
    "truncated",
    "gbk_trail_byte_is_delimiter",
    "gb18030_four_byte",
    "unknown_encoding_gb18030",
    "over_max_bytes",
    "over_max_rows",
    "json_nested_duplicates_garbage",
    "json_thousands_of_keys",
    "json_surrogate_and_huge_number",
    "xlsx_formulas_merged_dates",
    "xlsx_several_sheets",
    "xlsx_stale_dimension",
    "xlsx_zip_bomb",
    "xlsx_forged_size",
    "xlsx_not_a_zip",
    "xlsx_empty",
)


def cases() -> list[Case]:
    rng = random.Random(20240601)
    out: list[Case] = []

    def add(case: Case, data: bytes | str, encoding: str = "utf-8") -> None:
        case.data = data.encode(encoding) if isinstance(data, str) else data
        out.append(case)

    # --- the case: a 200,000-character address in row 4 of 10 ---------------------------
    rows = _people(10)
    rows[3][4] = "江" * 200_000
    add(
        Case(
            "huge_field",
            "hostile_csv",
            "huge_field.csv",
            "LOADED_WITH_QUARANTINE",
            10,
            9,
            {4: "FIELD_TOO_LONG"},
            checks=[["bronze", 10, "record_no", "R10"], ["detail", 4, "200000 characters"]],
        ),
        _csv(rows),
    )
    # --- a line over max_record_bytes, a field over max_field_length (tight limits) --------------
    rows = _people(5)
    rows[1][4] = "x" * 300_000
    rows[2][4] = "长" * 5_000
    add(
        Case(
            "record_too_long",
            "hostile_csv_tight",
            "record_too_long.csv",
            "LOADED_WITH_QUARANTINE",
            5,
            3,
            {2: "RECORD_TOO_LONG", 3: "FIELD_TOO_LONG"},
            checks=[["quarantine", 2, "R2,人2,"]],
        ),
        _csv(rows),
    )
    # --- 64 MB with no line end at all: read a chunk at a time, never held whole -----------------
    add(
        Case(
            "no_line_end_64mb",
            "hostile_csv_tight",
            "no_line_end.csv",
            "LOADED_WITH_QUARANTINE",
            1,
            0,
            {1: "RECORD_TOO_LONG"},
            mib=60,
        ),
        ",".join(HEADER) + "\n" + "y" * 64_000_000,
    )
    # --- an unterminated quote mid-file: one record lost to it, not the rest of the file --------
    rows = _people(10)
    rows[4][4] = '"南京市鼓楼区'
    add(
        Case(
            "unterminated_quote",
            "hostile_csv",
            "unterminated_quote.csv",
            "LOADED_WITH_QUARANTINE",
            10,
            9,
            {5: "UNTERMINATED_QUOTE"},
            checks=[["bronze", 6, "record_no", "R6"]],
        ),
        _csv(rows),
    )
    quoted = [[f'"{v}"' for v in r] for r in _people(10)]
    quoted[4][4] = '"南京市鼓楼区'
    add(
        Case(
            "unterminated_quote_all_quoted",
            "hostile_csv",
            "unterminated_quote_quoted.csv",
            "LOADED_WITH_QUARANTINE",
            10,
            9,
            {5: "UNTERMINATED_QUOTE"},
            checks=[["bronze", 6, "record_no", "R6"]],
        ),
        _csv(quoted),
    )
    # --- a huge *quoted* field: a line over 64 KiB the fast path refuses is read alone, mid-file and
    # as the last line without a line end ---------------------------------------------------------
    for name, row, ending in (
        ("huge_quoted_field", 4, "\n"),
        ("huge_quoted_field_last_without_line_end", 10, ""),
    ):
        rows = _people(10)
        rows[row - 1][4] = '"' + "江" * 100_000 + '"'
        neighbour = row + 1 if row < 10 else row - 1
        add(
            Case(
                name,
                "hostile_csv",
                f"{name}.csv",
                "LOADED_WITH_QUARANTINE",
                10,
                9,
                {row: "FIELD_TOO_LONG"},
                checks=[
                    ["bronze", neighbour, "record_no", f"R{neighbour}"],
                    ["detail", row, "100000 characters"],
                ],
                seconds=60,
            ),
            _csv(rows).removesuffix("\n") + ending,
        )
    rows = _people(4)
    rows[1][4] = '"南京市\n鼓楼区, 1号"'
    rows[2][4] = '5"号楼'  # a quote inside an unquoted field is data
    add(
        Case(
            "quoted_line_break",
            "hostile_csv",
            "quoted_line_break.csv",
            "LOADED",
            4,
            4,
            checks=[["bronze", 2, "address", "南京市\n鼓楼区, 1号"], ["bronze", 3, "address", '5"号楼']],
        ),
        _csv(rows),
    )
    # --- NUL bytes, undecodable bytes, a wrong field count, a missing required value -------------
    rows = _people(6)
    rows[1][1] = "人\x002"
    rows[3] = rows[3][:3]
    rows[4][1] = ""
    data = _csv(rows).encode()
    data = data.replace("人3".encode(), b"\xff\xfe3")
    add(
        Case(
            "bad_records",
            "hostile_csv",
            "bad_records.csv",
            "LOADED_WITH_QUARANTINE",
            6,
            2,
            {2: "NUL_BYTE", 3: "UNDECODABLE_BYTES", 4: "WRONG_FIELD_COUNT", 5: "MISSING_REQUIRED_VALUE"},
            checks=[["quarantine", 3, "R3,\\xff\\xfe3,"]],
        ),
        data,
    )
    # --- CR, LF and CRLF mixed in one file -------------------------------------------------------
    rows = [",".join(r) for r in _people(6)]
    add(
        Case(
            "mixed_line_ends",
            "hostile_csv",
            "mixed_line_ends.csv",
            "LOADED",
            6,
            6,
            checks=[["bronze", 3, "address", "南京市玄武区3号"], ["bronze", 6, "record_no", "R6"]],
        ),
        ",".join(HEADER)
        + "\r\n"
        + rows[0]
        + "\r"
        + rows[1]
        + "\n"
        + rows[2]
        + "\r\n"
        + rows[3]
        + "\r"
        + rows[4]
        + "\n\n"
        + rows[5]
        + "\r\n",
    )
    # --- two exports joined: a BOM and the header again in mid-file ------------------------------
    add(
        Case(
            "bom_mid_file",
            "hostile_csv",
            "bom_mid_file.csv",
            "LOADED_WITH_QUARANTINE",
            7,
            6,
            {4: "REPEATED_HEADER"},
            checks=[["bronze", 5, "record_no", "R4"]],
        ),
        "\ufeff" + _csv(_people(3)) + "\ufeff" + _csv(_people(3, start=4)),
    )
    # --- binary garbage ----------------------------------------------------------------------------
    add(
        Case(
            "binary_garbage", "hostile_csv", "garbage.csv", "REJECTED", None, 0, file_reason="UNREADABLE_FILE"
        ),
        b"\xff\xfe\x00\x00" + rng.randbytes(256 * 1024),
    )
    # --- headers: a mapped name twice, unmapped names twice and empty, only a header, nothing ------
    add(
        Case(
            "duplicate_mapped_header",
            "hostile_csv",
            "duplicate_mapped.csv",
            "REJECTED",
            3,
            0,
            {1: "DUPLICATE_COLUMN", 2: "DUPLICATE_COLUMN", 3: "DUPLICATE_COLUMN"},
            file_reason="DUPLICATE_COLUMN",
        ),
        _csv([[*r, r[1]] for r in _people(3)], header=[*HEADER, "姓名"]),
    )
    add(
        Case(
            "duplicate_and_empty_header_names",
            "hostile_csv",
            "duplicate_unmapped.csv",
            "LOADED",
            2,
            2,
            checks=[
                ["extra", 1, "备注", "a"],
                ["extra", 1, "备注#2", "b"],
                ["extra", 1, "_column_8", "c"],
                ["drift", 3],
            ],
        ),
        _csv([[*r, "a", "b", "c"] for r in _people(2)], header=[*HEADER, "备注", "备注", ""]),
    )
    add(Case("header_only", "hostile_csv", "header_only.csv", "EMPTY", 0, 0), ",".join(HEADER) + "\n")
    add(Case("empty_file", "hostile_csv", "empty.csv", "EMPTY", 0, 0, file_reason="EMPTY_FILE"), b"")
    add(
        Case("blank_lines_only", "hostile_csv", "blank.csv", "EMPTY", 0, 0, file_reason="EMPTY_FILE"),
        "\n \r\n\t\n",
    )
    # --- thousands of columns --------------------------------------------------------------------
    wide = [f"列{i}" for i in range(3000)]
    add(
        Case(
            "thousands_of_columns",
            "hostile_csv",
            "wide.csv",
            "LOADED",
            50,
            50,
            checks=[["extra", 7, "列2999", "7-2999"], ["drift", 1000]],
        ),
        _csv(
            [[*r, *(f"{n}-{i}" for i in range(3000))] for n, r in enumerate(_people(50), 1)],
            header=[*HEADER, *wide],
        ),
    )
    # --- a file cut off mid-record ----------------------------------------------------------------
    add(
        Case(
            "truncated",
            "hostile_csv",
            "truncated.csv",
            "REJECTED",
            3,
            0,
            {1: "TRUNCATED_FILE", 2: "TRUNCATED_FILE", 3: "TRUNCATED_FILE"},
            file_reason="TRUNCATED_FILE",
        ),
        _csv(_people(3))[:-12],
    )
    # --- GBK with a '|' delimiter: trail bytes 0x7C inside characters (瑋 億 東) ------------------
    rows = [
        [f"G{i}", name, "", "1990-01-01", "东台市"] for i, name in enumerate(["王瑋", "陳億東", "李梶"], 1)
    ]
    add(
        Case(
            "gbk_trail_byte_is_delimiter",
            "hostile_gbk",
            "gbk_pipe.txt",
            "LOADED",
            3,
            3,
            checks=[["bronze", 2, "name", "陳億東"], ["bronze", 3, "address", "东台市"]],
        ),
        _csv(rows, sep="|", end="\r\n"),
        "gbk",
    )
    rows = [["G1", "𠀀𪚥", "", "1990-01-01", "x"]]  # four-byte GB18030 characters in a "GBK" file
    add(
        Case(
            "gb18030_four_byte",
            "hostile_gbk",
            "gb18030.txt",
            "LOADED",
            1,
            1,
            checks=[["bronze", 1, "name", "𠀀𪚥"]],
        ),
        _csv(rows, sep="|"),
        "gb18030",
    )
    rows = _people(3)
    add(
        Case(
            "unknown_encoding_gb18030",
            "hostile_unknown",
            "unknown.csv",
            "LOADED",
            3,
            3,
            checks=[["bronze", 1, "name", "人1"]],
        ),
        _csv(rows),
        "gb18030",
    )
    # --- over the source's limits: REJECTED unread, kept in raw ------------------------------------
    add(
        Case(
            "over_max_bytes", "hostile_csv_limited", "big.csv", "REJECTED", 0, 0, file_reason="FILE_TOO_LARGE"
        ),
        _csv(_people(40)),
    )
    add(
        Case(
            "over_max_rows", "hostile_csv_limited", "many.csv", "REJECTED", 0, 0, file_reason="TOO_MANY_ROWS"
        ),
        _csv([[f"R{i}", "人", "", "", ""] for i in range(8)]),
    )
    # --- JSON Lines --------------------------------------------------------------------------------
    lines = [
        {"cert": "D1", "xm": "甲", "swrq": "2020-01-01", "addr": {"city": "南京", "parts": [1, {"x": None}]}},
        '{"cert": "D2", "xm": "乙", "xm": "丙", "swrq": "2020-01-02"}',
        "[1, 2, 3]",
        '{"cert": "D4", "xm": ',
        {"cert": "D5", "xm": "戊", "swrq": "2020-01-05", "tags": ["a", "b"], "ok": True, "n": 12},
        "[" * 100_000 + "]" * 100_000,
        '{"cert": "D7", "xm": "庚\x00", "swrq": "2020-01-07"}',
        {"cert": "D8", "xm": "辛", "swrq": "2020-13-45"},
    ]
    text = (
        "\ufeff"
        + "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n"
    )
    add(
        Case(
            "json_nested_duplicates_garbage",
            "hostile_json",
            "deaths.jsonl",
            "LOADED_WITH_QUARANTINE",
            8,
            2,
            {
                2: "DUPLICATE_JSON_KEY",
                3: "BAD_JSON_RECORD",
                4: "BAD_JSON_RECORD",
                6: "BAD_JSON_RECORD",
                7: "NUL_BYTE",
                8: "UNPARSEABLE_REQUIRED_VALUE",
            },
            checks=[
                ["extra", 1, "addr", '{"city":"南京","parts":[1,{"x":null}]}'],
                ["extra", 5, "tags", '["a","b"]'],
                ["extra", 5, "ok", "true"],
                ["extra", 5, "n", "12"],
            ],
        ),
        text,
    )
    records = []
    for i in range(2000):
        record = {"cert": f"K{i}", "xm": f"名{i}", "swrq": "2021-02-03"}
        record |= {f"k{i}_{j}": str(j) for j in range(5)}
        records.append(json.dumps(record, ensure_ascii=False))
    add(
        Case(
            "json_thousands_of_keys",
            "hostile_json",
            "keys.jsonl",
            "LOADED",
            2000,
            2000,
            checks=[["extra", 2000, "k1999_4", "4"], ["drift", 1000]],
        ),
        "\n".join(records) + "\n",
    )
    # --- what Python's json decodes but Arrow cannot hold: a lone surrogate, a 5,000-digit number --
    lines = [
        '{"cert": "S1", "xm": "甲", "swrq": "2020-01-01"}',
        '{"cert": "S2", "xm": "\\ud800", "swrq": "2020-01-02"}',
        '{"cert": "S3", "xm": "丙", "swrq": "2020-01-03", "n": ' + "9" * 5000 + "}",
        '{"cert": "S4", "xm": "\\u4e01\\ud83d\\ude00", "swrq": "2020-01-04"}',
    ]
    add(
        Case(
            "json_surrogate_and_huge_number",
            "hostile_json",
            "surrogate.jsonl",
            "LOADED_WITH_QUARANTINE",
            4,
            2,
            {2: "BAD_JSON_RECORD", 3: "BAD_JSON_RECORD"},
            checks=[["bronze", 4, "name", "丁😀"], ["detail", 2, "lone surrogate"], ["detail", 3, "4300"]],
        ),
        "\n".join(lines) + "\n",
    )
    # --- XLSX ---------------------------------------------------------------------------------------
    header = ["统一社会信用代码", "企业名称", "成立日期", "备注"]
    sheet = [
        header,
        [
            "91320100MA1XXXXX01",
            "南京甲有限公司",
            dt.datetime(2015, 3, 9),
            "=A2&B2",
        ],  # a formula, never calculated
        ["91320100MA1XXXXX02", "南京乙有限公司", 42000, "存续"],  # a bare serial number in a date column
        ["91320100MA1XXXXX03", None, dt.date(2016, 4, 1), "合并"],  # 企业名称 merged from the row above
        ["91320100MA1XXXXX04", "南京丁有限公司", "2017/5/6", "x", "多余"],  # a cell beyond the header
    ]
    add(
        Case(
            "xlsx_formulas_merged_dates",
            "hostile_xlsx",
            "cells.xlsx",
            "LOADED_WITH_QUARANTINE",
            4,
            2,
            {3: "MISSING_REQUIRED_VALUE", 4: "WRONG_FIELD_COUNT"},
            checks=[
                ["bronze", 1, "established_on", "2015-03-09"],
                ["bronze", 1, "status", None],
                ["bronze", 2, "established_on", "42000"],
            ],
        ),
        _xlsx([("企业", sheet)], merge="B3:B4"),
    )
    add(
        Case(
            "xlsx_several_sheets",
            "hostile_xlsx",
            "sheets.xlsx",
            "LOADED_WITH_QUARANTINE",
            7,
            5,
            {6: "UNEXPECTED_SHEET", 7: "UNEXPECTED_SHEET"},
            checks=[["bronze", 5, "name", "第二页2"]],
        ),
        _xlsx(
            [
                ("第一页", [header[:3], *([f"U{i}", f"第一页{i}", "2015/1/1"] for i in range(1, 4))]),
                ("第二页", [header[:3], *([f"V{i}", f"第二页{i}", "2015/1/1"] for i in range(1, 3))]),
                ("说明", [["说明"], ["本表由系统导出"], ["联系人: 某某"]]),
            ]
        ),
    )
    stale = _xlsx([("企业", [header[:3], *([f"W{i}", f"企业{i}", "2015/1/1"] for i in range(1, 6))])])
    with zipfile.ZipFile(io.BytesIO(stale)) as archive:
        part = archive.read("xl/worksheets/sheet1.xml").decode()
    start = part.index("<dimension")
    part = part[:start] + '<dimension ref="A1:C2"/>' + part[part.index("/>", start) + 2 :]
    add(
        Case(
            "xlsx_stale_dimension",
            "hostile_xlsx",
            "stale.xlsx",
            "LOADED",
            5,
            5,
            checks=[["bronze", 5, "name", "企业5"]],
        ),
        _rezip(stale, {"xl/worksheets/sheet1.xml": part.encode()}),
    )
    small = _xlsx([("企业", [header[:3], ["B1", "炸弹", "2015/1/1"]])])
    add(
        Case(
            "xlsx_zip_bomb", "hostile_xlsx_tight", "bomb.xlsx", "REJECTED", 0, 0, file_reason="XLSX_TOO_LARGE"
        ),
        _rezip(small, {"xl/media/padding.bin": b"\0" * 50_000_000}),
    )
    big_sheet = _xlsx([("企业", [header[:3], *([f"F{i}", "x" * 200, "2015/1/1"] for i in range(20_000))])])
    add(
        Case(
            "xlsx_forged_size",
            "hostile_xlsx_tight",
            "forged.xlsx",
            "REJECTED",
            0,
            0,
            file_reason="UNREADABLE_FILE",
        ),
        _forge_size(big_sheet, "xl/worksheets/sheet1.xml", 1000),
    )
    add(
        Case(
            "xlsx_not_a_zip", "hostile_xlsx", "broken.xlsx", "REJECTED", 0, 0, file_reason="UNREADABLE_FILE"
        ),
        b"PK\x03\x04 this is not a workbook",
    )
    add(
        Case("xlsx_empty", "hostile_xlsx", "empty.xlsx", "EMPTY", 0, 0, file_reason="EMPTY_FILE"),
        _xlsx([("Sheet", [])]),
    )
    assert tuple(c.name for c in out) == NAMES, "NAMES must list every case, in order"
    return out


def registry_document() -> dict[str, Any]:
    real = yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))
    return {"version": 1, "datasets": real["datasets"], "sources": copy.deepcopy(SOURCES)}


def write_corpus(out: Path) -> list[Case]:
    """Write the corpus under ``out``; return its cases."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "sources.yaml").write_text(
        yaml.safe_dump(registry_document(), allow_unicode=True), encoding="utf-8"
    )
    written = cases()
    for case in written:
        path = out / "landing" / case.source_id / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
    (out / "expected.json").write_text(
        json.dumps([c.meta() for c in written], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    for case in write_corpus(target):
        print(f"{case.source_id:<20} {case.file:<32} {len(case.data):>12,} bytes  -> {case.status}")
