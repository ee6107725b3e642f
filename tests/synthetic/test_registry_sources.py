"""The registry's sources section, and the dialect / constants extensions of the schema."""

from __future__ import annotations

import copy

import pytest
import yaml

from govlake.config import REPO_ROOT
from govlake.registry import Classification, FileFormat, RegistryError, parse_registry


def test_every_prefecture_sends_household_registration(registry):
    household = registry.sources_for("household_registration")
    assert sorted(s.prefecture for s in household) == [f"32{i:02d}" for i in range(1, 14)]
    headers = {frozenset(s.column_map) for s in household}
    assert len(headers) == 13  # no two bureaus send the same header
    id_headers = {s.canonical_to_source["id_number"] for s in household}
    assert {"公民身份号码", "身份证号", "证件号码"} <= id_headers
    assert {"gmsfhm", "GMSFHM", "id_no", "idCard"} <= id_headers


def test_variety_of_formats_encodings_delimiters_dates(registry):
    sources = list(registry.sources.values())
    assert {s.format for s in sources} == set(FileFormat)
    assert {"gbk", "gb18030", "utf-8", "utf-8-sig", "unknown"} <= {s.encoding for s in sources}
    assert {",", "|", "\t"} <= {s.delimiter for s in sources if s.format is FileFormat.CSV}
    patterns = {p for s in sources for p in s.date_formats}
    assert {"yyyyMMdd", "yyyy-MM-dd", "yyyy/M/d", "yyyy年M月d日"} <= patterns
    assert {Classification.GENERAL, Classification.IMPORTANT} <= {s.classification for s in sources}
    for dataset in (
        "birth_records",
        "death_records",
        "social_insurance_enrollment",
        "marriage_registration",
        "enterprise_registration",
        "taxpayer_registry",
        "address_points",
        "admin_divisions",
    ):
        assert registry.sources_for(dataset), dataset
    assert registry.source("nr_3205_address_points").constants == {"crs": "GCJ02"}
    for s in sources:
        assert s.owner and len(s.schedule.split()) == 5 and s.file_pattern != "*"


def _doc():
    doc = yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))
    base = {
        "id": "x",
        "dataset": "address_points",
        "owner": "o",
        "schedule": "0 0 * * *",
        "classification": "general",
        "columns": {"id": "address_id", "addr": "address", "lon": "longitude", "lat": "latitude"},
    }
    doc["dialects"] = {
        "nr": {
            "department": "natural_resources",
            "format": "csv",
            "encoding": "gbk",
            "columns": {"crs": "crs"},
        },
        "utf8": {"dialect": "nr", "encoding": "utf-8"},
    }
    doc["sources"] = [base]
    return doc


def test_dialects_merge_in_order_and_the_source_wins():
    doc = _doc()
    doc["sources"][0]["dialect"] = ["utf8"]
    doc["sources"][0]["delimiter"] = "|"
    src = parse_registry(doc).source("x")
    assert (src.department, src.format, src.encoding, src.delimiter) == (
        "natural_resources",
        "csv",
        "utf-8",
        "|",
    )
    assert src.column_map["crs"] == "crs" and src.column_map["id"] == "address_id"
    doc["sources"][0]["encoding"] = "gb18030"
    assert parse_registry(doc).source("x").encoding == "gb18030"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, d: s.update(dialect="nope"), "unknown dialect"),
        (
            lambda s, d: d["dialects"]["nr"].update(dialect="utf8") or s.update(dialect="utf8"),
            "refers to itself",
        ),
        (lambda s, d: s.update(dialect="nr", colums={}), "unknown keys"),
        (lambda s, d: s.update(dialect="nr", constants={"nope": "1"}), "constants for columns"),
        (lambda s, d: s.update(dialect="nr", constants={"crs": "GCJ02"}), "both mapped and constant"),
    ],
)
def test_registry_errors(change, message):
    doc = copy.deepcopy(_doc())
    change(doc["sources"][0], doc)
    with pytest.raises(RegistryError, match=message):
        parse_registry(doc)


def test_a_constant_can_supply_a_required_column():
    doc = _doc()
    doc["datasets"]["address_points"]["columns"]["crs"]["required"] = True
    doc["sources"][0]["dialect"] = "utf8"
    with pytest.raises(RegistryError):
        doc["dialects"]["nr"]["columns"] = {}
        parse_registry(doc)
    doc["sources"][0]["constants"] = {"crs": "WGS84"}
    assert parse_registry(doc).source("x").constants == {"crs": "WGS84"}
