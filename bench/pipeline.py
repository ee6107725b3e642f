"""Benchmark the whole pipeline on a fresh scratch lake, with the issue's ratios measured in one run.

    govlake bench --scale 20000 [--seed 0] [--out bench/results] [--work DIR]

One process, one Spark session, in this order:

1. **Data.** ``synthetic.generator`` writes every source's extract (``bench.ingest.generated``).
2. **Floor, before.** Spark reads the same CSV / JSON bytes into Parquet (``bench.ingest.floor_seconds``).
3. **Full run.** The extracts are delivered to landing and every data step of ``jobs.pipeline.graph``
   runs through ``jobs.pipeline.run.run_steps``, exactly as ``govlake run`` does. Per stage: rows
   (ingest: rows in; builds: rows written), seconds, rows per second per core, gate seconds. The
   weekly housekeeping step (``maintenance.lake``) is timed after it, apart: it is not part of a
   nightly run, so it is in neither the pipeline's ratio nor the incremental one.
4. **Floor, after** (the floor is the mean of both, as ``bench.ingest`` does).
5. **Entity resolution** scored against the generator's truth (``write_match_report``).
6. **Native vs Python UDF** citizen-ID validation on the same cached rows: every ID-number column
   of every bronze table, checked row by row to agree, repeated to at least ``ID_CHECK_MIN_ROWS``
   rows for the timing (on a few ten thousand rows both take about a second, Spark's fixed cost
   of one job, and the ratio says nothing).
7. **Sharing.** ``govlake share serve`` as a subprocess on a free loopback port, a token per
   recipient, the official ``delta_sharing`` client querying concurrently.
8. **Incremental.** The generator (same seed) at 1% of the scale, its person and enterprise extracts
   delivered as new files (a later date in the name), every data step run again.

Keys (person id, share pseudonym, share token) are generated throw-away for the run and never
written anywhere. Results: ``OUT/pipeline-<scale>.json`` and ``.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.ingest import RESULTS, floor_seconds, generated, landing_files, machine
from govlake.config import REPO_ROOT

#: The throw-away keys a run sets for its own lake (restored afterwards).
KEY_NAMES = ("GOVLAKE_PERSON_ID_KEY", "GOVLAKE_SHARE_PSEUDONYM_KEY", "GOVLAKE_SHARE_TOKEN_KEY")
#: Reference datasets sent whole each time: not part of an incremental delivery.
REFERENCE_DATASETS = frozenset({"admin_divisions"})
#: The file-name date of the generated extracts, and the later one the increment carries.
EXTRACT_DATE, INCREMENT_DATE = "20250630", "20250701"
#: Rows the ID-validation timing runs on at least (the bronze ID values, repeated).
ID_CHECK_MIN_ROWS = 1_000_000
#: Targets of issue #15 (lower is better except native_vs_udf).
TARGETS = {
    "bronze_to_floor": ("<=", 2.0),
    "pipeline_to_floor": ("<=", 4.0),
    "incremental_to_full": ("<=", 0.15),
    "gate_to_build_max": ("<=", 0.25),
    "native_vs_udf": (">=", 10.0),
}


class LakeRefused(ValueError):
    """The scratch lake would be (or overlap) the configured lake: the benchmark never touches it."""


# -------------------------------------------------------------------------------------- set-up


@contextlib.contextmanager
def throwaway_keys() -> Iterator[dict[str, str]]:
    """Fresh keys in the environment for the run; the previous values are put back after."""
    before = {name: os.environ.get(name) for name in KEY_NAMES}
    keys = {name: secrets.token_urlsafe(32) for name in KEY_NAMES}
    keys["GOVLAKE_PERSON_ID_KEY"] = secrets.token_hex(32)
    os.environ.update(keys)
    try:
        yield keys
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def scratch_lake_root(work: Path) -> Path:
    """``work/lake``, refused when it is, holds or lies inside the configured lake."""
    from govlake.config import load_settings

    root = (work / "lake").resolve()
    configured = load_settings().storage_root
    if not configured.startswith("s3a://"):
        mine = Path(configured).resolve()
        if root == mine or mine in root.parents or root in mine.parents:
            raise LakeRefused(
                f"refusing to benchmark on {root}: it overlaps the configured lake {mine}; "
                "pick another --work folder"
            )
    return root


def _per_core(rows: int | None, seconds: float, cores: int) -> float | None:
    return round(rows / seconds / cores, 1) if rows and seconds > 0 else None


def _ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    return round(a / b, digits) if a is not None and b else None


# --------------------------------------------------------------------------------- pipeline run


def run_graph(
    lake: Any,
    graph: Any,
    cores: int,
    steps: list[Any],
    into: dict[str, Any],
    on_stage: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """``steps`` via run_steps; each stage's rows, seconds and gate is added to ``into`` as it ends
    (``on_stage`` then saves the result: a run cut short keeps every finished stage)."""
    from jobs.pipeline.graph import StepKind
    from jobs.pipeline.run import rows_written, run_steps

    into.setdefault("stages", [])
    into.setdefault("seconds", 0.0)
    started = time.perf_counter()
    before = into["seconds"]
    for run in run_steps(graph, lake, steps):
        step = run.step
        gate_seconds = run.gate.seconds if run.gate is not None else None
        if step.kind is StepKind.INGEST:
            rows = sum(f.get("rows_in") or 0 for f in run.files)
            seconds = run.seconds  # land + load of every file; the bronze gate comes after
        else:
            rows = rows_written(run.built["counts"]) if run.built else 0
            seconds = float(run.built["seconds"]) if run.built else 0.0
        into["stages"].append(
            {
                "step": step.name,
                "kind": step.kind.value,
                "format": _format_of(lake, step),
                "dataset": step.outputs[0].removeprefix("bronze.") if step.kind is StepKind.INGEST else None,
                "rows": rows,
                "seconds": round(seconds, 2),
                "rows_per_second_per_core": _per_core(rows, seconds, cores),
                "gate_seconds": round(gate_seconds, 2) if gate_seconds is not None else None,
                "gate_to_build": round(run.gate_to_build, 3) if run.gate_to_build is not None else None,
                "step_seconds": round(run.seconds, 2) if step.kind is not StepKind.INGEST else None,
                "skipped": run.skipped,
                "failed": str(run.failed) if run.failed else None,
                "files": [
                    {
                        k: f.get(k)
                        for k in ("original_name", "status", "rows_in", "rows_accepted", "rows_quarantined")
                    }
                    for f in run.files
                ],
            }
        )
        into["seconds"] = round(before + time.perf_counter() - started, 2)
        on_stage()
    return into


def zone_bytes(lake_root: Path) -> dict[str, int]:
    """Bytes on disk per zone of the (local) scratch lake, Delta logs and old file versions included:
    what the sizing page's storage per zone scales from."""
    from govlake.config import Zone

    return {
        zone.value: sum(p.stat().st_size for p in (lake_root / zone.value).rglob("*") if p.is_file())
        for zone in Zone
        if (lake_root / zone.value).is_dir()
    }


def _format_of(lake: Any, step: Any) -> str | None:
    if step.source_id is None:
        return None
    from govlake.registry import load_registry

    return load_registry(lake.settings.registry_path).source(step.source_id).format.value


def ingest_gates(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each bronze table's gate against the land + load seconds of every source feeding it."""
    tables: dict[str, dict[str, Any]] = {}
    for s in stages:
        if s["kind"] != "ingest":
            continue
        t = tables.setdefault(s["dataset"], {"step": f"bronze.{s['dataset']}", "build_seconds": 0.0})
        t["build_seconds"] += s["seconds"]
        if s["gate_seconds"] is not None:
            t["gate_seconds"] = s["gate_seconds"]
    out = []
    for t in tables.values():
        gate = t.get("gate_seconds")
        out.append(
            {
                "step": t["step"],
                "build_seconds": round(t["build_seconds"], 2),
                "gate_seconds": gate,
                "gate_to_build": _ratio(gate, t["build_seconds"], 3),
            }
        )
    return out


# ------------------------------------------------------------------------- native vs Python UDF


def id_validation(lake: Any, repeats: int = 3, min_rows: int = ID_CHECK_MIN_ROWS) -> dict[str, Any]:
    """Citizen-ID validation, native rule vs plain Python UDF, on the same cached rows (the bronze
    ID values repeated to at least ``min_rows`` for the timing; compared row by row once each)."""
    from pyspark.sql import functions as F

    from bench.idcheck_udf import citizen_id_udf
    from govlake.config import Zone
    from jobs.silver.rules.identity import citizen_id

    spark = lake.spark
    frames = []
    for table in lake.catalogue.in_zone(Zone.BRONZE):
        if not table.published or lake.published_version(table.id) is None:
            continue
        frame = lake.read_version(table.id, lake.published_version(table.id))
        frames += [frame.select(F.col(c).alias("value")) for c in frame.columns if "id_number" in c]
    values = frames[0]
    for frame in frames[1:]:
        values = values.unionByName(frame)
    values = values.cache()
    distinct_rows = values.count()
    copies = max(1, -(-min_rows // max(distinct_rows, 1)))
    timed_rows = (
        values.crossJoin(spark.range(copies).withColumnRenamed("id", "copy"))
        .select("value")
        .repartition(spark.sparkContext.defaultParallelism)
        .cache()
    )
    rows = timed_rows.count()
    udf = citizen_id_udf()

    def timed(expression: Any) -> float:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            timed_rows.select(expression.alias("r")).write.format("noop").mode("overwrite").save()
            best = min(best, time.perf_counter() - started)
        return best

    native_seconds = timed(citizen_id(F.col("value")))
    udf_seconds = timed(udf(F.col("value")))
    compared = values.select(citizen_id(F.col("value")).alias("n"), udf(F.col("value")).alias("u"))
    differing = compared.where(~F.col("n").eqNullSafe(F.col("u")))
    disagreements = differing.count()
    examples = [r.asDict(recursive=True) for r in differing.limit(3).collect()]
    valid = values.where(citizen_id(F.col("value"))["is_valid"]).count()
    timed_rows.unpersist()
    values.unpersist()
    return {
        "rows": rows,
        "distinct_source_rows": distinct_rows,
        "copies": copies,
        "valid": valid,
        "columns": len(frames),
        "native_seconds": round(native_seconds, 3),
        "udf_seconds": round(udf_seconds, 3),
        "repeats": repeats,
        "timing": f"best of {repeats}, write to the noop sink, rows cached",
        "disagreements": disagreements,
        "examples": json.loads(json.dumps(examples, default=str)),
    }


# ------------------------------------------------------------------------------------- sharing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sharing(lake: Any, work: Path, recipients: int = 3, rounds: int = 3) -> dict[str, Any]:
    """``govlake share serve`` on loopback; ``recipients`` clients query their tables concurrently."""
    import delta_sharing
    import requests

    from govlake.sharing import share_keys
    from jobs.share.server import profile
    from jobs.share.tokens import TokenStore

    published = lake.publications()
    grants = [g for g in lake.catalogue.shares.grants if g.table_id in published]
    chosen = list(dict.fromkeys(g.recipient for g in grants))[:recipients]
    if not chosen:
        return {"skipped": "no grant table is published"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    store = TokenStore(lake.settings, lake.catalogue, share_keys(lake.settings))
    profiles: dict[str, Path] = {}
    folder = work / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    for recipient in chosen:
        token, state = store.create(recipient, timedelta(hours=2), note="govlake bench")
        path = folder / f"{recipient}.share"
        path.write_text(json.dumps(profile(base, token, state.expires_at)))  # adds /delta-sharing
        path.chmod(0o600)
        profiles[recipient] = path
    env = {**os.environ, "GOVLAKE_STORAGE_ROOT": lake.settings.storage_root}
    log = (work / "share-serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "govlake_cli.main", "share", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/delta-sharing/shares", timeout=10).status_code == 401:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the sharing server did not start (log: {work / 'share-serve.log'})")
            time.sleep(0.2)
        latencies: dict[str, list[float]] = {"list_tables": [], "load_table": []}
        rows_read = 0
        lock = threading.Lock()

        def recipient_session(recipient: str) -> int:
            client = delta_sharing.SharingClient(str(profiles[recipient]))
            read = 0
            for _ in range(rounds):
                started = time.perf_counter()
                tables = client.list_all_tables()
                listed = time.perf_counter() - started
                loads = []
                for t in tables:
                    started = time.perf_counter()
                    frame = delta_sharing.load_as_pandas(
                        f"{profiles[recipient]}#{t.share}.{t.schema}.{t.name}"
                    )
                    loads.append(time.perf_counter() - started)
                    read += len(frame)
                with lock:
                    latencies["list_tables"].append(listed)
                    latencies["load_table"].extend(loads)
            return read

        # one warm-up query per recipient (imports, first Delta log read), not measured
        for recipient in chosen:
            delta_sharing.SharingClient(str(profiles[recipient])).list_all_tables()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            rows_read = sum(pool.map(recipient_session, chosen))
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    queries = len(latencies["list_tables"]) + len(latencies["load_table"])

    def summary(values: list[float]) -> dict[str, float | int]:
        ordered = sorted(values)
        return {
            "count": len(ordered),
            "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }

    return {
        "recipients": chosen,
        "concurrent_clients": len(chosen),
        "rounds": rounds,
        "queries": queries,
        "seconds": round(wall, 2),
        "queries_per_second": round(queries / wall, 2),
        "rows_read": rows_read,
        "rows_per_second": round(rows_read / wall, 1),
        "list_tables": summary(latencies["list_tables"]),
        "load_table": summary(latencies["load_table"]) if latencies["load_table"] else None,
        "client": f"delta-sharing {delta_sharing.__version__} (official Python client), loopback",
    }


# --------------------------------------------------------------------------------- incremental


def deliver_increment(lake: Any, scale: int, seed: int, work: Path) -> dict[str, Any]:
    """The generator (same seed) at 1% of ``scale``; its non-reference extracts delivered as new files."""
    from govlake import storage
    from govlake.registry import load_registry

    registry = load_registry(lake.settings.registry_path)
    small = max(20, scale // 100)
    data = generated(small, work / "increment", seed)
    files = landing_files(data)
    delivered, rows = 0, 0
    for f in files:
        if registry.source(f["source_id"]).dataset in REFERENCE_DATASETS:
            continue
        name = f["file"].replace(EXTRACT_DATE, INCREMENT_DATE)
        target = f"{lake.location('landing', source_id=f['source_id'])}/{name}"
        storage.write_bytes(lake.settings, target, Path(f["path"]).read_bytes())
        delivered += 1
        rows += int(f["data_rows"])
    return {"scale": small, "files": delivered, "rows": rows}


# ------------------------------------------------------------------------------------- the run


def run_pipeline_bench(
    scale: int,
    out: Path | str = RESULTS,
    *,
    seed: int = 0,
    work: Path | str | None = None,
    recipients: int = 3,
    rounds: int = 3,
) -> dict[str, Any]:
    """Run the benchmark on a scratch lake under ``work``; write ``out/pipeline-<scale>.{json,md}``.

    The files are rewritten after every phase, so a run cut short keeps what it measured; a phase
    that fails is recorded under ``errors`` and the later phases still run.
    """
    out = Path(out)
    work = Path(work) if work else Path(tempfile.gettempdir()) / "govlake-bench-pipeline"
    work.mkdir(parents=True, exist_ok=True)
    lake_root = scratch_lake_root(work)
    out.mkdir(parents=True, exist_ok=True)

    def save(result: dict[str, Any]) -> None:
        (out / f"pipeline-{scale}.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (out / f"pipeline-{scale}.md").write_text(report(result), encoding="utf-8")

    with throwaway_keys():
        result = _run(scale, seed, work, lake_root, recipients, rounds, save)
    save(result)
    return result


def _run(
    scale: int,
    seed: int,
    work: Path,
    lake_root: Path,
    recipients: int,
    rounds: int,
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    from govlake.config import load_settings
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from govlake.spark import get_spark, stop_spark
    from jobs.pipeline.graph import StepKind, pipeline_graph
    from jobs.silver.population.match_report import write_match_report
    from synthetic.deliver import deliver_extracts

    started = time.perf_counter()
    info = machine()
    cores = info["cores"] or 1
    result: dict[str, Any] = {"scale": scale, "seed": seed, "machine": info, "errors": {}}
    data = generated(scale, work, seed)
    files = landing_files(data)
    text_files = [f for f in files if f["format"] != "xlsx"]
    result["data"] = {
        "files": len(files),
        "bytes": sum(int(f["bytes"]) for f in files),
        "rows": sum(int(f["data_rows"]) for f in files),
        "csv_json_files": len(text_files),
        "csv_json_bytes": sum(int(f["bytes"]) for f in text_files),
        "generate_seconds": round(time.perf_counter() - started, 1),
    }
    for f in files:  # a warm page cache for the floor and the pipeline alike
        Path(f["path"]).read_bytes()

    shutil.rmtree(lake_root, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "GOVLAKE_STORAGE_ROOT"}
    settings = load_settings({**env, "GOVLAKE_STORAGE_ROOT": str(lake_root)})
    started_spark = SparkSession.getActiveSession() is None  # a test session's Spark is left running
    spark = get_spark(settings, app_name="govlake-pipeline-bench")
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # the floor reads GBK / GB18030
    spark.range(1000).write.mode("overwrite").parquet(str(work / "warm-up"))
    lake = Lake(settings, spark)
    graph = pipeline_graph(load_registry(settings.registry_path), lake.catalogue)
    scratch = work / "floor"

    def phase(name: str, measure: Callable[[], Any]) -> Any:
        try:
            value = measure()
        except Exception:  # recorded and reported; the other phases are still worth measuring
            result["errors"][name] = traceback.format_exc(limit=8)
            value = None
        finish(result, started)
        save(result)
        return value

    def save_now() -> None:
        finish(result, started)
        save(result)

    ingest_steps = list(graph.of_kind(StepKind.INGEST))
    later_steps = [st for st in graph.data_steps if st.kind is not StepKind.INGEST]
    housekeeping = list(graph.of_kind(StepKind.MAINTENANCE))
    try:
        floor_before = floor_seconds(spark, files, scratch)
        result["floor"] = {
            "seconds": round(sum(floor_before.values()), 2),
            "before_seconds": round(sum(floor_before.values()), 2),
            "after_seconds": None,
            "files": len(floor_before),
        }
        deliver_extracts(data / "landing", lake)
        # The graph in two calls (ingest steps, then the rest), as run_steps orders it anyway: the
        # floor is measured again and the ID rules timed on bronze in between, outside the timing.
        full: dict[str, Any] = {"complete": False}
        result["full_run"] = full
        run_graph(lake, graph, cores, ingest_steps, full, save_now)
        floor_after = floor_seconds(spark, files, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        result["floor"] |= {
            "seconds": round((sum(floor_before.values()) + sum(floor_after.values())) / 2, 2),
            "after_seconds": round(sum(floor_after.values()), 2),
        }
        result["ids"] = phase("ids", lambda: id_validation(lake))
        run_graph(lake, graph, cores, later_steps, full, save_now)
        full["complete"] = True
        result["storage_bytes"] = zone_bytes(lake_root)
        save_now()
        maintenance: dict[str, Any] = {"complete": False}
        result["maintenance"] = maintenance
        phase("maintenance", lambda: run_graph(lake, graph, cores, housekeeping, maintenance, save_now))
        maintenance["complete"] = "maintenance" not in result["errors"]
        match = phase("resolution", lambda: write_match_report(lake, data / "truth"))
        result["resolution"] = _resolution(match) if match else None
        result["sharing"] = phase("sharing", lambda: sharing(lake, work, recipients, rounds))

        def incremental() -> dict[str, Any]:
            increment = deliver_increment(lake, scale, seed, work)
            run: dict[str, Any] = {"complete": False}
            result["incremental"] = {**increment, "run": run}
            run_graph(lake, graph, cores, list(graph.data_steps), run, save_now)
            run["complete"] = True
            return result["incremental"]

        result["incremental"] = phase("incremental", incremental)
    except Exception:
        result["errors"]["full_run"] = traceback.format_exc(limit=8)
        save_now()
        raise
    finally:
        if started_spark:
            stop_spark()
    return finish(result, started)


def finish(result: dict[str, Any], started: float) -> dict[str, Any]:
    """Ratios and targets from what is measured so far."""
    result["ratios"] = ratios(result)
    result["targets"] = {
        name: {
            "target": f"{op} {limit:g}",
            "value": result["ratios"].get(name),
            "met": result["ratios"]["met"].get(name),
        }
        for name, (op, limit) in TARGETS.items()
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _resolution(match: dict[str, Any]) -> dict[str, Any]:
    res = match.get("resolution") or {}
    seconds = res.get("seconds") or 0
    records = match.get("crosswalk_records")
    pairs = match.get("pairs_compared")
    keep = (
        "probabilistic_precision",
        "probabilistic_recall",
        "probabilistic_pairs_true",
        "precision",
        "recall",
        "records_without_valid_id",
        "records_by_method",
        "backend",
    )
    return {
        "records": records,
        "pairs_compared": pairs,
        "seconds": seconds,
        "records_per_second": _ratio(records, seconds, 1),
        "pairs_per_second": _ratio(pairs, seconds, 1),
        **{k: match.get(k) for k in keep},
        "skipped": match.get("skipped"),
    }


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's ratios from the figures measured so far (and which targets they meet)."""
    full, floor_info = result.get("full_run"), result.get("floor")
    ids, inc = result.get("ids"), result.get("incremental")
    stages = full["stages"] if full else []
    bronze = sum(s["seconds"] for s in stages if s["kind"] == "ingest" and s["format"] != "xlsx")
    floor = floor_info["seconds"] if floor_info else None
    gates = [
        {
            "step": s["step"],
            "build_seconds": s["seconds"],
            "gate_seconds": s["gate_seconds"],
            "gate_to_build": s["gate_to_build"],
        }
        for s in stages
        if s["kind"] == "build" and s["gate_to_build"] is not None
    ] + ingest_gates(stages)
    out: dict[str, Any] = {
        "bronze_to_floor": _ratio(bronze, floor) if stages else None,
        "bronze_csv_json_seconds": round(bronze, 2),
        "pipeline_to_floor": _ratio(full["seconds"], floor) if full and full.get("complete") else None,
        "native_vs_udf": _ratio(ids["udf_seconds"], ids["native_seconds"], 1) if ids else None,
        "incremental_to_full": (
            _ratio(inc["run"]["seconds"], full["seconds"], 3) if inc and inc["run"].get("complete") else None
        ),
        "increment_rows_to_full_rows": _ratio(inc["rows"], result["data"]["rows"], 4) if inc else None,
        "gates": gates,
        "gate_to_build_max": max(
            (g["gate_to_build"] for g in gates if g["gate_to_build"] is not None), default=None
        ),
    }
    met: dict[str, bool] = {}
    for name, (op, limit) in TARGETS.items():
        value = out.get(name)
        if value is not None:
            met[name] = value <= limit if op == "<=" else value >= limit
    out["met"] = met
    return out


# ------------------------------------------------------------------------------------ reporting


def report(result: dict[str, Any]) -> str:
    """The result (whole, or as far as the run got) as a readable Markdown page."""
    m, d, r = result["machine"], result["data"], result["ratios"]
    fl, full = result.get("floor"), result.get("full_run")
    ids, res, sh, inc = (result.get(k) for k in ("ids", "resolution", "sharing", "incremental"))
    cores = m["cores"]
    lines = [
        f"# Whole-pipeline benchmark, {result['scale']:,} persons (seed {result['seed']})",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, load average at start {m['load_average']} "
        f"(shared machine), Python {m['python']}, commit `{m['git_commit']}`. "
        f"Total {result['seconds']:.0f} s.",
        f"Data: {d['files']} files, {d['bytes'] / 1e6:,.1f} MB, {d['rows']:,} data rows "
        f"({d['csv_json_files']} CSV/JSON files, {d['csv_json_bytes'] / 1e6:,.1f} MB).",
        "",
        "## Ratios and the targets of issue #15",
        "",
        "| ratio | measured | target | met |",
        "| --- | ---: | ---: | :---: |",
    ]
    labels = {
        "bronze_to_floor": "(a) bronze ingestion (land + load, CSV/JSON) / I/O floor",
        "pipeline_to_floor": "(b) whole pipeline / I/O floor",
        "native_vs_udf": "(c) Python-UDF / native ID validation (speed-up of native)",
        "incremental_to_full": "(d) incremental run with ~1% new records / full run",
        "gate_to_build_max": "(e) largest gate / its build",
    }
    met = r.get("met", {})
    for name, label in labels.items():
        op, limit = TARGETS[name]
        value = r.get(name)
        shown = "-" if value is None else f"{value:.3g}x" if name != "incremental_to_full" else f"{value:.1%}"
        target = f"{op} {limit:g}x" if name != "incremental_to_full" else f"{op} {limit:.0%}"
        mark = {True: "yes", False: "**no**"}.get(met.get(name), "-")
        lines.append(f"| {label} | {shown} | {target} | {mark} |")
    lines.append("")
    if fl and full:
        lines += [
            f"I/O floor: Spark reads the {fl['files']} CSV/JSON files into Parquet in {fl['seconds']:.1f} s "
            + (
                f"(mean of {fl['before_seconds']:.1f} before and {fl['after_seconds']:.1f} after ingestion); "
                if fl["after_seconds"] is not None
                else "(before ingestion only: the run stopped before the second measurement); "
            )
            + f"bronze ingestion of the same files {r['bronze_csv_json_seconds']:.1f} s; the whole pipeline "
            f"{full['seconds']:.1f} s{'' if full.get('complete') else ' so far (not complete)'}.",
            "",
        ]
    if ids:
        lines += [
            f"(c) ID validation on {ids['rows']:,} cached ID-number values (the "
            f"{ids.get('distinct_source_rows', ids['rows']):,} values of {ids['columns']} bronze columns, "
            f"{ids['valid']:,} valid, {ids.get('copies', 1)} times over): "
            f"native {ids['native_seconds']:.2f} s "
            f"({_per_core(ids['rows'], ids['native_seconds'], cores):,} rows/s/core), plain Python UDF "
            f"{ids['udf_seconds']:.2f} s ({_per_core(ids['rows'], ids['udf_seconds'], cores):,} "
            f"rows/s/core); {ids['timing']}. Rows where they disagree: {ids['disagreements']}.",
            "",
        ]
    if inc and full:
        lines += [
            f"(d) Increment: the generator at scale {inc['scale']} (same seed), {inc['files']} new files, "
            f"{inc['rows']:,} rows ({r['increment_rows_to_full_rows']:.1%} of the full run's rows): "
            f"{inc['run']['seconds']:.1f} s{'' if inc['run'].get('complete') else ' so far (not complete)'} "
            f"vs {full['seconds']:.1f} s for the full run. The population and legal-persons builds "
            "standardize only the new files; geography, the linking of legal persons and the later "
            "steps still read all of their inputs.",
            "",
        ]
    if res and res.get("skipped"):
        lines += [f"(f) Entity resolution: skipped ({res['skipped']}).", ""]
    elif res:
        lines += [
            f"(f) Entity resolution ({res['backend']}): {res['records']:,} records and "
            f"{res['pairs_compared']:,} scored pairs in {res['seconds']:.1f} s = "
            f"{res['records_per_second']:,} records/s, {res['pairs_per_second']:,} pairs/s; over pairs "
            f"involving a record without a valid ID ({res['probabilistic_pairs_true']:,} true pairs): "
            f"precision {res['probabilistic_precision']:.4f}, recall {res['probabilistic_recall']:.4f} "
            f"(overall {res['precision']:.4f} / {res['recall']:.4f}).",
            "",
        ]
    if sh and sh.get("skipped"):
        lines += [f"(g) Sharing: skipped ({sh['skipped']}).", ""]
    elif sh:
        lt, ld = sh["list_tables"], sh["load_table"] or {}
        lines += [
            f"(g) Sharing server (`govlake share serve`, {sh['client']}): {sh['concurrent_clients']} "
            f"recipients concurrently ({', '.join(sh['recipients'])}), {sh['rounds']} rounds each: "
            f"{sh['queries']} queries in {sh['seconds']:.1f} s = {sh['queries_per_second']:.1f} queries/s, "
            f"{sh['rows_read']:,} rows read ({sh['rows_per_second']:,.0f} rows/s). Latency: list tables "
            f"median {lt['median_ms']:.0f} ms, p95 {lt['p95_ms']:.0f} ms; load a table median "
            f"{ld.get('median_ms', 0):.0f} ms, p95 {ld.get('p95_ms', 0):.0f} ms, "
            f"max {ld.get('max_ms', 0):.0f} ms.",
            "",
        ]
    if result.get("storage_bytes"):
        zones = ", ".join(f"{z} {b / 1e6:,.1f} MB" for z, b in result["storage_bytes"].items())
        lines += [f"Storage after the full run, per zone (on disk, Delta logs included): {zones}.", ""]
    for phase, error in result.get("errors", {}).items():
        lines += [f"**{phase} failed:** `{error.strip().splitlines()[-1]}`", ""]
    lines += [
        "## (e) Gates vs builds",
        "",
        "| step | build s | gate s | gate / build |",
        "| --- | ---: | ---: | ---: |",
    ]
    for g in r["gates"]:
        ratio = "-" if g["gate_to_build"] is None else f"{g['gate_to_build']:.2f}"
        gate = "-" if g["gate_seconds"] is None else f"{g['gate_seconds']:.1f}"
        lines.append(f"| {g['step']} | {g['build_seconds']:.1f} | {gate} | {ratio} |")
    runs = [
        ("Full run", full),
        ("Weekly housekeeping (not in the ratios)", result.get("maintenance")),
        ("Incremental run (~1% new records)", inc["run"] if inc else None),
    ]
    for title, run in runs:
        if not run:
            continue
        lines += [
            "",
            f"## {title}: {run['seconds']:.1f} s",
            "",
            "| stage | rows | seconds | rows/s/core | gate s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for s in run["stages"]:
            rate = "-" if s["rows_per_second_per_core"] is None else f"{s['rows_per_second_per_core']:,.0f}"
            gate = "-" if s["gate_seconds"] is None else f"{s['gate_seconds']:.1f}"
            note = " (up to date, skipped)" if s["skipped"] else " (GATE FAILED)" if s["failed"] else ""
            lines.append(f"| {s['step']}{note} | {s['rows']:,} | {s['seconds']:.1f} | {rate} | {gate} |")
    lines += [
        "",
        "Rows: ingest stages count rows in (accepted + quarantined); build stages count rows written "
        "(inserted, updated, versioned). Rows per second per core divide by the machine's "
        f"{cores} cores (shared with other work: read the load average).",
    ]
    return "\n".join(lines) + "\n"
