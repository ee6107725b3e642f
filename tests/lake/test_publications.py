"""The publications in force are read once per log commit, and another process's publish is seen."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

TABLE = "bronze.household_registration"


def _lake_at(root: Path, spark):
    from govlake.config import load_settings
    from govlake.lake import Lake

    return Lake(load_settings({**os.environ, "GOVLAKE_STORAGE_ROOT": str(root)}), spark)


def _publication(lake, version: int):
    from govlake.lake import Publication

    now = datetime.now(UTC)
    return Publication(
        table=TABLE,
        table_path=lake.path(TABLE),
        delta_version=version,
        suite="bronze.household_registration",
        run_id=f"run-{version}",
        validated_at=now,
        published_at=now,
        summary="{}",
    )


def test_publications_are_read_again_only_after_a_new_commit(spark, tmp_path, monkeypatch):
    from govlake.lake import Lake

    root = tmp_path / "lake"
    reader, writer = _lake_at(root, spark), _lake_at(root, spark)  # two processes' Lake objects
    assert reader.publications() == {}  # a fresh lake: no log yet
    reads: list[int] = []
    original = Lake._read_publications

    def counted(self, version: int):
        reads.append(version)
        return original(self, version)

    monkeypatch.setattr(Lake, "_read_publications", counted)
    writer.publish([_publication(writer, 0)])
    assert reader.published_version(TABLE) == 0
    assert reader.pin([TABLE])[TABLE] == 0
    assert reader.publications()[TABLE].run_id == "run-0"
    assert reads == [0], "one commit of the log, one read"

    writer.publish([_publication(writer, 3)])  # another Lake publishes: the reader sees it
    assert reader.published_version(TABLE) == 3
    assert reads == [0, 1]

    # The cached answer cannot be changed through what a caller was handed.
    reader.publications().clear()
    assert reader.published_version(TABLE) == 3 and reads == [0, 1]
