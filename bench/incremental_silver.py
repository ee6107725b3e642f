"""Time one library build incremental vs full after a ~1% delivery, on copies of one built lake.

    python -m bench.incremental_silver LAKE_ROOT WORK --scale 2000 [--seed 0] [--library population]
        [--runs incremental,first_build,full,snapshot_write,incremental_again]

``LAKE_ROOT`` is a lake already built from the generator at ``--scale`` (``govlake demo --scale N
--on-configured-lake`` with ``GOVLAKE_STORAGE_ROOT`` set to it); it is never changed: the
benchmark works on a copy under ``WORK``. In order, one process, one Spark session:

1. **Catch up.** The library is built once on the copy: on a built lake it records the
   standardization state and fingerprint if an older build left none, and writes nothing new; on
   a lake where only the ingest steps ran it is the library's first build.
2. **Increment.** :func:`bench.pipeline.deliver_increment` (the generator, same seed, at 1% of the
   scale; its non-reference extracts as new files), then every ingest step (land, load, gate).
3. The copy is copied again: one for each build, same bronze, same silver.
4. **Timed:** the build incremental (the default); the library's first build, on a copy whose
   library folder and quarantine are removed (what building it from all of bronze costs: the
   "full run" the ratio is against); ``incremental=False`` on the built library (a rebuild);
   incremental standardization with the full-snapshot comparison (the records write on its own);
   and the incremental build once more, last (what the order, a warmer JVM, weighs). Each run is
   the whole step, as a nightly run pays for it: the build, then its quality gate (which
   publishes), timed apart (``seconds``, ``gate_seconds``, ``step_seconds``).
5. The records tables of the incremental build and the first build are compared row by row.

Results as JSON on stdout (seconds, the ratios of builds and of steps, load average before and
after each build).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.pipeline import deliver_increment

BUILDS = {
    "population": ("silver.population", "jobs.silver.population.build:build_population", "person_records"),
    "legal_persons": (
        "silver.legal_persons",
        "jobs.silver.legal_persons.build:build_legal_persons",
        "records",
    ),
}


def _lake(root: Path, spark: Any) -> Any:
    from govlake.config import load_settings
    from govlake.lake import Lake

    env = dict(os.environ, GOVLAKE_STORAGE_ROOT=str(root))
    return Lake(load_settings(env), spark)


def timed_build(
    lake: Any, library: str, *, incremental: bool, snapshot_records: bool = False
) -> dict[str, Any]:
    """Run the library's step as the pipeline does (drops to quarantine, writer leases; then its
    quality gate, which publishes), the build and the gate timed apart.

    ``snapshot_records``: write the records as a full snapshot (row-hash comparison with the whole
    table), as before the incremental write existed, to time that part alone.
    """
    import importlib

    from govlake.lake.context import StepContext
    from govlake.lake.writers import writing
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import gate
    from jobs.quality.drops import drop_invalid
    from jobs.silver import incremental as incremental_module

    step_name, job, _ = BUILDS[library]
    module, function = job.split(":")
    build = getattr(importlib.import_module(module), function)
    step = pipeline_graph(load_registry(lake.settings.registry_path)).step(step_name)
    original = incremental_module.Standardized.__init__
    if snapshot_records:

        def without_changes(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self.changes = None

        incremental_module.Standardized.__init__ = without_changes  # type: ignore[method-assign]
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        ctx = StepContext.open(lake, step_name, step.inputs, validator=drop_invalid)
        with writing(lake, step.outputs, owner=f"bench {step_name}"):
            counts = build(ctx, incremental=incremental)
    finally:
        incremental_module.Standardized.__init__ = original  # type: ignore[method-assign]
    seconds = time.perf_counter() - started
    built = {
        "step": step_name,
        "run_id": ctx.run_id,
        "counts": counts,
        "inputs": ctx.pins.published(),
        "dropped": ctx.dropped,
        "seconds": seconds,
    }
    result = gate(step, lake, built)
    return {
        "seconds": round(seconds, 2),
        "gate_seconds": round(result.seconds, 2),
        "step_seconds": round(seconds + result.seconds, 2),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "counts": counts,
        "dropped": ctx.dropped,
    }


def forget_library(lake: Any, library: str) -> None:
    """Remove the library's silver folder (tables, model, standardization state) and quarantine."""
    from govlake import storage
    from govlake.lake.catalogue import quarantine_of

    storage.delete_tree(lake.settings, lake.catalogue.asset_location(f"silver.{library}", lake.settings))
    storage.delete_tree(lake.settings, lake.path(quarantine_of(library)))


def same_rows(spark: Any, a: Any, b: Any) -> dict[str, int]:
    """Rows only in ``a``, only in ``b`` (multiset difference)."""
    return {"only_incremental": a.exceptAll(b).count(), "only_full": b.exceptAll(a).count()}


#: The timed builds, in the order they run, each on its own copy of the lake after the increment.
RUNS: dict[str, Any] = {
    "incremental": lambda lake, library: timed_build(lake, library, incremental=True),
    # its library folder and quarantine are removed first: all of bronze, as on a fresh lake
    "first_build": lambda lake, library: timed_build(lake, library, incremental=True),
    "full": lambda lake, library: timed_build(lake, library, incremental=False),
    "snapshot_write": lambda lake, library: timed_build(
        lake, library, incremental=True, snapshot_records=True
    ),
    # the first timed build again, last: how much the order (a warmer JVM) weighs
    "incremental_again": lambda lake, library: timed_build(lake, library, incremental=True),
}


def main(argv: list[str] | None = None) -> int:
    from govlake.spark import get_spark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake_root", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--library", choices=sorted(BUILDS), default="population")
    parser.add_argument(
        "--runs",
        default=",".join(RUNS),
        help="the timed builds, comma-separated (incremental and first_build are always run; at a "
        "large scale the others double the time)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.runs.split(",")) - set(RUNS)
    if unknown:
        parser.error(f"unknown --runs {sorted(unknown)}; choose from {', '.join(RUNS)}")

    from govlake.config import load_settings

    work = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    base = work / "lake"
    shutil.copytree(args.lake_root, base)
    spark = get_spark(load_settings(dict(os.environ, GOVLAKE_STORAGE_ROOT=str(base))), app_name="bench-incr")
    lake = _lake(base, spark)
    result: dict[str, Any] = {"scale": args.scale, "library": args.library, "cores": os.cpu_count()}
    result["catch_up"] = timed_build(lake, args.library, incremental=True)

    from govlake.registry import load_registry
    from jobs.pipeline.graph import StepKind, pipeline_graph
    from jobs.pipeline.run import run_steps

    result["increment"] = deliver_increment(lake, args.scale, args.seed, work)
    graph = pipeline_graph(load_registry(lake.settings.registry_path))
    ingest = list(run_steps(graph, lake, graph.of_kind(StepKind.INGEST)))
    result["ingest_failed"] = [r.step.name for r in ingest if r.failed]

    names = [n for n in RUNS if n in {"incremental", "first_build", *args.runs.split(",")}]
    copies = {name: work / f"lake-{name}" for name in names}
    for target in copies.values():
        shutil.copytree(base, target)
    forget_library(_lake(copies["first_build"], spark), args.library)
    runs = {name: RUNS[name](_lake(copies[name], spark), args.library) for name in names}
    result["runs"] = runs
    result["incremental_to_first_build"] = round(
        runs["incremental"]["seconds"] / runs["first_build"]["seconds"], 3
    )
    # the step as a nightly run pays for it: build and gate
    result["incremental_step_to_first_step"] = round(
        runs["incremental"]["step_seconds"] / runs["first_build"]["step_seconds"], 3
    )
    if "full" in runs:
        result["incremental_to_rebuild"] = round(runs["incremental"]["seconds"] / runs["full"]["seconds"], 3)
    if "incremental_again" in runs:
        result["incremental_again_to_first_build"] = round(
            runs["incremental_again"]["seconds"] / runs["first_build"]["seconds"], 3
        )
    records = BUILDS[args.library][0] + "." + BUILDS[args.library][2]
    inc, full = (
        _lake(copies[n], spark).read_latest(records).drop("_row_hash") for n in ("incremental", "first_build")
    )
    result["records_compared"] = same_rows(spark, inc, full)
    json.dump(result, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
