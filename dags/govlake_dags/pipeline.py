"""The DAG factory: one DAG per step of the pipeline graph (``jobs/pipeline/graph.py``).

    ingest__<source_id>   land -> load (mapped: one task per raw file) -> gate   (cron: the registry's)
    silver__<library>     build -> gate                                          (on its input assets)
    quality__scorecard    report                                                 (on the silver assets)
    gold__marts, share__publish   build -> gate                                  (on the silver assets)
    maintenance__lake     maintain: compaction, VACUUM                           (cron: weekly)

A gate task validates the step's new output versions and publishes them together; it emits one
event on the step's asset only when something new was published, so unchanged data cascades
nothing. A failed gate is not retried (bad data does not heal by waiting), emits no event, and the
previously published versions stay in service: downstream DAGs keep reading those. The work is
``jobs.pipeline.run``'s, the same functions ``govlake`` runs; the tasks only call them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAny, CronTriggerTimetable, dag, get_current_context, task

from govlake_dags.common import SPARK_POOL, START_DATE, TIMEZONE, default_args

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from jobs.pipeline.graph import Graph, Step

log = logging.getLogger("govlake.airflow")


def _lake() -> Any:  # -> govlake.lake.Lake, settings resolved once per task (its entry point)
    from govlake.config import load_settings
    from govlake.lake import Lake

    return Lake(load_settings())


def _step(name: str) -> Step:
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph().step(name)


def asset(graph: Graph, name: str) -> Asset:
    """The Asset a publication is announced on (``bronze.<dataset>``, ``silver.<library>``).

    The URI is where it lives (``file://`` locally, ``s3a://`` on the object store), for lineage
    only: Airflow matches assets by name.
    """
    from pathlib import Path

    from govlake.config import load_settings

    location = graph.catalogue.asset_location(name, load_settings())
    uri = location if "://" in location else Path(location).as_uri()
    return Asset(name=name, uri=uri, group=name.split(".")[0])


def _gate_task(step: Step, outlet: Asset) -> Any:
    @task(task_id="gate", pool=SPARK_POOL, retries=0, outlets=[outlet], multiple_outputs=False)
    def gate(
        built: dict[str, Any] | None = None,
        loads: list[list[dict[str, Any]]] | None = None,
        outlet_events: Any = None,
    ) -> dict[str, Any]:
        """Validate the step's new output versions; publish them together only if every one passed."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from jobs.pipeline.run import gate as run_gate
        from jobs.pipeline.run import plain
        from jobs.quality.gate import QualityGateFailed

        try:
            result = run_gate(step, _lake(), built)
        except QualityGateFailed as failed:
            log.error("%s", failed)  # every failed expectation, with examples
            raise AirflowFailException(
                f"{step.name}: quality gate failed for {', '.join(o.target for o in failed.outcomes)};"
                " nothing published, the previous versions are still served"
            ) from failed
        log.info("%s", result.report())
        if not result.published:
            raise AirflowSkipException(f"{step.name}: nothing new published; no event on {outlet.name}")
        summary = {
            "published": {p.table: p.delta_version for p in result.published},
            "inputs": (built or {}).get("inputs", {}),
            "dropped": (built or {}).get("dropped", {}),
            "warnings": result.warnings,
            "gate_seconds": round(result.seconds, 1),
        }
        if built is not None:
            summary["build"] = built.get("counts", {})
        if loads is not None:
            summary |= _accounting(step, [file for batch in loads for file in batch])
        summary = plain(summary)
        outlet_events[outlet].extra = summary
        return summary

    return gate


def _accounting(step: Step, loads: list[dict[str, Any]]) -> dict[str, Any]:
    """What an ingest run's loads did, summed over its source's files (the asset event carries it)."""
    loads = [r for r in loads if r.get("source_id") == step.source_id]  # not an old batch's others
    fresh = [r for r in loads if r.get("status") != "ALREADY_LOADED"]
    return {
        "source_id": step.source_id,
        "files": len(fresh),
        "files_already_loaded": len(loads) - len(fresh),
        "rows_in": sum(r.get("rows_in", 0) for r in fresh),
        "rows_accepted": sum(r.get("rows_accepted", 0) for r in fresh),
        "rows_quarantined": sum(r.get("rows_quarantined", 0) for r in fresh),
        "statuses": sorted({r.get("status", "?") for r in fresh}),
    }


def _doc_md(graph: Graph, step: Step) -> str:
    pinned = "published version, pinned at the start of the run"
    reads = "\n".join(
        f"- `{t}` ({pinned if graph.catalogue.table(t).published else 'as it is'})" for t in step.inputs
    )
    writes = "\n".join(f"- `{t}`" for t in step.outputs)
    trigger = (
        f"cron `{step.schedule}` ({TIMEZONE})"
        if step.schedule
        else "any of " + ", ".join(f"`{a}`" for a in graph.input_assets(step)) + " (`AssetAny`)"
    )
    gate = (
        f"\n**Gate**: {step.gate.suites} suites on {', '.join(f'`{t}`' for t in step.gate.tables)}; "
        "published together only if every table passes (no retry on failure)."
        if step.gate
        else ""
    )
    return f"""\
### {step.name}: {step.title}

**Runs on** {trigger}.

**Reads**
{reads or "- landing and raw files of the source"}

**Writes**
{writes}
{gate}

Generated from the pipeline graph (`jobs/pipeline/graph.py`) by `dags/govlake_dags/pipeline.py`;
`govlake graph` prints the same graph.
"""


def _schedule(graph: Graph, step: Step) -> Any:
    """The registry's cron for a source; else any of the input assets (a plain list would wait for all)."""
    if step.schedule:
        return CronTriggerTimetable(step.schedule, timezone=TIMEZONE)
    return AssetAny(*(asset(graph, a) for a in graph.input_assets(step)))


def _dag_kwargs(graph: Graph, step: Step) -> dict[str, Any]:
    owner = next((t.split(":", 1)[1] for t in step.tags if t.startswith("department:")), "govlake")
    return {
        "dag_id": step.dag_id,
        "description": step.title,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,  # one writer per table: two runs of a step would write the same tables
        "default_args": default_args(step.source_id, owner=owner),
        "tags": [step.kind.value, step.name.split(".")[0], *step.tags],
        "doc_md": _doc_md(graph, step),
    }


def build_ingest_dag(graph: Graph, step: Step) -> DAG:
    name = step.name
    outlet = asset(graph, graph.output_asset(step) or "")

    @dag(schedule=_schedule(graph, step), **_dag_kwargs(graph, step))
    def ingest() -> None:
        @task(task_id="land", execution_timeout=timedelta(minutes=30))
        def land() -> list[dict[str, Any]]:
            """Move new extracts into raw; plan every raw file still to load into load batches."""
            from jobs.pipeline.run import land as run_land
            from jobs.pipeline.run import plan

            landed = run_land(_step(name), _lake())
            new = sum(not f["already_landed"] for f in landed)
            batches = plan(_lake(), landed)
            log.info(
                "%s: %d file(s) to load (%d newly landed) in %d batch(es)",
                name,
                len(landed),
                new,
                len(batches),
            )
            return batches

        @task(
            task_id="load",
            multiple_outputs=False,  # one XCom per batch, not one per key
            pool=SPARK_POOL,
            execution_timeout=timedelta(hours=2),
            map_index_template="{{ govlake_batch_label }}",
            # A mapped TaskFlow task does not take its docstring as doc_md: say it explicitly.
            doc_md="Load one batch of raw files into bronze (one Delta commit per table): for each file, "
            "rows in = accepted + quarantined (with a reason), else nothing of it is written. Idempotent; "
            "an accounting mismatch fails at once, without retries.",
        )
        def load(batch: dict[str, Any]) -> list[dict[str, Any]]:
            """Load one batch of raw files into bronze (rows in = accepted + quarantined, per file)."""
            from airflow.sdk.exceptions import AirflowFailException

            from jobs.bronze.load import AccountingError
            from jobs.pipeline.run import load as run_load

            get_current_context()["govlake_batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
            try:
                return run_load(_step(name), _lake(), batch)
            except AccountingError as exc:  # deterministic: retrying cannot fix it
                raise AirflowFailException(str(exc)) from exc

        _gate_task(step, outlet)(loads=load.expand(batch=land()))

    return ingest()


def build_step_dag(graph: Graph, step: Step) -> DAG:
    """A build step (build -> gate) or a report step (report), scheduled on its input assets."""
    from jobs.pipeline.graph import StepKind

    name = step.name
    outlet = asset(graph, graph.output_asset(step)) if step.gate else None

    @dag(schedule=_schedule(graph, step), **_dag_kwargs(graph, step))
    def pipeline_step() -> None:
        @task(
            task_id={StepKind.BUILD: "build", StepKind.REPORT: "report"}.get(step.kind, "maintain"),
            pool=SPARK_POOL,
            execution_timeout=step.timeout,
            multiple_outputs=False,  # one XCom with everything the gate needs
        )
        def build() -> dict[str, Any]:
            """Run the step's job on its inputs, pinned at their published versions; return the counts,
            the pins and the dropped rows for the gate."""
            from jobs.pipeline.run import build as run_build
            from jobs.pipeline.run import rows_written

            # the DAG run id names the run: a retried task does not add a second scorecard run
            built = run_build(_step(name), _lake(), run_id=str(get_current_context()["run_id"]))
            log.info("%s: %d row(s) written: %s", name, rows_written(built["counts"]), built)
            return built

        built = build()
        if outlet is not None:
            _gate_task(step, outlet)(built)

    return pipeline_step()


def build_all(dag_id: str | None = None) -> dict[str, DAG]:
    """Every DAG of the graph, by dag id (only ``dag_id``'s when a task runner asks)."""
    from jobs.pipeline.graph import StepKind, pipeline_graph

    graph = pipeline_graph()
    dags: dict[str, DAG] = {}
    for step in graph.steps:
        if dag_id is not None and dag_id != step.dag_id:
            continue
        builder = build_ingest_dag if step.kind is StepKind.INGEST else build_step_dag
        dags[step.dag_id] = builder(graph, step)
    return dags
