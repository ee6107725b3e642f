"""Measure bronze ingestion against its I/O floor, and its memory on growing single extracts.

One run, on one machine, in one Spark session:

1. **Data.** ``synthetic.generator`` writes every registry source's extract for ``--scale`` persons
   (kept under ``OUT/data/scale-<n>`` and reused when its manifest says the same scale and seed).
2. **Floor.** Spark reads each CSV / JSON Lines extract with that file's own options (delimiter,
   header, encoding; ``spark.sql.legacy.javaCharsets`` for GBK / GB18030) and writes it as Parquet:
   the least any ingestion of those bytes into a columnar table costs. Measured file by file
   before and after the ingestion, page cache warm, and averaged: the floor the target is set
   against. A file under 128 MB is one Spark task, so that floor keeps one core busy; the same
   reads as concurrent jobs (after the second pass) give a stricter floor, reported beside it.
   Spark has no XLSX reader, so workbooks are left out of the floor and of the ratio (their time is
   reported apart).
3. **Ingestion.** ``jobs.raw.land`` + ``jobs.bronze.load`` on a fresh lake, as ``govlake ingest``
   runs them (every file landed, then loaded in one batch: streaming reader -> Parquet staging and
   an independent record count file by file, then Spark's flags and the accounting check in one
   job, one quarantine / bronze-per-dataset / ingest-log Delta append each), per phase. The CSV /
   JSON files load as one batch, the XLSX files as another, so the ratio covers what the floor does.
4. **Memory.** For each ``--memory-mb`` size, a single household extract (GBK CSV, rows of the
   generated Nanjing file repeated) is landed and loaded by a child process on a lake of its own,
   while this process samples the resident memory of the child and all its descendants (the
   Python driver and Spark's JVM: with a local master the JVM does the Spark side of ingestion,
   so both are the ingest process) every 0.1 s.

Results go to ``bench/results/ingest-<scale>.json`` and ``.md`` with the machine's cores, memory,
load average and the git commit::

    python -m bench.ingest --scale 200000
    python -m bench.ingest --scale 1000000 --memory-mb 200 2000

``run_ingest_bench(scale, out, ...) -> dict`` is the importable entry point.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from govlake.config import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
#: The source whose generated file is repeated into the single large extracts (GBK CSV, 10 columns).
MEMORY_SOURCE = "ps_3201_household"


# ------------------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    import psutil

    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": commit + ("+dirty" if dirty else ""),
    }


# ---------------------------------------------------------------------------------------- data


def generated(scale: int, out: Path, seed: int = 0) -> Path:
    """Generated extracts for ``scale`` persons under ``out/data/scale-<scale>`` (made once)."""
    from synthetic.generator import generate

    target = out / "data" / f"scale-{scale}"
    manifest = target / "truth" / "manifest.json"
    if manifest.exists():
        known = json.loads(manifest.read_text(encoding="utf-8"))
        if known.get("scale") == scale and known.get("seed") == seed:
            return target
    generate(target, scale, seed, progress=False)
    return target


def landing_files(data: Path) -> list[dict[str, Any]]:
    """The generator's files.csv rows, with the landing path of each file."""
    with (data / "truth" / "files.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["path"] = str(data / "landing" / row["source_id"] / row["file"])
    return rows


# --------------------------------------------------------------------------------------- floor

_JAVA_CHARSETS = {"gbk": "GBK", "gb18030": "GB18030", "utf-8": "UTF-8", "utf-8-sig": "UTF-8"}


def _floor_read(spark: Any, f: dict[str, Any], out: Path) -> None:
    """Spark reads one CSV / JSON file with its own options and writes it as Parquet."""
    if f["format"] == "csv":
        reader = (
            spark.read.option("header", "true")
            .option("sep", f["delimiter"] or ",")
            .option("encoding", _JAVA_CHARSETS.get(f["encoding_actual"], f["encoding_actual"]))
            .option("mode", "PERMISSIVE")
        )
        frame = reader.csv(f["path"])
    else:
        frame = spark.read.json(f["path"])
    frame.write.mode("overwrite").parquet(str(out))


def floor_seconds(spark: Any, files: list[dict[str, Any]], scratch: Path) -> dict[str, float]:
    """Seconds Spark takes to read each CSV / JSON file into Parquet, by file (XLSX skipped)."""
    seconds: dict[str, float] = {}
    for i, f in enumerate(files):
        if f["format"] == "xlsx":
            continue
        started = time.perf_counter()
        _floor_read(spark, f, scratch / f"floor-{i}")
        seconds[f"{f['source_id']}/{f['file']}"] = time.perf_counter() - started
    return seconds


#: Jobs the side-by-side floor runs at once (the loader's CONCURRENT_APPENDS).
FLOOR_JOBS = 3


def side_by_side_floor_seconds(spark: Any, files: list[dict[str, Any]], scratch: Path) -> float:
    """Wall seconds for the same reads as :func:`floor_seconds`, run as concurrent Spark jobs,
    largest file first. One file under 128 MB is one task, so the file-by-file floor keeps one
    core busy; this one fills the machine, as ingestion does: the stricter floor."""
    from concurrent.futures import ThreadPoolExecutor

    chosen = [(i, f) for i, f in enumerate(files) if f["format"] != "xlsx"]
    chosen.sort(key=lambda item: -int(item[1]["bytes"]))
    started = time.perf_counter()
    with ThreadPoolExecutor(FLOOR_JOBS) as pool:
        futures = [pool.submit(_floor_read, spark, f, scratch / f"side-{i}") for i, f in chosen]
    for future in futures:
        future.result()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------ ingestion


def ingest_seconds(settings: Any, data: Path) -> dict[str, Any]:
    """Land every generated file on the lake of ``settings``, then load it: the CSV / JSON files as
    one batch (what the floor covers), then the XLSX files as another; seconds and accounting."""
    from govlake.registry import load_registry
    from jobs.bronze.load import load_files
    from jobs.raw.land import land_new_files, landing_dir

    registry = load_registry(settings.registry_path)
    for source_dir in sorted((data / "landing").iterdir()):
        shutil.copytree(source_dir, landing_dir(settings, source_dir.name), dirs_exist_ok=True)
    landed: list[dict[str, Any]] = []
    started = time.perf_counter()
    for source_id in registry.sources:
        landed += land_new_files(source_id, settings)
    land = time.perf_counter() - started
    total_bytes = sum(f["size_bytes"] for f in landed) or 1
    files: dict[str, Any] = {}
    batches: dict[str, Any] = {}
    for kind in ("text", "xlsx"):
        chosen = [
            f for f in landed if (registry.source(f["source_id"]).format.value == "xlsx") == (kind == "xlsx")
        ]
        started = time.perf_counter()
        results = load_files([(f["source_id"], f["file_hash"]) for f in chosen], settings)
        batches[kind] = {
            "files": len(chosen),
            "load_seconds": time.perf_counter() - started,
            "land_seconds": land * sum(f["size_bytes"] for f in chosen) / total_bytes,
            "phases": next((r["batch"]["seconds"] for r in results if "batch" in r), {}),
        }
        by_hash = {r["file_hash"]: r for r in results}
        for f in chosen:
            result = by_hash[f["file_hash"]]
            files[f"{f['source_id']}/{f['original_name']}"] = {
                "format": registry.source(f["source_id"]).format.value,
                "bytes": f["size_bytes"],
                "land_seconds": land * f["size_bytes"] / total_bytes,
                "read_seconds": result.get("read_seconds"),
                **{k: result.get(k) for k in ("status", "rows_in", "rows_accepted", "rows_quarantined")},
            }
    return {"files": files, "batches": batches, "land_seconds": land}


# --------------------------------------------------------------------------------------- memory


def single_extract(data: Path, target: Path, size_bytes: int) -> int:
    """Write a ``MEMORY_SOURCE`` extract of about ``size_bytes`` by repeating the generated rows."""
    source_dir = data / "landing" / MEMORY_SOURCE
    original = next(p for p in sorted(source_dir.iterdir()) if p.is_file())
    raw = original.read_bytes()
    header, _, body = raw.partition(b"\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as out:
        out.write(header + b"\n")
        written += len(header) + 1
        while written < size_bytes:
            out.write(body)
            written += len(body)
    return written


def _probe(workdir: Path) -> None:
    """Child process: land and load the one extract waiting in the lake at ``workdir``; print JSON."""
    from govlake.config import load_settings
    from govlake.spark import get_spark
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    settings = load_settings({**os.environ, "GOVLAKE_STORAGE_ROOT": str(workdir / "lake")})
    get_spark(settings, app_name="govlake-ingest-memory")
    started = time.perf_counter()
    landed = land_new_files(MEMORY_SOURCE, settings)
    land = time.perf_counter() - started
    result = load_file(MEMORY_SOURCE, landed[0]["file_hash"], settings)
    result["land_seconds"] = land
    result["load_seconds"] = time.perf_counter() - started - land
    print("PROBE-RESULT " + json.dumps(result, default=str), flush=True)


def memory_probe(data: Path, size_bytes: int, scratch: Path) -> dict[str, Any]:
    """Peak resident memory of a child process (and its JVM) ingesting one extract of ``size_bytes``."""
    import psutil

    workdir = scratch / f"memory-{size_bytes}"
    shutil.rmtree(workdir, ignore_errors=True)
    actual = single_extract(data, workdir / "lake" / "landing" / MEMORY_SOURCE / "big.csv", size_bytes)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest", "--probe", str(workdir)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "GOVLAKE_STORAGE_ROOT"},
    )
    peaks = {"total": 0, "python": 0, "jvm": 0}
    stop = threading.Event()

    def sample() -> None:
        parent = psutil.Process(child.pid)
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            python = jvm = 0
            for proc in procs:
                try:
                    exe, rss = proc.exe(), proc.memory_info().rss
                    if exe.endswith("/java"):
                        # Hadoop's local file system forks the JVM for chmod and the like: such a
                        # fork shares the JVM's pages and lives a moment; counting it would count
                        # the JVM twice.
                        if not proc.parent().exe().endswith("/java"):
                            jvm += rss
                    elif "python" in exe:  # the driver, and PySpark's workers if any
                        python += rss
                except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
                    continue
            peaks["python"] = max(peaks["python"], python)
            peaks["jvm"] = max(peaks["jvm"], jvm)
            peaks["total"] = max(peaks["total"], python + jvm)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    stop.set()
    sampler.join()
    line = next((x for x in out.splitlines() if x.startswith("PROBE-RESULT ")), None)
    if child.returncode != 0 or line is None:
        raise RuntimeError(f"memory probe failed ({child.returncode}): {err[-3000:]}")
    result = json.loads(line.removeprefix("PROBE-RESULT "))
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "bytes": actual,
        "peak_rss_mib": {k: round(v / 2**20, 1) for k, v in peaks.items()},
        "rows_in": result["rows_in"],
        "status": result["status"],
        "land_seconds": round(result["land_seconds"], 2),
        "load_seconds": round(result["load_seconds"], 2),
        "phases": result.get("batch", {}).get("seconds", {}),
    }


# ------------------------------------------------------------------------------------ the run


def run_ingest_bench(
    scale: int,
    out: Path | str = RESULTS,
    *,
    seed: int = 0,
    memory_mb: tuple[int, ...] = (200, 2000),
    work: Path | str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; write ``out/ingest-<scale>.json`` and ``.md``; return the result."""
    from govlake.config import load_settings
    from govlake.spark import get_spark

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work) if work else Path(tempfile.gettempdir()) / "govlake-bench-ingest"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict[str, Any] = {"scale": scale, "seed": seed, "machine": machine()}
    data = generated(scale, work, seed)
    files = landing_files(data)
    result["data"] = {
        "files": len(files),
        "bytes": sum(int(f["bytes"]) for f in files),
        "rows": sum(int(f["data_rows"]) for f in files),
        "generate_seconds": round(time.perf_counter() - started, 1),
    }
    for f in files:  # a warm page cache for both sides
        Path(f["path"]).read_bytes()

    lake_root = work / "lake"
    shutil.rmtree(lake_root, ignore_errors=True)
    settings = load_settings({**os.environ, "GOVLAKE_STORAGE_ROOT": str(lake_root)})
    spark = get_spark(settings, app_name="govlake-ingest-bench")
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # Spark 4 refuses GBK / GB18030 otherwise
    spark.range(1000).write.mode("overwrite").parquet(str(work / "warm-up"))  # JVM, codegen, Parquet
    scratch = work / "floor"

    floor_before = floor_seconds(spark, files, scratch)
    ingest = ingest_seconds(settings, data)
    floor_after = floor_seconds(spark, files, scratch)
    side_by_side = side_by_side_floor_seconds(spark, files, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    floor = {k: (floor_before[k] + floor_after[k]) / 2 for k in floor_before}
    text, xlsx = ingest["batches"]["text"], ingest["batches"]["xlsx"]
    load_text, land_text = text["load_seconds"], text["land_seconds"]
    result["floor"] = {
        "seconds": round(sum(floor.values()), 2),
        "before_seconds": round(sum(floor_before.values()), 2),
        "after_seconds": round(sum(floor_after.values()), 2),
        "side_by_side_seconds": round(side_by_side, 2),
        "files": len(floor),
    }
    result["ingest"] = {
        "csv_json_files": text["files"],
        "land_seconds": round(land_text, 2),
        "load_seconds": round(load_text, 2),
        "seconds": round(land_text + load_text, 2),
        "phases_seconds": {k: round(v, 2) for k, v in text["phases"].items()},
        "xlsx_files": xlsx["files"],
        "xlsx_seconds": round(xlsx["load_seconds"] + xlsx["land_seconds"], 2),
        "rows_in": sum(v["rows_in"] or 0 for v in ingest["files"].values()),
        "rows_accepted": sum(v["rows_accepted"] or 0 for v in ingest["files"].values()),
        "rows_quarantined": sum(v["rows_quarantined"] or 0 for v in ingest["files"].values()),
    }
    result["ratio"] = {
        "load_to_floor": round(load_text / result["floor"]["seconds"], 2),
        "land_and_load_to_floor": round((land_text + load_text) / result["floor"]["seconds"], 2),
        "land_and_load_to_side_by_side_floor": round((land_text + load_text) / side_by_side, 2),
    }
    result["files"] = {
        k: {**v, "floor_seconds": round(floor[k], 3) if k in floor else None}
        for k, v in ingest["files"].items()
    }
    from govlake.spark import stop_spark

    stop_spark()
    result["memory"] = [memory_probe(data, mb * 10**6, work) for mb in memory_mb]
    if len(result["memory"]) >= 2:
        small, large = result["memory"][0], result["memory"][-1]
        result["memory_growth"] = {
            k: round(large["peak_rss_mib"][k] / small["peak_rss_mib"][k] - 1, 3)
            for k in small["peak_rss_mib"]
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    (out / f"ingest-{scale}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (out / f"ingest-{scale}.md").write_text(report(result), encoding="utf-8")
    return result


def report(result: dict[str, Any]) -> str:
    """The result as a readable Markdown page."""
    m, d, fl, ing, r = result["machine"], result["data"], result["floor"], result["ingest"], result["ratio"]
    lines = [
        f"# Bronze ingestion benchmark, {result['scale']:,} persons",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, load average at start {m['load_average']} "
        f"(shared machine), Python {m['python']}, commit `{m['git_commit']}`.",
        f"Data: {d['files']} files, {d['bytes'] / 1e6:,.1f} MB, {d['rows']:,} data rows "
        "(synthetic.generator).",
        "",
        "| measure | seconds |",
        "| --- | ---: |",
        f"| floor: Spark reads the {fl['files']} CSV/JSON files into Parquet (mean of before/after) "
        f"| {fl['seconds']:.1f} ({fl['before_seconds']:.1f} / {fl['after_seconds']:.1f}) |",
        f"| ingestion of the same files: land | {ing['land_seconds']:.1f} |",
        f"| ingestion of the same files: load (bronze, quarantine, log) | {ing['load_seconds']:.1f} |",
        f"| **ingestion / floor** (load only; land + load) | **{r['load_to_floor']:.2f}x**; "
        f"{r['land_and_load_to_floor']:.2f}x |",
        f"| XLSX files ({ing['xlsx_files']}, not in the floor: Spark has no XLSX reader) | "
        f"{ing['xlsx_seconds']:.1f} |",
    ]
    if "side_by_side_seconds" in fl:  # runs before it measured the file-by-file floor only
        lines += [
            f"| stricter floor: the same reads as {FLOOR_JOBS} concurrent Spark jobs (the file-by-file "
            f"floor keeps one core busy) | {fl['side_by_side_seconds']:.1f} |",
            "| ingestion (land + load) / the stricter floor | "
            f"{r['land_and_load_to_side_by_side_floor']:.2f}x |",
        ]
    lines += [
        "",
        "Load phases (the CSV/JSON files' batch, seconds; read = the streaming reader and the "
        "independent count, file by file): "
        + ", ".join(f"{k} {v:.1f}" for k, v in ing["phases_seconds"].items()),
        "",
        f"Rows: in {ing['rows_in']:,} = accepted {ing['rows_accepted']:,} + quarantined "
        f"{ing['rows_quarantined']:,}.",
        "",
    ]
    if result.get("memory"):
        lines += [
            "## Peak resident memory of the ingest process (Python driver + Spark JVM), one extract",
            "",
            "| extract | rows | land s | load s | Python MiB | JVM MiB | total MiB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for probe in result["memory"]:
            peak = probe["peak_rss_mib"]
            lines.append(
                f"| {probe['bytes'] / 1e6:,.0f} MB | {probe['rows_in']:,} | {probe['land_seconds']:.1f} | "
                f"{probe['load_seconds']:.1f} | {peak['python']:,.0f} | {peak['jvm']:,.0f} | "
                f"{peak['total']:,.0f} |"
            )
        if "memory_growth" in result:
            g = result["memory_growth"]
            lines += [
                "",
                f"Growth from the smallest to the largest extract: total {g['total']:+.1%}, "
                f"Python {g['python']:+.1%}, JVM {g['jvm']:+.1%}.",
            ]
            if result.get("memory_note"):  # the probes came from another run than the ratio
                lines += ["", f"Memory {result['memory_note']}."]
    lines += ["", "## Per file", "", "| file | MB | rows in | status | floor s | land s | read s |"]
    lines.append("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for name, f in result["files"].items():
        floor = f"{f['floor_seconds']:.2f}" if f["floor_seconds"] is not None else "-"
        lines.append(
            f"| {name} | {f['bytes'] / 1e6:.1f} | {f['rows_in']:,} | {f['status']} | {floor} | "
            f"{f['land_seconds']:.2f} | {f['read_seconds']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=200_000, help="persons to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and Markdown results go")
    parser.add_argument("--work", type=Path, help="scratch folder (data, lake); default: the temp folder")
    parser.add_argument(
        "--memory-mb", type=int, nargs="*", default=[200, 2000], help="single-extract sizes (MB) to probe"
    )
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # the memory probe's child process
    args = parser.parse_args()
    if args.probe:
        _probe(args.probe)
        return
    result = run_ingest_bench(
        args.scale, args.out, seed=args.seed, memory_mb=tuple(args.memory_mb), work=args.work
    )
    print(report(result))


if __name__ == "__main__":
    main()
