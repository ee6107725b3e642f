"""The extract reader: every record comes out once, mapped or with a reason."""

from __future__ import annotations

import io
import json

import pytest

from jobs.bronze.readers import Reason, parse_extract, resolve_codec

HEADER = "记录号|身份证号|姓名|出生日期|住址\n"


def _csv(registry, text: str, encoding: str = "gbk") -> bytes:
    return text.encode(encoding)


def _parse(registry, source_id: str, data: bytes):
    source = registry.source(source_id)
    return parse_extract(data, source, registry.dataset_of(source))


def test_gbk_csv_rows_are_mapped_to_canonical_columns(registry):
    data = (HEADER + "R1|320102199001011234|张三|19900101|南京市玄武区\nR2||李四|1990年1月2日|\n").encode(
        "gbk"
    )
    parsed = _parse(registry, "test_household_gbk", data)
    assert parsed.encoding == "gb18030"
    assert [r.row_number for r in parsed.rows] == [1, 2]
    assert parsed.rows[0].fields == {
        "record_no": "R1",
        "id_number": "320102199001011234",
        "name": "张三",
        "birth_date": "19900101",
        "address": "南京市玄武区",
    }
    assert parsed.rows[1].fields["id_number"] is None
    assert all(r.reason is None for r in parsed.rows)


def test_wrong_field_count_and_undecodable_bytes_are_quarantined_per_row(registry):
    data = (HEADER + "R1|1|张三|19900101|a\nR2|2|李四\n").encode("gbk") + b"R3|3|\xff\xfe|19900101|b\n"
    parsed = _parse(registry, "test_household_gbk", data)
    assert [r.reason for r in parsed.rows] == [None, Reason.WRONG_FIELD_COUNT, Reason.UNDECODABLE_BYTES]
    assert parsed.file_reason is None
    assert "\\xff" in parsed.rows[2].raw_text  # the bad bytes are shown, not lost
    # ... and their exact place in the raw file is kept
    third = parsed.rows[2]
    assert data[third.raw_offset : third.raw_offset + third.raw_length] == b"R3|3|\xff\xfe|19900101|b\n"


def test_truncated_file_rejects_every_row(registry):
    data = (HEADER + "R1|1|张三|19900101|a\nR2|2|李").encode("gbk")
    parsed = _parse(registry, "test_household_gbk", data)
    assert parsed.file_reason is Reason.TRUNCATED_FILE
    assert [r.reason for r in parsed.rows] == [Reason.TRUNCATED_FILE] * 2


def test_missing_required_column_rejects_the_file_with_a_readable_reason(registry):
    data = "记录号|身份证号|出生日期\nR1|1|19900101\n".encode("gbk")
    parsed = _parse(registry, "test_household_gbk", data)
    assert parsed.file_reason is Reason.MISSING_REQUIRED_COLUMN
    assert "姓名 (name)" in parsed.file_detail


def test_schema_drift_keeps_the_new_column(registry):
    data = ("记录号|身份证号|姓名|出生日期|住址|手机\nR1|1|张三|19900101|a|13800000000\n").encode("gbk")
    parsed = _parse(registry, "test_household_gbk", data)
    assert parsed.drift_columns == ["手机"]
    assert parsed.rows[0].extra == {"手机": "13800000000"}


def test_empty_file_is_reported(registry):
    assert _parse(registry, "test_household_gbk", b"").file_reason is Reason.EMPTY_FILE
    assert _parse(registry, "test_household_gbk", HEADER.encode("gbk")).rows == []


def test_json_lines_detects_encoding_and_flags_bad_records(registry):
    lines = [json.dumps({"cert": "C1", "xm": "王五", "swrq": "2020-01-01"}, ensure_ascii=False), "{not json"]
    data = ("\n".join(lines) + "\n").encode("gb18030")
    parsed = _parse(registry, "test_deaths_json", data)
    assert parsed.encoding == "gb18030"
    assert parsed.rows[0].fields["name"] == "王五"
    assert parsed.rows[0].fields["cause_code"] == "R99"  # a registry constant fills the column
    assert parsed.rows[1].reason is Reason.BAD_JSON_RECORD
    assert parsed.file_reason is None


def test_utf8_with_bom_is_detected_and_stripped():
    assert resolve_codec("unknown", "\ufeffa,b".encode()) == "utf-8-sig"
    assert resolve_codec("UTF-8", b"a") == "utf-8-sig"


def test_xlsx_rows_and_date_cells(registry):
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "企业名称", "成立日期"])
    ws.append(["91320100MA1XXXXXX1", "南京某某有限公司", dt.date(2015, 3, 9)])
    ws.append(["91320100MA1XXXXXX2", "无锡某某有限公司", "2016/4/1", "多余"])
    buf = io.BytesIO()
    wb.save(buf)
    parsed = _parse(registry, "test_enterprise_xlsx", buf.getvalue())
    assert parsed.rows[0].fields["established_on"] == "2015-03-09"
    assert parsed.rows[1].reason is Reason.WRONG_FIELD_COUNT
    broken = _parse(registry, "test_enterprise_xlsx", b"PK\x03\x04broken")
    assert broken.file_reason is Reason.UNREADABLE_FILE and broken.rows == []


# ------------------------------------------------------------------ record boundaries and fates


def _with_limits(registry, source_id: str, **limits):
    import dataclasses

    source = registry.source(source_id)
    return dataclasses.replace(source, limits=dataclasses.replace(source.limits, **limits))


def _parse_with(source, registry, data: bytes):
    return parse_extract(data, source, registry.dataset_of(source))


def test_reading_goes_on_after_a_huge_field(registry):
    rows = [f"R{i}|{i}|名{i}|19900101|地址{i}" for i in range(1, 11)]
    rows[3] = "R4|4|名4|19900101|" + "长" * 200_000
    parsed = _parse(registry, "test_household_gbk", (HEADER + "\n".join(rows) + "\n").encode("gbk"))
    assert len(parsed.rows) == 10
    assert [r.row_number for r in parsed.rows if r.reason] == [4]
    assert parsed.rows[3].reason is Reason.FIELD_TOO_LONG and "200000 characters" in parsed.rows[3].detail
    assert parsed.rows[9].fields["record_no"] == "R10"


@pytest.mark.timeout(60)
def test_a_huge_quoted_field_is_read_alone_wherever_it_stands(registry):
    """A line over 64 KiB that the fast path refuses (a quote) is read line by line: mid-file it
    once recursed until Python's stack ran out, as the file's last line without a line end it
    looped forever."""
    rows = [f"R{i}|{i}|名{i}|19900101|地址{i}" for i in range(1, 11)]
    huge = '"' + "长" * 100_000 + '"'
    for where, end in ((3, "\n"), (9, "")):
        lines = list(rows)
        lines[where] = f"R{where + 1}|{where + 1}|名|19900101|{huge}"
        parsed = _parse(registry, "test_household_gbk", (HEADER + "\n".join(lines) + end).encode("gbk"))
        assert [(r.row_number, r.reason) for r in parsed.rows if r.reason] == [
            (where + 1, Reason.FIELD_TOO_LONG)
        ]
        assert len(parsed.rows) == 10 and parsed.file_reason is None


def test_an_unterminated_quote_costs_one_record(registry):
    rows = [f"R{i}|{i}|名{i}|19900101|地址{i}" for i in range(1, 11)]
    rows[4] = 'R5|5|"名5|19900101|地址5'  # the quote is never closed
    parsed = _parse(registry, "test_household_gbk", (HEADER + "\n".join(rows) + "\n").encode("gbk"))
    assert [(r.row_number, r.reason) for r in parsed.rows if r.reason] == [(5, Reason.UNTERMINATED_QUOTE)]
    assert parsed.rows[4].raw_text == 'R5|5|"名5|19900101|地址5'
    assert [r.fields["record_no"] for r in parsed.rows if not r.reason] == [
        f"R{i}" for i in (1, 2, 3, 4, 6, 7, 8, 9, 10)
    ]


def test_a_quoted_line_break_joins_lines_into_one_record(registry):
    data = (HEADER + 'R1|1|"张\n三"|19900101|a\nR2|2|"a""b"|19900101|b\n').encode("gbk")
    parsed = _parse(registry, "test_household_gbk", data)
    assert [r.fields["name"] for r in parsed.rows] == ["张\n三", 'a"b']
    assert parsed.rows[1].row_number == 2


def test_a_quote_open_past_the_line_limit_is_cut_back(registry):
    source = _with_limits(registry, "test_household_gbk", max_record_lines=3)
    lines = ['R1|1|"名1|19900101|a', *(f"x{i}" for i in range(5)), 'R2|2|名2"|19900101|b']
    parsed = _parse_with(source, registry, (HEADER + "\n".join(lines) + "\n").encode("gbk"))
    assert parsed.rows[0].reason is Reason.UNTERMINATED_QUOTE
    assert len(parsed.rows) == 7  # the first line, then every line read again as its own record


def test_a_line_over_the_record_limit_is_not_held_whole(registry):
    source = _with_limits(registry, "test_household_gbk", max_record_bytes=1000)
    data = (HEADER + "R1|1|名1|19900101|a\n" + "R2|2|" + "x" * 5000 + "\nR3|3|名3|19900101|c\n").encode("gbk")
    parsed = _parse_with(source, registry, data)
    assert [r.reason for r in parsed.rows] == [None, Reason.RECORD_TOO_LONG, None]
    long = parsed.rows[1]
    assert len(long.raw_text) == 1000 and long.raw_length == 5006
    assert data[long.raw_offset : long.raw_offset + long.raw_length].startswith(b"R2|2|xxx")


def test_line_ends_nul_bom_and_a_repeated_header(registry):
    body = "R1|1|甲|19900101|a\rR2|2|乙|19900101|b\r\nR3|3|丙|19900101|c\n"
    body += "R4|4|丁\x00|19900101|d\n\ufeff" + HEADER + "R5|5|戊|19900101|e\n"
    parsed = _parse(registry, "test_household_gbk", ("\ufeff" + HEADER + body).encode("gb18030"))
    assert [r.reason for r in parsed.rows] == [
        None,
        None,
        None,
        Reason.NUL_BYTE,
        Reason.REPEATED_HEADER,
        None,
    ]
    assert parsed.rows[4].raw_text.startswith("\ufeff记录号")


def test_duplicate_and_empty_header_names(registry):
    data = "记录号|身份证号|姓名|出生日期|住址|备注|备注|\nR1|1|张三|19900101|a|x|y|z\n".encode("gbk")
    parsed = _parse(registry, "test_household_gbk", data)
    assert parsed.file_reason is None
    assert parsed.rows[0].extra == {"备注": "x", "备注#2": "y", "_column_8": "z"}
    twice = _parse(registry, "test_household_gbk", "记录号|姓名|姓名\nR1|甲|乙\n".encode("gbk"))
    assert twice.file_reason is Reason.DUPLICATE_COLUMN
    assert [r.reason for r in twice.rows] == [Reason.DUPLICATE_COLUMN]


def test_json_values_keys_and_bad_records(registry):
    lines = [
        '{"cert": "C1", "xm": "甲", "swrq": "2020-01-01", "addr": {"city": "南京"}, "tags": [1, 2]}',
        '{"cert": "C2", "xm": "乙", "xm": "丙", "swrq": "2020-01-02"}',
        "[1, 2]",
        '{"cert": "C3", "xm": "丁", "swrq": "2020-01-03", "ok": true, "n": 1.50}',
    ]
    parsed = _parse(registry, "test_deaths_json", ("\n".join(lines) + "\n").encode())
    assert [r.reason for r in parsed.rows] == [None, Reason.DUPLICATE_JSON_KEY, Reason.BAD_JSON_RECORD, None]
    assert parsed.rows[0].extra == {"addr": '{"city":"南京"}', "tags": "[1,2]"}
    assert parsed.rows[3].extra == {"ok": "true", "n": "1.5"}
    assert parsed.drift_columns == ["addr", "tags", "ok", "n"]


def test_limits_refuse_a_file_unread(registry):
    data = (HEADER + "".join(f"R{i}|{i}|名|19900101|a\n" for i in range(10))).encode("gbk")
    too_many = _parse_with(_with_limits(registry, "test_household_gbk", max_rows=5), registry, data)
    assert (too_many.file_reason, too_many.rows) == (Reason.TOO_MANY_ROWS, [])
    too_big = _parse_with(_with_limits(registry, "test_household_gbk", max_bytes=100), registry, data)
    assert too_big.file_reason is Reason.FILE_TOO_LARGE and "over the source's limits.max_bytes" in (
        too_big.file_detail
    )


def test_fast_path_and_line_by_line_agree(registry, monkeypatch):
    """A record's fate does not depend on which path read its chunk."""
    import random

    import jobs.bronze.readers as readers

    rng = random.Random(7)
    pieces = ["a", "张", " ", "x" * 30, "", "\ufeff", '"']
    for _ in range(120):
        lines = [HEADER.rstrip("\n")]
        for _ in range(rng.randint(0, 30)):
            fields = [
                "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
                for _ in range(rng.choice([5, 5, 4, 6]))
            ]
            lines.append("|".join(fields))
            if rng.random() < 0.1:
                lines.append(rng.choice(["", "  ", "\t", HEADER.rstrip("\n")]))
        data = (rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])).encode("gb18030")
        source = _with_limits(registry, "test_household_gbk", max_field_length=rng.randint(1, 40))
        fast = _parse_with(source, registry, data)
        with monkeypatch.context() as m:
            m.setattr(readers._CsvReader, "_fast", lambda self, block, offset: False)
            slow = _parse_with(source, registry, data)
        assert [r.row_number for r in fast.rows] == list(range(1, len(fast.rows) + 1))
        assert fast.rows == slow.rows


def test_json_block_decoding_and_line_by_line_agree(registry, monkeypatch):
    """A JSON record's fate and values do not depend on whether its block was decoded in one call:
    duplicate keys (also behind escapes), nesting, NaN, huge numbers, BOMs, blank and broken lines."""
    import random

    import jobs.bronze.readers as readers

    rng = random.Random(11)
    keys = ["cert", "xm", "swrq", "sfzh", "note", r"c\u0065rt", r"x\"y"]
    values = [
        *('"C1"', '"甲"', '"2020-01-01"', '""', "null", "true", "false", "0", "-0", "1.50", "5.0"),
        *("1e5", "1e400", "NaN", "-Infinity", "1" * 4400, "12345678901234567890", r'"a\nb"'),
        *(r'"\ud800"', '{"k": "v"}', "[1, 2]", '"長' + "x" * 30 + '"', r'"quote \" inside"'),
    ]
    broken = ["[1, 2]", '"text"', "1, 2", "{", "", "  ", "\ufeff{}", '{"cert": "C9"} x']
    for _ in range(150):
        lines = []
        for _ in range(rng.randint(0, 25)):
            pairs = [f'"{rng.choice(keys)}": {rng.choice(values)}' for _ in range(rng.randint(0, 5))]
            lines.append(rng.choice(broken) if rng.random() < 0.05 else "{" + ", ".join(pairs) + "}")
        data = (rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])).encode()
        source = _with_limits(registry, "test_deaths_json", max_field_length=rng.choice([20, 65536]))
        fast = _parse_with(source, registry, data)
        with monkeypatch.context() as m:
            m.setattr(readers._JsonReader, "_fast", lambda self, block, offset: False)
            slow = _parse_with(source, registry, data)
        assert [r.row_number for r in fast.rows] == list(range(1, len(fast.rows) + 1))
        assert (fast.rows, fast.drift_columns, fast.file_reason) == (
            slow.rows,
            slow.drift_columns,
            slow.file_reason,
        )
