"""The extract reader: every data row comes out once, mapped or with a reason."""

from __future__ import annotations

import io
import json

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
    assert _parse(registry, "test_enterprise_xlsx", b"PK\x03\x04broken").file_reason is Reason.UNREADABLE_FILE
