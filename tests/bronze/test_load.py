"""Landing and bronze loading on the local lake: accounting, idempotency, quarantine, drift."""

from __future__ import annotations

import pytest

from govlake import storage
from govlake.config import Zone

HEADER = "记录号|身份证号|姓名|出生日期|住址"


def _drop(settings, source_id: str, name: str, data: bytes) -> None:
    storage.write_bytes(settings, settings.table_path(Zone.LANDING, source_id, name), data)


def _table(spark, path: str):
    return spark.read.format("delta").load(path)


@pytest.fixture(scope="module")
def loaded(spark, settings, registry):
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
    _drop(settings, "test_household_gbk", "nj_20240101.csv", text.encode("gbk"))
    landed = land_new_files("test_household_gbk", settings)
    assert len(landed) == 1 and not landed[0]["already_landed"]
    return landed[0], load_file("test_household_gbk", landed[0]["file_hash"], settings)


def test_rows_in_equals_accepted_plus_quarantined(spark, settings, loaded):
    from jobs.bronze.load import bronze_table_uri, ingest_log_uri, quarantine_uri

    landed, result = loaded
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (5, 3, 2)
    assert result["status"] == "LOADED_WITH_QUARANTINE"
    assert result["drift_columns"] == ["手机"]

    bronze = _table(spark, bronze_table_uri("household_registration", settings))
    rows = {r["record_no"]: r for r in bronze.where(f"_file_hash = '{landed['file_hash']}'").collect()}
    assert sorted(rows) == ["R1", "R2", "R3"]
    assert rows["R2"]["birth_date"] == "１９９０年１月２日"  # bronze keeps what was sent
    assert rows["R1"]["_extra"] == {"手机": "13800000001"}
    assert rows["R3"]["_row_number"] == 3 and rows["R1"]["_prefecture"] == "3201"

    quarantine = _table(spark, quarantine_uri(settings)).where(f"_file_hash = '{landed['file_hash']}'")
    reasons = {r["_row_number"]: r["reason_code"] for r in quarantine.collect()}
    assert reasons == {4: "WRONG_FIELD_COUNT", 5: "MISSING_REQUIRED_VALUE"}

    entry = _table(spark, ingest_log_uri(settings)).where(f"file_hash = '{landed['file_hash']}'").collect()
    assert len(entry) == 1 and entry[0]["rows_in"] == 5 and entry[0]["encoding_used"] == "gb18030"


def test_same_file_again_changes_nothing(spark, settings, loaded):
    from jobs.bronze.load import bronze_table_uri, load_file
    from jobs.raw.land import land_new_files

    landed, _ = loaded
    path = bronze_table_uri("household_registration", settings)
    versions_before = _table(spark, f"{path}").count(), spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()

    # The same bytes under another name are recognised by hash; loading again is a no-op.
    _drop(settings, "test_household_gbk", "resent_copy.csv", storage.read_bytes(settings, landed["raw_path"]))
    assert land_new_files("test_household_gbk", settings) == []
    assert load_file("test_household_gbk", landed["file_hash"], settings)["status"] == "ALREADY_LOADED"
    versions_after = _table(spark, f"{path}").count(), spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count()
    assert versions_after == versions_before


def test_truncated_file_is_not_half_loaded(spark, settings, registry):
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    _drop(settings, "test_household_gbk", "cut.csv", (HEADER + "\nT1|1|甲|19900101|a\nT2|2|乙").encode("gbk"))
    landed = land_new_files("test_household_gbk", settings)
    result = load_file("test_household_gbk", landed[0]["file_hash"], settings)
    assert result["status"] == "REJECTED" and result["file_reason"] == "TRUNCATED_FILE"
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (2, 0, 2)


def test_unparseable_required_date_is_quarantined(spark, settings, registry):
    import json

    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    lines = [
        {"cert": "D1", "xm": "赵六", "swrq": "2020-13-45"},
        {"cert": "D2", "xm": "钱七", "swrq": "2021-02-03"},
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    _drop(settings, "test_deaths_json", "deaths.jsonl", body.encode("utf-8-sig"))
    landed = land_new_files("test_deaths_json", settings)
    result = load_file("test_deaths_json", landed[0]["file_hash"], settings)
    assert (result["rows_accepted"], result["rows_quarantined"]) == (1, 1)
