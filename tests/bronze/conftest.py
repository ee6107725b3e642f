"""A two-source registry built for the bronze tests, independent of the real registry's contents."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from govlake.config import REPO_ROOT

TEST_SOURCES = [
    {
        "id": "test_household_gbk",
        "department": "public_security",
        "dataset": "household_registration",
        "prefecture": "3201",
        "format": "csv",
        "encoding": "gbk",
        "delimiter": "|",
        "date_formats": ["yyyyMMdd", "yyyy年M月d日"],
        "columns": {
            "记录号": "record_no",
            "身份证号": "id_number",
            "姓名": "name",
            "出生日期": "birth_date",
            "住址": "address",
        },
        "classification": "important",
        "owner": "南京市公安局",
        "schedule": "0 2 * * *",
    },
    {
        "id": "test_deaths_json",
        "department": "health",
        "dataset": "death_records",
        "prefecture": None,
        "format": "json",
        "encoding": "unknown",
        "date_formats": ["yyyy-MM-dd"],
        "columns": {"cert": "certificate_no", "sfzh": "id_number", "xm": "name", "swrq": "death_date"},
        "constants": {"cause_code": "R99"},  # stated once for the extract, not per row
        "classification": "core",
        "owner": "省卫生健康委",
        "schedule": "0 3 * * *",
    },
    {
        "id": "test_enterprise_xlsx",
        "department": "market_regulation",
        "dataset": "enterprise_registration",
        "prefecture": None,
        "format": "xlsx",
        "encoding": "utf-8",
        "date_formats": ["yyyy/M/d"],
        "columns": {"统一社会信用代码": "uscc", "企业名称": "name", "成立日期": "established_on"},
        "classification": "general",
        "owner": "省市场监管局",
        "schedule": "0 4 * * 1",
    },
]


@pytest.fixture(scope="session")
def test_registry_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))
    doc = {"version": 1, "datasets": doc["datasets"], "sources": copy.deepcopy(TEST_SOURCES)}
    path = tmp_path_factory.mktemp("registry") / "sources.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def registry(test_registry_path: Path):
    """The test registry, active (via $GOVLAKE_REGISTRY) for one module only; later ones see the real one."""
    from govlake.registry import load_registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVLAKE_REGISTRY", str(test_registry_path))
        yield load_registry()


@pytest.fixture(scope="module")
def bronze_settings(own_lake, test_registry_path: Path, registry):
    """Settings for a lake of the module's own, on the test registry."""
    return dataclasses.replace(own_lake("bronze"), registry_path=test_registry_path.resolve())


def drop_file(settings, source_id: str, name: str, data: bytes) -> None:
    """Put ``data`` in the source's landing area as ``name``, as a department would."""
    from govlake import storage
    from govlake.lake import Lake

    storage.write_bytes(settings, f"{Lake(settings).location('landing', source_id=source_id)}/{name}", data)


@pytest.fixture(scope="session")
def drop():
    """``drop(settings, source_id, name, data)``: a file arrives in a source's landing area."""
    return drop_file
