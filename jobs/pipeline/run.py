"""Run the graph's steps: the one implementation behind both the ``govlake`` commands and the DAGs.

Each phase is a function of (step, lake) so that an Airflow task can run one phase in its own process
and hand its result to the next through XCom (plain JSON):

    ingest step   land(step) -> plan(lake, files) -> load(step, batch) for every batch -> gate(step)
    build step    build(step) -> gate(step, built)        (``built`` carries the pins and drops)
    report step   build(step)

:func:`run_steps` strings them together in graph order for the command line.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from govlake.lake import Lake
from govlake.lake.context import StepContext
from govlake.lake.writers import writing
from jobs.pipeline.graph import Graph, Step, StepKind
from jobs.quality.gate import GateResult, QualityGateFailed

log = logging.getLogger("govlake.pipeline")

#: Keys of the per-table counts ``upsert_changed`` / ``apply_scd2`` return that mean rows were written.
WRITE_KEYS = frozenset({"inserted", "updated", "deleted", "new", "changed", "closed"})


def plain(value: Any) -> Any:
    """``value`` as plain JSON types (a job may return numpy scalars), for XCom and asset extras."""

    def fallback(obj: Any) -> Any:
        return obj.item() if hasattr(obj, "item") else str(obj)

    return json.loads(json.dumps(value, default=fallback))


def rows_written(counts: Mapping[str, Any]) -> int:
    """Rows a build inserted, updated or versioned, summed over its tables (0: nothing changed)."""
    return sum(
        value
        for table in counts.values()
        if isinstance(table, dict)
        for key, value in table.items()
        if key in WRITE_KEYS and isinstance(value, int)
    )


def _job(step: Step) -> Callable[..., Any]:
    module, function = step.job.split(":")
    return getattr(importlib.import_module(module), function)


# ------------------------------------------------------------------------------- ingest phases


def land(step: Step, lake: Lake) -> list[dict[str, Any]]:
    """Move the source's new extracts into raw; return every raw file still to load."""
    from jobs.raw.land import land_new_files

    assert step.kind is StepKind.INGEST and step.source_id
    return land_new_files(step.source_id, lake.settings)


def plan(lake: Lake, landed: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The load batches of these landed files (stored before anything is written), as plain JSON.

    Each batch carries ``label``: its first file's name and hash, and how many more it holds.
    """
    from jobs.bronze.load import plan_batches

    names = {(f["source_id"], f["file_hash"]): f["original_name"] for f in landed}
    batches = []
    for batch in plan_batches(lake.settings, names):
        first = batch.files[0]
        label = f"{names.get(first, first[0])} ({first[1][:12]})"
        if len(batch.files) > 1:
            label += f" +{len(batch.files) - 1} more"
        batches.append(batch.as_json() | {"label": label})
    return batches


def load(step: Step, lake: Lake, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Load one planned batch into bronze; the accounting of each of its files (rows in = accepted +
    quarantined, or nothing of the file is written)."""
    from jobs.bronze.load import Batch

    assert step.kind is StepKind.INGEST
    return _job(step)(Batch.from_json(batch), lake.settings)


# ------------------------------------------------------------------------- build / report phase


def build(
    step: Step,
    lake: Lake,
    *,
    pins: Mapping[str, int | None] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run a build or report step's job on its inputs, pinned now (or to ``pins``).

    Returns (as plain JSON) the job's counts, the pinned input versions, the rows dropped per table
    and expectation, the run id and the seconds it took: what the step's gate needs.
    """
    return _run_job(step, lake, pins=pins, run_id=run_id)[0]


def _run_job(
    step: Step, lake: Lake, *, pins: Mapping[str, int | None] | None = None, run_id: str | None = None
) -> tuple[dict[str, Any], Any]:
    from jobs.quality.drops import drop_invalid

    started = time.perf_counter()
    ctx = StepContext.open(
        lake,
        step.name,
        step.inputs,
        pins=dict(pins) if pins is not None else None,
        run_id=run_id,
        validator=drop_invalid,
    )
    with writing(lake, step.outputs, owner=f"{step.name} run {ctx.run_id}"):
        result = _job(step)(ctx)
    built = {
        "step": step.name,
        "run_id": ctx.run_id,
        "counts": plain(result if isinstance(result, dict) else result.as_dict()),
        "inputs": ctx.pins.published(),
        "dropped": plain(ctx.dropped),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return built, result


def up_to_date(step: Step, lake: Lake) -> bool:
    """Every output is published, built from exactly the inputs published now: nothing to rebuild."""
    if step.gate is None:
        return False
    if step.current is not None:
        module, function = step.current.split(":")
        if not getattr(importlib.import_module(module), function)(step, lake):
            return False
    in_force = lake.publications()
    pins = lake.pin(t for t in step.inputs if lake.table(t).published).published()
    for table_id in step.gate.tables:
        publication = in_force.get(table_id)
        if publication is None or not _same_inputs(publication.inputs, pins, in_force):
            return False
        if lake.latest_version(table_id) != publication.delta_version:
            return False
    return True


def _same_inputs(recorded: Mapping[str, int], pinned: Mapping[str, int], in_force: Mapping[str, Any]) -> bool:
    """The recorded input versions hold the same rows as the ones pinned now (a compaction by the
    maintenance step publishes a new version of the same rows: nothing to rebuild for it)."""
    if set(recorded) != set(pinned):
        return False
    return all(
        recorded[t] == version or (t in in_force and recorded[t] in in_force[t].same_data_as)
        for t, version in pinned.items()
    )


# ------------------------------------------------------------------------------------- the gate


def gate(step: Step, lake: Lake, built: Mapping[str, Any] | None = None) -> GateResult:
    """Validate the step's new output versions and publish them together (raises QualityGateFailed)."""
    if step.gate is None:
        raise ValueError(f"{step.name} has no gate")
    built = built or {}
    # No writer may append between the validation of a version and its publication.
    with writing(lake, step.gate.tables, owner=f"{step.name} gate"):
        if step.gate.suites == "dbt":  # the verdict of the build's own `dbt build` (jobs.gold.gate)
            from jobs.gold.gate import gate_marts

            return gate_marts(lake, step.name, step.gate.tables, built)
        return gate_tables_for(
            step, lake, inputs=built.get("inputs") or {}, dropped=built.get("dropped") or {}
        )


def gate_tables_for(
    step: Step, lake: Lake, *, inputs: Mapping[str, int], dropped: Mapping[str, Mapping[str, int]]
) -> GateResult:
    from jobs.quality.gate import gate_tables

    assert step.gate is not None
    return gate_tables(lake, step.name, step.gate.suites, step.gate.tables, inputs=inputs, dropped=dropped)


# ------------------------------------------------------------------------------ whole steps


@dataclass
class StepRun:
    """What running one step did (for the command line's report)."""

    step: Step
    files: list[dict[str, Any]] = field(default_factory=list)  # ingest: one accounting entry per file
    built: dict[str, Any] | None = None
    output: Any = None  # a report step's result object
    gate: GateResult | None = None
    failed: QualityGateFailed | None = None
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def gate_to_build(self) -> float | None:
        """Seconds spent validating per second spent building (the gate's relative cost)."""
        if self.gate is None or not self.built or not self.built.get("seconds"):
            return None
        return self.gate.seconds / float(self.built["seconds"])


def run_steps(
    graph: Graph,
    lake: Lake,
    steps: Iterable[Step],
    *,
    on_file: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[StepRun]:
    """Run ``steps`` in graph order. Ingest steps land and load every file first; each bronze table
    is then gated once. An unfinished batch of an earlier run is loaded whole, so a source it holds
    files of is reported and gated too, even when its step was not asked for. A failed gate does
    not stop the run: later steps read the versions that are published (the failed ones never
    are), exactly as the DAGs do; the failure is reported in its :class:`StepRun`.
    """
    wanted = {s.name for s in steps}
    ordered = [s for s in graph.steps if s.name in wanted]
    ingest = [s for s in ordered if s.kind is StepKind.INGEST]
    ingest_runs: dict[str, StepRun] = {}
    landed: list[dict[str, Any]] = []
    for step in ingest:  # land every source first, then load all of it in as few batches as fit
        ingest_runs[step.name] = StepRun(step)
        started = time.perf_counter()
        landed += land(step, lake)
        ingest_runs[step.name].seconds = time.perf_counter() - started
    by_source = {step.source_id: ingest_runs[step.name] for step in ingest}
    for batch in plan(lake, landed) if ingest else []:
        started = time.perf_counter()
        summaries = load(ingest[0], lake, batch)  # every ingest step has the same load job
        share = (time.perf_counter() - started) / max(len(summaries), 1)  # the batch's time, per file
        for accounting in summaries:
            run = by_source.get(accounting["source_id"])
            if run is None:  # an unfinished batch of an earlier run held another source's files:
                # they are loaded now, so that source is reported and its bronze table gated too
                [other] = [
                    s for s in graph.of_kind(StepKind.INGEST) if s.source_id == accounting["source_id"]
                ]
                run = by_source[other.source_id] = ingest_runs[other.name] = StepRun(other)
                ingest.append(other)
            run.files.append(accounting)
            run.seconds += share
            if on_file:
                on_file(accounting)
    gated: set[tuple[str, ...]] = set()
    for step in ingest:
        run = ingest_runs[step.name]
        assert step.gate is not None
        if step.gate.tables not in gated:  # one gate per bronze table, after all of its sources
            gated.add(step.gate.tables)
            _gate_into(run, step, lake, None)
        yield run
    for step in ordered:
        if step.kind is StepKind.INGEST:
            continue
        started = time.perf_counter()
        run = StepRun(step)
        if step.kind is StepKind.BUILD and up_to_date(step, lake):
            run.skipped = "every output is published and built from the inputs published now"
        else:
            run.built, run.output = _run_job(step, lake)
            if step.gate is not None:
                _gate_into(run, step, lake, run.built)
        run.seconds = time.perf_counter() - started
        yield run


def _gate_into(run: StepRun, step: Step, lake: Lake, built: Mapping[str, Any] | None) -> None:
    try:
        run.gate = gate(step, lake, built)
    except QualityGateFailed as failed:
        run.failed = failed
        log.error("%s: quality gate failed; nothing published, previous versions still served", step.name)
