"""Helpers for tests that build libraries on hand-made inputs (import: ``from lakehelpers import ...``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from govlake.registry import load_registry

DATASET = "household_registration"
FILE_HASH = "a" * 64


def settings_at(root: Any):
    """Settings whose storage root is ``root`` (the rest of the environment as it is).

    Here, not in a conftest: several folders have a conftest.py, so ``from conftest import`` picks
    whichever was imported last.
    """
    from govlake.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_STORAGE_ROOT")}
    env["GOVLAKE_STORAGE_ROOT"] = str(root)
    return load_settings(env)


def publish_latest(lake: Any, *table_ids: str) -> None:
    """Publish the newest version of tables a test wrote itself, without validating them.

    For unit tests of a build that need hand-made inputs in service; the gate's own tests publish
    through the gate.
    """
    from datetime import UTC, datetime

    from govlake.lake import Publication

    now = datetime.now(UTC)
    lake.publish(
        Publication(t, lake.path(t), lake.latest_version(t), "test", "test", now, now, "written by a test")
        for t in table_ids
    )


def run_build(lake: Any, step_name: str) -> dict[str, Any]:
    """Run one build step of the graph on ``lake`` as the pipeline does (pinned published inputs)."""
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import build

    step = pipeline_graph(load_registry(lake.settings.registry_path)).step(step_name)
    return build(step, lake)["counts"]


def household_rows(n: int, *, file_hash: str = FILE_HASH, start: int = 1) -> list[dict[str, Any]]:
    """``n`` clean household_registration rows shaped like jobs.bronze.load's (strings + lineage)."""
    ingested = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return [
        {
            "record_no": f"R{i:06d}",
            "id_number": None,
            "name": f"张{i}",
            "sex": "男" if i % 2 else "女",
            "birth_date": "19800101",
            "ethnicity": "汉族",
            "address": "南京市玄武区",
            "admin_code": "320102",
            "phone": None,
            "registered_on": "20200101",
            "_source_id": "hh_3201",
            "_prefecture": "3201",
            "_batch_id": "batch-1",
            "_file_hash": file_hash,
            "_row_number": i,
            "_ingested_at": ingested,
        }
        for i in range(start, start + n)
    ]


def bronze_schema() -> Any:
    from pyspark.sql import types as T

    dataset = load_registry().datasets[DATASET]
    fields = [T.StructField(c, T.StringType(), True) for c in dataset.column_names]
    fields.append(T.StructField("_extra", T.MapType(T.StringType(), T.StringType()), True))
    lineage = ("_source_id", "_prefecture", "_batch_id", "_file_hash")
    fields += [T.StructField(c, T.StringType(), True) for c in lineage]
    fields += [
        T.StructField("_row_number", T.IntegerType(), True),  # as jobs.bronze.load writes it
        T.StructField("_ingested_at", T.TimestampType(), True),
    ]
    return T.StructType(fields)


def write_table(spark: Any, path: str, rows: list[dict[str, Any]], mode: str = "overwrite") -> None:
    schema = bronze_schema()
    data = [tuple(r.get(f.name) for f in schema.fields) for r in rows]
    spark.createDataFrame(data, schema=schema).write.format("delta").mode(mode).save(path)


#: The keys the session generated; a test that builds a child environment from scratch adds them back.
SESSION_KEY_NAMES = ("GOVLAKE_PERSON_ID_KEY", "GOVLAKE_SHARE_PSEUDONYM_KEY", "GOVLAKE_SHARE_TOKEN_KEY")


def session_keys() -> dict[str, str]:
    """The session's throw-away keys, for a child process whose environment drops ``GOVLAKE_*``."""
    return {name: os.environ[name] for name in SESSION_KEY_NAMES if name in os.environ}
