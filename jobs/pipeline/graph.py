"""The pipeline graph: every step, what it reads, what it writes, and the gate it publishes through.

This is the one declaration of the pipeline. The ``govlake`` commands run its steps in dependency
order and the Airflow DAGs are generated from it (one DAG per step, scheduled on the assets of its
inputs); nothing else states the library order or a library's inputs.

Steps (``govlake graph`` prints them for the registry in use):

``ingest.<source_id>``  one per registry source: land (landing -> raw) -> load (raw -> bronze,
                        quarantine, ingest log; one file at a time) -> gate (the bronze table's
                        suite) -> publish ``bronze.<dataset>``
``silver.<library>``    the base libraries: build (from the *published* versions of its inputs,
                        pinned once) -> gate (every table of the library, published together)
``quality.scorecard``   the GB/T 36344 scorecard over the published libraries
``share.publish``       every grant of ``registry/shares.yaml`` materialized from the published
                        silver versions it reads -> gate (the policy's generated suites) -> the
                        versions the Delta Sharing server serves
``gold.marts``          ``dbt build`` of the analytics marts (dbt_project/) over the published
                        libraries -> gate (every dbt test passed) -> publish every mart together
``sql.views``           the SQL endpoint's names: one view per published silver table and mart at
                        its published version, in the shared metastore (skipped without one)
``maintenance.lake``    weekly: retention settings, compaction and VACUUM of every table
                        (jobs.maintenance.housekeeping); not part of ``govlake run``

A step's inputs are catalogue table ids. Published tables are read at the version published when
the step started (:meth:`govlake.lake.Lake.pin`); the others (the ingest log, quarantine) as they
are. A step writes only its outputs, and is the only writer of each of them (one writer per table:
Delta on S3 without a commit coordinator is safe for one writing driver per table).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import cache

from govlake.config import Zone
from govlake.lake.catalogue import Catalogue, bronze_id, load_catalogue, quarantine_of
from govlake.registry import Registry, load_registry


class StepKind(StrEnum):
    INGEST = "ingest"  # land -> load (per file) -> gate the bronze table
    BUILD = "build"  # build from pinned published inputs -> gate all outputs together
    REPORT = "report"  # compute from pinned published inputs; no gate
    MAINTENANCE = "maintenance"  # housekeeping of every table on a clock; changes no row, no gate


class GraphError(ValueError):
    """The graph is inconsistent: an unknown table, two writers of one table, a cycle."""


@dataclass(frozen=True)
class Gate:
    """The quality gate a step's outputs pass through before they are published, as one unit."""

    #: "bronze" (generated from the registry), "silver" (jobs.quality.silver_suites), "share"
    #: (generated from each grant's policy: jobs.share.suite) or "dbt" (the YAML and unit tests of
    #: dbt_project/, run by the build's `dbt build`; jobs.gold.gate)
    suites: str
    tables: tuple[str, ...]  # table ids validated and published together


@dataclass(frozen=True)
class Step:
    name: str
    kind: StepKind
    title: str
    #: The job function, "module:function", imported only when the step runs.
    job: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    gate: Gate | None = None
    #: Cron expression (registry schedule) for steps that run on a clock; else run on input assets.
    schedule: str | None = None
    source_id: str | None = None
    library: str | None = None
    timeout: timedelta = timedelta(hours=2)
    tags: tuple[str, ...] = field(default=())
    #: Assets whose events start the step; default: the publishers of its published inputs.
    runs_on: tuple[str, ...] | None = None
    #: "module:function(step, lake) -> bool": the published outputs still reflect the step's own
    #: definition (beside its inputs), e.g. the share definitions they were built from.
    current: str | None = None

    @property
    def dag_id(self) -> str:
        """The Airflow DAG that runs this step: ``ingest__<source>``, ``silver__<library>``, ..."""
        return self.name.replace(".", "__", 1)


@dataclass(frozen=True)
class Library:
    """A base library step: which published tables it is built from (bronze and upstream libraries)."""

    name: str
    title: str
    job: str
    bronze_inputs: tuple[str, ...]  # datasets
    silver_inputs: tuple[str, ...] = ()  # table ids of upstream libraries
    timeout: timedelta = timedelta(hours=2)


#: The base libraries and what each is built from. Persons before legal persons (legal
#: representatives are persons); both before geography (grid cells count them).
LIBRARIES: tuple[Library, ...] = (
    Library(
        name="population",
        title="人口库 population",
        job="jobs.silver.population.build:build_population",
        bronze_inputs=(
            "household_registration",
            "birth_records",
            "death_records",
            "social_insurance_enrollment",
            "marriage_registration",
        ),
        timeout=timedelta(hours=4),  # entity resolution dominates
    ),
    Library(
        name="legal_persons",
        title="法人库 legal persons",
        job="jobs.silver.legal_persons.build:build_legal_persons",
        bronze_inputs=("enterprise_registration", "taxpayer_registry", "social_insurance_enrollment"),
        silver_inputs=("silver.population.persons",),
    ),
    Library(
        name="geography",
        title="地理库 geography",
        job="jobs.silver.geography.build:build_geography",
        bronze_inputs=("address_points", "admin_divisions"),
        silver_inputs=("silver.population.persons", "silver.legal_persons.legal_persons"),
    ),
)


@dataclass(frozen=True)
class Graph:
    steps: tuple[Step, ...]  # in dependency order
    catalogue: Catalogue

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise GraphError(f"no step {name!r} in the pipeline graph (`govlake graph` lists them)")

    @property
    def data_steps(self) -> tuple[Step, ...]:
        """The steps that move data (what ``govlake run`` runs): all but housekeeping."""
        return tuple(s for s in self.steps if s.kind is not StepKind.MAINTENANCE)

    def of_kind(self, kind: StepKind) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.kind is kind)

    def writer_of(self, table_id: str) -> Step | None:
        for step in self.steps:
            if table_id in step.outputs:
                return step
        return None

    def upstream(self, step: Step) -> tuple[Step, ...]:
        """The steps whose published outputs ``step`` reads."""
        writers = {w for t in step.inputs if (w := self.writer_of(t)) is not None and w is not step}
        return tuple(s for s in self.steps if s in writers)

    def input_assets(self, step: Step) -> tuple[str, ...]:
        """The assets whose events start ``step``: by default one per published input's publisher."""
        if step.runs_on is not None:
            return step.runs_on
        return tuple(dict.fromkeys(self.catalogue.table(t).asset for t in step.inputs if self._published(t)))

    def output_asset(self, step: Step) -> str | None:
        """The asset ``step`` announces a publication on (one per step)."""
        gated = step.gate.tables if step.gate else ()
        assets = list(dict.fromkeys(self.catalogue.table(t).asset for t in gated))
        return assets[0] if assets else None

    def _published(self, table_id: str) -> bool:
        return self.catalogue.table(table_id).published

    def render(self) -> Iterator[str]:
        """Readable lines: each step with its inputs, outputs and gate (what `govlake graph` prints)."""
        for step in self.steps:
            yield f"{step.name}  [{step.kind.value}]  {step.title}"
            if step.schedule:
                yield f"    schedule  {step.schedule} (Asia/Shanghai)"
            elif step.inputs:
                yield f"    runs on   {', '.join(self.input_assets(step)) or '-'}"
            for table_id in step.inputs:
                mode = "published" if self._published(table_id) else "latest"
                yield f"    reads     {table_id} ({mode})"
            for table_id in step.outputs:
                yield f"    writes    {table_id}"
            if step.gate:
                yield f"    gate      {step.gate.suites} suites on {', '.join(step.gate.tables)}"


def _ingest_steps(registry: Registry) -> list[Step]:
    steps = []
    for source in registry.sources.values():
        table = bronze_id(source.dataset)
        steps.append(
            Step(
                name=f"ingest.{source.id}",
                kind=StepKind.INGEST,
                title=f"{source.owner}: {source.dataset} extracts -> raw -> {table}",
                job="jobs.bronze.load:load_batch",
                inputs=(),
                outputs=(table, "bronze._ingest_log", "quarantine.bronze_rows"),
                gate=Gate("bronze", (table,)),
                schedule=source.schedule,
                source_id=source.id,
                tags=(
                    f"department:{source.department}",
                    f"prefecture:{source.prefecture or 'province'}",
                    f"dataset:{source.dataset}",
                    f"classification:{source.classification.value}",
                ),
            )
        )
    return steps


def _library_steps(catalogue: Catalogue) -> list[Step]:
    steps = []
    for library in LIBRARIES:
        outputs = tuple(t.id for t in catalogue.library_tables(library.name))
        steps.append(
            Step(
                name=f"silver.{library.name}",
                kind=StepKind.BUILD,
                title=library.title,
                job=library.job,
                inputs=(*(bronze_id(d) for d in library.bronze_inputs), *library.silver_inputs),
                outputs=(*outputs, quarantine_of(library.name)),
                gate=Gate("silver", tuple(t for t in outputs if catalogue.table(t).published)),
                library=library.name,
                timeout=library.timeout,
                tags=(f"library:{library.name}",),
            )
        )
    return steps


def _report_steps(catalogue: Catalogue) -> list[Step]:
    bronze = tuple(t.id for t in catalogue.in_zone(Zone.BRONZE) if t.published)
    silver = tuple(t.id for lib in ("population", "legal_persons") for t in catalogue.library_tables(lib))
    return [
        Step(
            name="quality.scorecard",
            kind=StepKind.REPORT,
            title="GB/T 36344 data-quality scorecard per prefecture x department",
            job="jobs.quality.scorecard:build_scorecard",
            inputs=(
                *bronze,
                *silver,
                "bronze._ingest_log",
                "quarantine.bronze_rows",
                *(quarantine_of(lib.name) for lib in LIBRARIES),
                "quality.validations",
            ),
            outputs=("quality.scorecard.history",),
            timeout=timedelta(hours=1),
            tags=("quality",),
            # scored when a library publishes (bronze publications alone would rescore every file)
            runs_on=tuple(f"silver.{lib.name}" for lib in LIBRARIES),
        )
    ]


def _share_steps(catalogue: Catalogue) -> list[Step]:
    grants = catalogue.shares.grants
    if not grants:
        return []
    outputs = tuple(g.table_id for g in grants)
    return [
        Step(
            name="share.publish",
            kind=StepKind.BUILD,
            title="Delta Sharing grants: each recipient's rows and masked columns, from published silver",
            job="jobs.share.materialize:build_grants",
            inputs=tuple(dict.fromkeys(g.source for g in grants)),
            outputs=outputs,
            gate=Gate("share", outputs),
            timeout=timedelta(hours=1),
            tags=("sharing",),
            current="jobs.share.materialize:current",
        )
    ]


#: The silver tables the marts read (dbt_project/models/staging/__sources.yml names each one).
MARTS_SILVER_INPUTS = (
    "silver.population.persons",
    "silver.population.person_records",
    "silver.population.crosswalk",
    "silver.legal_persons.legal_persons",
    "silver.legal_persons.records",
    "silver.legal_persons.crosswalk",
    "silver.geography.admin_divisions",
)
#: The quality records the scorecard and gate-outcome marts read (not gated: read as they are).
MARTS_QUALITY_INPUTS = ("quality.scorecard.history", "quality.validations")


def _marts_steps(catalogue: Catalogue) -> list[Step]:
    marts = tuple(t.id for t in catalogue.in_zone(Zone.GOLD))
    return [
        Step(
            name="gold.marts",
            kind=StepKind.BUILD,
            title="dbt marts (gold) over the published base libraries",
            job="jobs.gold.marts:build_marts",
            inputs=(*MARTS_SILVER_INPUTS, *MARTS_QUALITY_INPUTS),
            outputs=marts,
            gate=Gate("dbt", tuple(t for t in marts if catalogue.table(t).published)),
            timeout=timedelta(hours=2),
            tags=("gold", "dbt"),
            # rebuilt when a library publishes; the quality records alone do not start it
            runs_on=tuple(f"silver.{lib.name}" for lib in LIBRARIES),
        )
    ]


def _endpoint_steps(catalogue: Catalogue) -> list[Step]:
    from jobs.gold.published_views import endpoint_table_ids

    served = endpoint_table_ids(catalogue)
    return [
        Step(
            name="sql.views",
            kind=StepKind.REPORT,
            title="SQL endpoint: a view per published library table and mart, at its published version",
            job="jobs.gold.published_views:refresh_endpoint_views",
            inputs=served,
            outputs=(),
            timeout=timedelta(minutes=30),
            tags=("sql",),
        )
    ]


#: Sunday 03:00 province time: the lake's quietest hour (deliveries arrive on weekdays).
MAINTENANCE_SCHEDULE = "0 3 * * 0"


def _maintenance_steps() -> list[Step]:
    return [
        Step(
            name="maintenance.lake",
            kind=StepKind.MAINTENANCE,
            title="housekeeping: retention settings, compaction (OPTIMIZE), VACUUM >= 7 days",
            job="jobs.maintenance.housekeeping:maintain_lake",
            # It rewrites every table's files but no row: it is nobody's writer in the graph.
            inputs=(),
            outputs=(),
            schedule=MAINTENANCE_SCHEDULE,
            timeout=timedelta(hours=4),
            tags=("maintenance",),
        )
    ]


def _ordered(steps: list[Step]) -> tuple[Step, ...]:
    """Steps in dependency order (writers of a published input first); declaration order otherwise."""
    writers: dict[str, Step] = {}
    for step in steps:
        for table_id in step.outputs:
            other = writers.get(table_id)
            # The sources of one dataset all append to its bronze table (and to the ingest log and
            # quarantine), one idempotent append per file, serialized by the writers' lock; every
            # other table has exactly one writing step.
            if (other is not None and StepKind.INGEST not in (other.kind, step.kind)) or (
                other is not None and other.kind is not step.kind
            ):
                raise GraphError(f"{table_id} is written by both {other.name} and {step.name}")
            writers.setdefault(table_id, step)
    done: list[Step] = []
    pending = list(steps)
    while pending:
        ready = [
            s
            for s in pending
            if all((w := writers.get(t)) is None or w in done or w is s for t in s.inputs)
            or s.kind is StepKind.INGEST
        ]
        if not ready:
            raise GraphError(f"cycle among {', '.join(s.name for s in pending)}")
        done.extend(ready)
        pending = [s for s in pending if s not in ready]
    return tuple(done)


@cache
def _graph(registry: Registry, catalogue: Catalogue) -> Graph:
    steps = [
        *_ingest_steps(registry),
        *_library_steps(catalogue),
        *_report_steps(catalogue),
        *_share_steps(catalogue),
        *_marts_steps(catalogue),
        *_endpoint_steps(catalogue),
    ]
    for step in steps:
        for table_id in (*step.inputs, *step.outputs):
            catalogue.table(table_id)  # every table a step names is in the catalogue
    return Graph(steps=(*_ordered(steps), *_maintenance_steps()), catalogue=catalogue)


def pipeline_graph(registry: Registry | None = None, catalogue: Catalogue | None = None) -> Graph:
    """The graph for ``registry`` (default: the registry in use) and its catalogue (default: with
    the share definitions in use)."""
    registry = registry or load_registry()
    return _graph(registry, catalogue or load_catalogue(registry))
