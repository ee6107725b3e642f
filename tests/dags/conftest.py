"""Fixtures for the DAG tests: a registry of realistic size, an Airflow home that is not ~/airflow."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from dagtest_sources import DAG_TEST_SOURCES, DAGS_DIR

from govlake.config import REPO_ROOT

# Airflow reads its configuration when first imported: never let a test touch ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".run" / "pytest-airflow-home"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS_DIR))


@pytest.fixture(scope="session")
def dag_registry_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real registry's datasets with DAG_TEST_SOURCES (independent of the real sources list)."""
    doc = yaml.safe_load((REPO_ROOT / "registry" / "sources.yaml").read_text(encoding="utf-8"))
    doc = {"version": 1, "datasets": doc["datasets"], "sources": copy.deepcopy(DAG_TEST_SOURCES)}
    path = tmp_path_factory.mktemp("dag-registry") / "sources.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dag_registry(dag_registry_path: Path):
    from govlake.registry import load_registry

    return load_registry(dag_registry_path)
