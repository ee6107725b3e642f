"""Which version of each table readers may see: the publication log, pins, and published reads.

A quality gate that passes a table version appends a row to ``share.publications``; from then on
that version is the one served. Readers never read a published table's newest version: a run
**pins** the published version of every input once (:meth:`Lake.pin`), reads exactly those
versions (:meth:`Pins.read`), and records the pins beside what it publishes, so every published
version says what it was built from. A version that failed its gate is never pinned, so nothing
downstream ever reads it; the previously published one stays in service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from govlake.config import Settings
from govlake.lake import delta
from govlake.lake.catalogue import Catalogue, Table, load_catalogue
from govlake.registry import load_registry

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PUBLICATIONS = "share.publications"
#: The suite of a publication that re-publishes a compacted copy of the version in force
#: (the maintenance step): same rows, newer Delta version, no gate needed.
MAINTENANCE_SUITE = "maintenance"

PUBLICATIONS_DDL = (
    "table string not null, table_path string not null, delta_version long not null, "
    "suite string not null, run_id string not null, validated_at timestamp not null, "
    "published_at timestamp not null, summary string not null, inputs string"
)


class NotPublished(LookupError):
    """No version of the table has been published."""


@dataclass(frozen=True)
class Publication:
    table: str
    table_path: str
    delta_version: int
    suite: str
    run_id: str
    validated_at: datetime
    published_at: datetime
    summary: str
    #: The pinned input versions this version was built from (table id -> Delta version).
    inputs: Mapping[str, int] = field(default_factory=dict)

    @property
    def same_data_as(self) -> tuple[int, ...]:
        """Every Delta version holding exactly this version's rows (itself first): a maintenance
        re-publication stands for the versions it compacted."""
        if self.suite != MAINTENANCE_SUITE:
            return (self.delta_version,)
        earlier = json.loads(self.summary).get("same_data_as", [])
        return (self.delta_version, *(int(v) for v in earlier))

    def covers(self, version: int, inputs: Mapping[str, int]) -> bool:
        """This publication already stands for ``version`` built from ``inputs`` (no inputs named:
        the version alone): a gate has nothing to validate or publish again."""
        return self.delta_version == version and (not inputs or dict(self.inputs) == dict(inputs))


@dataclass(frozen=True)
class Pins(Mapping[str, int | None]):
    """Input table id -> the Delta version a run reads (None: never published, so not read)."""

    versions: Mapping[str, int | None]
    paths: Mapping[str, str]

    def __getitem__(self, table_id: str) -> int | None:
        return self.versions[table_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.versions)

    def __len__(self) -> int:
        return len(self.versions)

    def read(self, spark: SparkSession, table_id: str) -> DataFrame | None:
        """The pinned version of ``table_id``, or None when no version of it was ever published."""
        if table_id not in self.versions:
            raise KeyError(f"{table_id} is not an input of this run (pinned: {', '.join(self.versions)})")
        version = self.versions[table_id]
        return None if version is None else delta.read_version(spark, self.paths[table_id], version)

    def published(self) -> dict[str, int]:
        """The pins that name a version (for lineage records)."""
        return {t: v for t, v in self.versions.items() if v is not None}


class Lake:
    """The catalogue bound to one lake (settings) and Spark session: paths, versions, published reads."""

    def __init__(
        self, settings: Settings, spark: SparkSession | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(
            load_registry(settings.registry_path), shares=settings.shares_path
        )
        self._spark = spark
        #: The publications in force, with the log version they were read at (see publications()).
        self._in_force: tuple[tuple[int, int], dict[str, Publication]] | None = None

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from govlake.spark import get_spark

            self._spark = get_spark(self.settings)
        return self._spark

    # -- where things are ------------------------------------------------------------------------

    def table(self, table_id: str) -> Table:
        return self.catalogue.table(table_id)

    def path(self, table_id: str) -> str:
        return self.catalogue.path(table_id, self.settings)

    def location(self, location_id: str, **values: str) -> str:
        return self.catalogue.location(location_id, self.settings, **values)

    # -- versions --------------------------------------------------------------------------------

    def exists(self, table_id: str) -> bool:
        return delta.is_delta_table(self.spark, self.path(table_id))

    def latest_version(self, table_id: str) -> int | None:
        """The newest version: what a gate judges. Readers use published versions instead."""
        return delta.latest_version(self.spark, self.path(table_id))

    def read_latest(self, table_id: str) -> DataFrame | None:
        """The newest version, for the step that writes the table (and its gate) only."""
        return delta.read_latest(self.spark, self.path(table_id))

    def read_version(self, table_id: str, version: int) -> DataFrame:
        return delta.read_version(self.spark, self.path(table_id), version)

    def publications(self) -> dict[str, Publication]:
        """The publication in force for every published table.

        Read again only when the log has a newer commit than the last read (one listing of its
        Delta log decides): a step asks several times (is it up to date, pin, gate), and the
        read is a Spark job over the log's many small files. A publish by another process makes
        a newer commit, so the answer is never older than the log at the time of the call.
        """
        newest = delta.newest_commit(self.settings, self.path(PUBLICATIONS))
        if newest is None:
            return {}
        if self._in_force is None or self._in_force[0] != newest:
            self._in_force = (newest, self._read_publications(newest[0]))
        return dict(self._in_force[1])

    def _read_publications(self, version: int) -> dict[str, Publication]:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        log = delta.read_version(self.spark, self.path(PUBLICATIONS), version)
        newest = Window.partitionBy("table").orderBy(
            F.col("published_at").desc(), F.col("delta_version").desc()
        )
        rows = log.withColumn("_rank", F.row_number().over(newest)).where("_rank = 1").drop("_rank").collect()
        return {row["table"]: _publication(row.asDict()) for row in rows}

    def published_version(self, table_id: str) -> int | None:
        publication = self.publications().get(table_id)
        return None if publication is None else publication.delta_version

    def read_published(self, table_id: str) -> DataFrame:
        """The published version of ``table_id``; :class:`NotPublished` if it never passed a gate."""
        version = self.published_version(table_id)
        if version is None:
            raise NotPublished(f"no version of {table_id} has been published")
        return self.read_version(table_id, version)

    def pin(self, table_ids: Iterable[str]) -> Pins:
        """The published version of each input, read once: what a run reads from start to end."""
        ids = list(dict.fromkeys(table_ids))
        for table_id in ids:
            if not self.table(table_id).published:
                raise ValueError(f"{table_id} is not a published table: readers cannot pin it")
        in_force = self.publications()
        return Pins(
            versions={t: in_force[t].delta_version if t in in_force else None for t in ids},
            paths={t: self.path(t) for t in ids},
        )

    def publish(self, entries: Iterable[Publication]) -> list[Publication]:
        """Append publications in one Delta commit: all of them become current together, or none."""
        publications = list(entries)
        if not publications:
            return []
        rows = [
            (
                p.table,
                p.table_path,
                int(p.delta_version),
                p.suite,
                p.run_id,
                p.validated_at,
                p.published_at,
                p.summary,
                json.dumps(dict(p.inputs), sort_keys=True),
            )
            for p in publications
        ]
        from govlake.lake.writers import writing

        frame = self.spark.createDataFrame(rows, PUBLICATIONS_DDL)
        with writing(self, [PUBLICATIONS], owner=f"publish {publications[0].run_id}"):
            delta.append(frame, self.path(PUBLICATIONS), merge_schema=True)
        return publications

    def read_publications(self) -> DataFrame | None:
        """The whole publication log (every version ever published), or None on a fresh lake."""
        return delta.read_latest(self.spark, self.path(PUBLICATIONS))


def _publication(fields: dict[str, Any]) -> Publication:
    for name in ("validated_at", "published_at"):
        # PySpark returns timestamps as naive datetimes in the Python process's local time zone.
        fields[name] = fields[name].astimezone(UTC)
    fields["inputs"] = json.loads(fields.get("inputs") or "{}")
    fields["delta_version"] = int(fields["delta_version"])
    return Publication(**fields)
