"""Shared fixtures. The whole suite shares one SparkSession (JVM start-up costs ~15 s)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lakehelpers import settings_at

# A throw-away person-id key for this test session (the repo holds no key, not even for tests).
# Set before any settings are loaded; the servers and Airflow tasks the suite starts inherit it.
os.environ["GOVLAKE_PERSON_ID_KEY"] = secrets.token_hex(32)


#: Markers of the tests that start servers or run the pipeline end to end (see pyproject's markers).
HEAVY_MARKERS = ("objectstore", "airflow", "slow", "cluster", "sqlserver")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast unit tier first, then the heavy tests, each in collection order: a broken rule shows
    in the first minutes of CI, not after the end-to-end runs. No module mixes the two tiers, so no
    module fixture is set up twice."""
    items.sort(key=lambda item: any(item.get_closest_marker(m) for m in HEAVY_MARKERS))


@pytest.fixture(scope="session", autouse=True)
def share_keys_for_tests() -> None:
    """Throw-away sharing keys: the share step needs them on every lake but the embedded one."""
    for name in ("GOVLAKE_SHARE_PSEUDONYM_KEY", "GOVLAKE_SHARE_TOKEN_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh local storage root for this test session."""
    return tmp_path_factory.mktemp("lake")


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


#: The one generated province the read-only modules share (scale and seed of the whole-lake tests).
BUILT_SCALE, BUILT_SEED = 300, 11


@dataclass(frozen=True)
class BuiltLake:
    """A lake built once per session by every step of the graph, from generated extracts."""

    lake: Any  # govlake.lake.Lake
    generated: Path  # the generator's folder: landing/ (as delivered) and truth/
    runs: dict[str, Any]  # step name -> jobs.pipeline.run.StepRun
    landed_between: tuple[datetime, datetime]  # when the ingest steps started and finished

    def copy(self, target: Path) -> Any:  # -> govlake.lake.Lake
        """A copy of the whole lake at ``target`` for a module that changes it (Delta tables move
        with their folders: their logs hold relative paths)."""
        from govlake.lake import Lake

        shutil.copytree(self.lake.settings.storage_root, target)
        return Lake(settings_at(target), self.lake.spark)


@pytest.fixture(scope="session")
def built_lake(spark, tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    """Generate a small province, deliver it, run every step of the pipeline graph once.

    Modules that only read share it; a module that changes the lake takes ``built_lake.copy(...)``.
    """
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import StepKind, pipeline_graph
    from jobs.pipeline.run import run_steps
    from synthetic.deliver import deliver_extracts
    from synthetic.generator import generate

    generated = tmp_path_factory.mktemp("built_generated")
    generate(generated, BUILT_SCALE, BUILT_SEED, progress=False)
    lake = Lake(settings_at(tmp_path_factory.mktemp("built_lake")), spark)
    graph = pipeline_graph(load_registry(lake.settings.registry_path))
    deliver_extracts(generated / "landing", lake)
    started = datetime.now(UTC)
    runs = {r.step.name: r for r in run_steps(graph, lake, graph.of_kind(StepKind.INGEST))}
    landed = datetime.now(UTC)
    later = [s for s in graph.data_steps if s.kind is not StepKind.INGEST]
    runs |= {r.step.name: r for r in run_steps(graph, lake, later)}
    failed = [name for name, run in runs.items() if run.failed]
    assert not failed, f"the generated province fails gates: {failed}"
    return BuiltLake(lake, generated, runs, (started, landed))
