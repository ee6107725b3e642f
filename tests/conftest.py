"""Shared fixtures. The whole suite shares one SparkSession (JVM start-up costs ~15 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh local storage root for this test session."""
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="session")
def settings(lake_root: Path):
    from govlake.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_STORAGE_ROOT")}
    env["GOVLAKE_STORAGE_ROOT"] = str(lake_root)
    return load_settings(env)


@pytest.fixture(scope="session")
def spark(settings) -> Iterator:
    """One SparkSession (local files, Delta enabled) for the whole test session."""
    from govlake.spark import get_spark, stop_spark

    session = get_spark(settings, app_name="govlake-tests")
    yield session
    stop_spark()
