"""The whole pipeline in one process, for the embedded default and for tests.

Airflow runs the same job functions task by task (``dags/``); this module strings them together
so a newcomer can run everything with one command and no servers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from govlake import storage
from govlake.config import Settings, Zone, load_settings
from govlake.registry import load_registry

log = logging.getLogger(__name__)


def deliver_extracts(generated_landing: Path, settings: Settings) -> int:
    """Copy generated extracts into the lake's landing zone, as departments would upload them."""
    count = 0
    for path in sorted(p for p in generated_landing.rglob("*") if p.is_file()):
        relative = path.relative_to(generated_landing).as_posix()
        storage.write_bytes(settings, f"{settings.zone(Zone.LANDING)}/{relative}", path.read_bytes())
        count += 1
    return count


def ingest_source(source_id: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Land and load every waiting file of one source (what its ingestion DAG does)."""
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    settings = settings or load_settings()
    return [load_file(source_id, f["file_hash"], settings) for f in land_new_files(source_id, settings)]


def ingest_all(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Ingest every registry source; returns one accounting entry per file loaded."""
    settings = settings or load_settings()
    results: list[dict[str, Any]] = []
    for source_id in load_registry().sources:
        results.extend(ingest_source(source_id, settings))
    return results


def build_silver(settings: Settings | None = None) -> dict[str, Any]:
    """Build the three base libraries in dependency order (persons before legal representatives,
    both before grid-cell counts)."""
    from jobs.silver.geography.build import build_geography
    from jobs.silver.legal_persons.build import build_legal_persons
    from jobs.silver.population.build import build_population

    settings = settings or load_settings()
    return {
        "population": build_population(settings),
        "legal_persons": build_legal_persons(settings),
        "geography": build_geography(settings),
    }
