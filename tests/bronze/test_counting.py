"""The independent record count: agrees with the reader on sound and hostile input, by other means."""

from __future__ import annotations

import dataclasses
import io
import random

from jobs.bronze.counting import count_records, count_sheet_rows
from jobs.bronze.readers import BytesExtract, parse_extract

HEADER = "记录号|身份证号|姓名|出生日期|住址\n"


def _source(registry, source_id: str, **changes):
    source = registry.source(source_id)
    limits = changes.pop("limits", {})
    return dataclasses.replace(source, limits=dataclasses.replace(source.limits, **limits), **changes)


def _both(source, registry, data: bytes) -> tuple[int, int]:
    parsed = parse_extract(data, source, registry.dataset_of(source))
    counted = count_records(BytesExtract(data), source, parsed.encoding) if parsed.rows else 0
    return counted, len(parsed.rows)


def test_counts_records_not_lines(registry):
    source = registry.source("test_household_gbk")
    body = 'R1|1|"张\n三"|19900101|a\r\n\r\n  \t\nR2|2|"a""b"x|19900101|b\rR3|3|x"y|1|c\n'
    assert count_records(BytesExtract((HEADER + body).encode("gbk")), source, "gb18030") == 3
    unterminated = HEADER + 'R1|1|"张三|19900101|a\nR2|2|李四|19900101|b\n'
    assert count_records(BytesExtract(unterminated.encode("gbk")), source, "gb18030") == 2


def test_agrees_with_the_reader_on_random_hostile_text(registry):
    rng = random.Random(11)
    pieces = ["a", "b", "|", '"', "\n", "\r", "\r\n", " ", "\t", "张", "\ufeff", '""', "x" * 12, "\x00"]
    for _ in range(1500):
        source = _source(
            registry,
            "test_household_gbk",
            delimiter=rng.choice(["|", ",", "\t"]),
            encoding=rng.choice(["gb18030", "utf-8"]),
            limits={
                "max_record_lines": rng.randint(1, 5),
                "max_record_bytes": rng.randint(5, 60),
                "max_field_length": rng.randint(1, 30),
            },
        )
        header = rng.choice([HEADER, "", '"a|b\n', "记录号|姓名\r"])
        data = (header + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))).encode(
            source.encoding
        )
        if rng.random() < 0.1:
            data += b"\xff\xfe\x81"
        counted, emitted = _both(source, registry, data)
        assert counted == emitted, data


def test_json_lines_count_non_blank_lines(registry):
    source = registry.source("test_deaths_json")
    data = b'{"cert": "1"}\r\n\n  \nnot json\r{"cert": "2"}\n[1]'
    assert _both(source, registry, data) == (4, 4)


def test_workbook_rows_are_counted_from_the_sheet_xml(registry):
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    first.append(["统一社会信用代码", "企业名称", "成立日期"])
    first.append(["A1", "甲", "2015/1/1"])
    first.append([None, None, None])  # no value: not a row
    first.append(["A2", "乙", "2015/1/2"])
    second = workbook.create_sheet("续")
    second.append(["统一社会信用代码", "企业名称", "成立日期"])
    second.append(["A3", "丙", "2015/1/3"])
    workbook.create_sheet("空")
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = registry.source("test_enterprise_xlsx")
    parsed = parse_extract(buffer.getvalue(), source, registry.dataset_of(source))
    assert count_sheet_rows(io.BytesIO(buffer.getvalue())) == len(parsed.rows) == 3
