"""Tiny bronze-shaped Delta tables for the quality-gate tests (rows and writer: tests/lakehelpers.py)."""

from __future__ import annotations

import pytest
from lakehelpers import household_rows, write_table

DATASET = "household_registration"


@pytest.fixture
def rows():
    """``rows(n, file_hash=..., start=...)``: clean household_registration rows."""
    return household_rows


@pytest.fixture
def write(spark):
    """``write(path, rows, mode="overwrite")``: write rows as a bronze-shaped Delta table."""
    return lambda path, data, mode="overwrite": write_table(spark, path, data, mode)
