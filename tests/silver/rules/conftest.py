"""Fixtures for the rule tests.

Python workers (pandas UDFs) must run the venv's interpreter, not whatever ``python3`` is on PATH:
the shared session reads PYSPARK_PYTHON when it starts, so it is set here, at collection time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def apply(spark) -> Callable[..., list[Any]]:
    """``apply(rule, values)``: run a one-column rule over ``values`` and return the results in order."""

    def run(rule: Callable, values: Sequence[Any], dtype: str = "string") -> list[Any]:
        df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], f"i int, v {dtype}")
        rows = df.select("i", rule(df["v"]).alias("out")).orderBy("i").collect()
        return [r["out"] for r in rows]

    return run
