"""The whole pipeline in one process, for the embedded default and for tests.

Airflow runs the same job functions task by task (``dags/``); this module strings them together
so a newcomer can run everything with one command and no servers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


def gate_bronze_tables(settings: Settings | None = None) -> list[Any]:
    """Validate every bronze table's newest version against its suite (what each ingest DAG does).

    Returns the new publications; raises :class:`jobs.quality.gate.QualityGateFailed` on a failure.
    """
    from jobs.quality.gate import gate_bronze

    settings = settings or load_settings()
    published = [gate_bronze(name, settings=settings) for name in load_registry().datasets]
    return [p for p in published if p is not None]


def library_builders() -> dict[str, Callable[[Settings], dict[str, Any]]]:
    """The base libraries' build functions in dependency order (persons before legal
    representatives, both before grid-cell counts)."""
    from jobs.silver.geography.build import build_geography
    from jobs.silver.legal_persons.build import build_legal_persons
    from jobs.silver.population.build import build_population

    return {
        "population": build_population,
        "legal_persons": build_legal_persons,
        "geography": build_geography,
    }


def build_silver(settings: Settings | None = None) -> dict[str, Any]:
    """Build the three base libraries in dependency order, without the quality gate."""
    settings = settings or load_settings()
    return {library: build(settings) for library, build in library_builders().items()}


@dataclass(frozen=True)
class LibraryRun:
    """One library built and gated: what the build wrote, what the gate published, and the cost."""

    library: str
    counts: dict[str, Any]
    build_seconds: float
    gate: Any  # jobs.quality.gate.GateResult

    @property
    def validation_to_build(self) -> float:
        """Seconds spent validating per second spent building (the gate's relative cost)."""
        return self.gate.seconds / self.build_seconds if self.build_seconds else 0.0


def build_and_gate_silver(settings: Settings | None = None) -> Iterator[LibraryRun]:
    """Build each base library, then pass it through its quality gate before the next one.

    A library that fails its gate raises :class:`jobs.quality.gate.QualityGateFailed` and the run
    stops there: nothing of it is published and the libraries after it are not built (they would be
    built on unpublished data), exactly as the Airflow DAGs do. The previous publications stay in force.
    """
    from jobs.quality.gate import gate_library

    settings = settings or load_settings()
    for library, build in library_builders().items():
        started = time.perf_counter()
        counts = build(settings)
        build_seconds = time.perf_counter() - started
        yield LibraryRun(library, counts, build_seconds, gate_library(library, settings=settings))
