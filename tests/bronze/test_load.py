"""Landing and bronze loading on the local lake: accounting, idempotency, quarantine, drift."""

from __future__ import annotations

import pytest

from govlake import storage
from govlake.lake import Lake

HEADER = "记录号|身份证号|姓名|出生日期|住址"


def _table(spark, settings, table_id: str):
    return spark.read.format("delta").load(Lake(settings).path(table_id))


@pytest.fixture(scope="module")
def loaded(spark, bronze_settings, drop):
    """One GBK household file with good rows, a bad date, a short row and a drifted column."""
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    text = "\n".join(
        [
            HEADER + "|手机",
            "R1|320102199001011234|张三|19900101|南京市玄武区|13800000001",
            "R2||李四|１９９０年１月２日||",
            "R3|320102199001011234|张三|19900101|南京市玄武区|13800000001",  # exact duplicate content
            "R4|x|王五|19900101",  # wrong field count
            "R5|x||19900101|a|b",  # required name empty
            "",
        ]
    )
    drop(bronze_settings, "test_household_gbk", "nj_20240101.csv", text.encode("gbk"))
    landed = land_new_files("test_household_gbk", bronze_settings)
    assert len(landed) == 1 and not landed[0]["already_landed"]
    return landed[0], load_file("test_household_gbk", landed[0]["file_hash"], bronze_settings)


def test_rows_in_equals_accepted_plus_quarantined(spark, bronze_settings, loaded):
    landed, result = loaded
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (5, 3, 2)
    assert result["status"] == "LOADED_WITH_QUARANTINE"
    assert result["drift_columns"] == ["手机"]

    bronze = _table(spark, bronze_settings, "bronze.household_registration")
    rows = {r["record_no"]: r for r in bronze.where(f"_file_hash = '{landed['file_hash']}'").collect()}
    assert sorted(rows) == ["R1", "R2", "R3"]
    assert rows["R2"]["birth_date"] == "１９９０年１月２日"  # bronze keeps what was sent
    assert rows["R1"]["_extra"] == {"手机": "13800000001"}
    assert rows["R3"]["_row_number"] == 3 and rows["R1"]["_prefecture"] == "3201"

    quarantine = _table(spark, bronze_settings, "quarantine.bronze_rows").where(
        f"_file_hash = '{landed['file_hash']}'"
    )
    rows = {r["_row_number"]: r for r in quarantine.collect()}
    assert {n: r["reason_code"] for n, r in rows.items()} == {
        4: "WRONG_FIELD_COUNT",
        5: "MISSING_REQUIRED_VALUE",
    }
    raw = storage.read_bytes(bronze_settings, landed["raw_path"])
    wrong = rows[4]
    assert raw[
        wrong["raw_offset"] : wrong["raw_offset"] + wrong["raw_length"]
    ] == "R4|x|王五|19900101\n".encode("gbk")

    entry = (
        _table(spark, bronze_settings, "bronze._ingest_log")
        .where(f"file_hash = '{landed['file_hash']}'")
        .collect()
    )
    assert len(entry) == 1 and entry[0]["rows_in"] == 5 and entry[0]["encoding_used"] == "gb18030"


def test_same_file_again_changes_nothing(spark, bronze_settings, loaded, drop):
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    landed, _ = loaded
    path = Lake(bronze_settings).path("bronze.household_registration")
    versions_before = (
        _table(spark, bronze_settings, "bronze.household_registration").count(),
        spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count(),
    )

    # The same bytes under another name are recognised by hash; loading again is a no-op.
    drop(
        bronze_settings,
        "test_household_gbk",
        "resent_copy.csv",
        storage.read_bytes(bronze_settings, landed["raw_path"]),
    )
    assert land_new_files("test_household_gbk", bronze_settings) == []
    assert load_file("test_household_gbk", landed["file_hash"], bronze_settings)["status"] == "ALREADY_LOADED"
    versions_after = (
        _table(spark, bronze_settings, "bronze.household_registration").count(),
        spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count(),
    )
    assert versions_after == versions_before


def test_truncated_file_is_not_half_loaded(spark, bronze_settings, drop):
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    drop(
        bronze_settings,
        "test_household_gbk",
        "cut.csv",
        (HEADER + "\nT1|1|甲|19900101|a\nT2|2|乙").encode("gbk"),
    )
    landed = land_new_files("test_household_gbk", bronze_settings)
    result = load_file("test_household_gbk", landed[0]["file_hash"], bronze_settings)
    assert result["status"] == "REJECTED" and result["file_reason"] == "TRUNCATED_FILE"
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (2, 0, 2)


def test_unparseable_required_date_is_quarantined(spark, bronze_settings, drop):
    import json

    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    lines = [
        {"cert": "D1", "xm": "赵六", "swrq": "2020-13-45"},
        {"cert": "D2", "xm": "钱七", "swrq": "2021-02-03"},
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    drop(bronze_settings, "test_deaths_json", "deaths.jsonl", body.encode("utf-8-sig"))
    landed = land_new_files("test_deaths_json", bronze_settings)
    result = load_file("test_deaths_json", landed[0]["file_hash"], bronze_settings)
    assert (result["rows_accepted"], result["rows_quarantined"]) == (1, 1)


def test_a_reader_that_loses_a_record_is_caught_and_nothing_is_written(
    spark, bronze_settings, drop, monkeypatch
):
    """The accounting check counts the raw bytes itself: a reader dropping a record cannot agree."""
    import jobs.bronze.readers as readers
    from jobs.bronze.load import AccountingError, load_file
    from jobs.raw.land import land_new_files, loaded_marker_path

    real_record = readers._CsvReader._record

    def lossy(self, lines, values):  # silently skips record L3
        if self.header is not None and values and values[0] == "L3":
            return
        real_record(self, lines, values)

    monkeypatch.setattr(readers._CsvReader, "_record", lossy)
    monkeypatch.setattr(readers._CsvReader, "_fast", lambda self, block, offset: False)
    text = HEADER + "\n" + "".join(f"L{i}|{i}|名{i}|19900101|地址{i}\n" for i in range(1, 6))
    drop(bronze_settings, "test_household_gbk", "lossy.csv", text.encode("gbk"))
    [landed] = [
        f for f in land_new_files("test_household_gbk", bronze_settings) if f["original_name"] == "lossy.csv"
    ]
    with pytest.raises(AccountingError, match="the raw bytes hold 5 records but the reader staged 4 sound"):
        load_file("test_household_gbk", landed["file_hash"], bronze_settings)
    for table_id, column in (
        ("bronze.household_registration", "_file_hash"),
        ("quarantine.bronze_rows", "_file_hash"),
        ("bronze._ingest_log", "file_hash"),
    ):
        assert (
            _table(spark, bronze_settings, table_id).where(f"{column} = '{landed['file_hash']}'").count() == 0
        )
    assert not storage.exists(
        bronze_settings, loaded_marker_path(bronze_settings, "test_household_gbk", landed["file_hash"])
    )

    monkeypatch.undo()  # the reader mended: the same file now loads whole
    result = load_file("test_household_gbk", landed["file_hash"], bronze_settings)
    assert (result["rows_in"], result["rows_accepted"]) == (5, 5)
