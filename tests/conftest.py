"""Shared fixtures. The whole suite shares one SparkSession (JVM start-up costs ~15 s)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def share_keys_for_tests() -> None:
    """Throw-away sharing keys: the share step needs them on every lake but the embedded one."""
    for name in ("GOVLAKE_SHARE_PSEUDONYM_KEY", "GOVLAKE_SHARE_TOKEN_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh local storage root for this test session."""
    return tmp_path_factory.mktemp("lake")


def settings_at(root: Path):
    """Settings whose storage root is ``root`` (the rest of the environment as it is)."""
    from govlake.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_STORAGE_ROOT")}
    env["GOVLAKE_STORAGE_ROOT"] = str(root)
    return load_settings(env)


@pytest.fixture(scope="session")
def settings(lake_root: Path):
    return settings_at(lake_root)


@pytest.fixture(scope="session")
def own_lake(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """``own_lake(name)``: settings for a fresh lake of a module's own.

    For modules that assert exact figures over a whole lake: the session lake also holds other
    modules' tables. The Spark session stays shared (it is not tied to a storage root).
    """
    return lambda name: settings_at(tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def spark(settings) -> Iterator:
    """One SparkSession (local files, Delta enabled) for the whole test session."""
    from govlake.spark import get_spark, stop_spark

    session = get_spark(settings, app_name="govlake-tests")
    yield session
    stop_spark()
