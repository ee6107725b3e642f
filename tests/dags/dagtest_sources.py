"""The sources the DAG tests generate DAGs from (shared by conftest.py and the tests)."""

from __future__ import annotations

from govlake.config import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
AIRFLOW_INFRA = REPO_ROOT / "infra" / "airflow"

HOUSEHOLD_COLUMNS = {"记录号": "record_no", "身份证号": "id_number", "姓名": "name", "出生日期": "birth_date"}
PREFECTURES = [f"32{n:02d}" for n in range(1, 14)]  # the 13 prefecture-level cities

#: One household source per prefecture (as the real registry will have) plus province-level ones.
DAG_TEST_SOURCES = [
    {
        "id": f"dagtest_household_{code}",
        "department": "public_security",
        "dataset": "household_registration",
        "prefecture": code,
        "format": "csv",
        "encoding": "gbk",
        "delimiter": "|",
        "date_formats": ["yyyyMMdd"],
        "columns": HOUSEHOLD_COLUMNS,
        "classification": "important",
        "owner": f"{code} 公安局",
        "schedule": "0 2 * * *",
    }
    for code in PREFECTURES
] + [
    {
        "id": "dagtest_deaths_json",
        "department": "health",
        "dataset": "death_records",
        "prefecture": None,
        "format": "json",
        "encoding": "utf-8",
        "date_formats": ["yyyy-MM-dd"],
        "columns": {"cert": "certificate_no", "xm": "name", "swrq": "death_date"},
        "classification": "core",
        "owner": "省卫生健康委",
        "schedule": "30 3 * * *",
    },
    {
        "id": "dagtest_enterprise_xlsx",
        "department": "market_regulation",
        "dataset": "enterprise_registration",
        "prefecture": None,
        "format": "xlsx",
        "encoding": "utf-8",
        "date_formats": ["yyyy/M/d"],
        "columns": {"统一社会信用代码": "uscc", "企业名称": "name"},
        "classification": "general",
        "owner": "省市场监管局",
        "schedule": "0 4 * * 1",
    },
]
