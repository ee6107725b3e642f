"""Parse the dags folder in a fresh interpreter and print what was found, as JSON (used by the tests).

usage: python _probe_dags.py DAGS_DIR OUT_JSON

Each DAG file is parsed the way Airflow 3's dag-processor does it: in a forked child of a process that
already has Airflow's DAG-authoring API imported, so the time and the modules measured are the file's
own. The whole folder is also parsed once, to collect import errors.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = (
    "pyspark",
    "py4j",
    "pandas",
    "great_expectations",
    "delta",
    "pyarrow",
    "openpyxl",
    "duckdb",
    "splink",
)
BUNDLE = "dags-folder"


def describe(dag: Any) -> dict[str, Any]:
    tasks = {}
    for t in dag.tasks:
        tasks[t.task_id] = {
            "mapped": bool(getattr(t, "_is_mapped", False)),
            "pool": t.pool,
            "retries": t.retries,
            "retry_exponential_backoff": t.retry_exponential_backoff,
            "on_failure_callback": bool(t.on_failure_callback),
            "outlets": [getattr(o, "name", str(o)) for o in t.outlets],
            "upstream": sorted(t.upstream_task_ids),
            "doc": bool(t.doc_md or t.doc),
        }
    tt = dag.timetable
    return {
        "tags": sorted(dag.tags),
        "catchup": dag.catchup,
        "schedule": getattr(tt, "expression", None),
        "timezone": str(getattr(tt, "timezone", "")),
        "max_active_runs": dag.max_active_runs,
        "doc_md": dag.doc_md or "",
        "tasks": tasks,
    }


def parse_in_child(path: Path, dags_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import BundleDagBag

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: parse one file, report, exit
        os.close(read_fd)
        try:
            os.environ.update(env)
            before = set(sys.modules)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            bag = BundleDagBag(path, bundle_path=dags_dir, bundle_name=BUNDLE)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            new = set(sys.modules) - before
            out = {
                "wall_s": wall,
                "cpu_s": cpu,
                "heavy_modules": sorted(m for m in new if m.split(".")[0] in HEAVY),
                "import_errors": {str(k): v for k, v in bag.import_errors.items()},
                "dags": {dag_id: describe(d) for dag_id, d in bag.dags.items()},
            }
        except BaseException as exc:  # report anything, never hang the parent
            out = {"crash": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write_fd, "w") as fh:
            fh.write(json.dumps(out))
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def main(dags_dir: Path, out_path: Path) -> None:
    # What every DAG file needs anyway; the dag-processor has it loaded before it forks a parser.
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.sdk import DAG, Asset, CronTriggerTimetable, dag, task  # noqa: F401

    files = {p.name: parse_in_child(p, dags_dir, {}) for p in sorted(dags_dir.glob("*.py"))}
    # A task runner sets the parsing context: pipeline.py must then build just that one DAG.
    one = parse_in_child(
        dags_dir / "pipeline.py",
        dags_dir,
        {"_AIRFLOW_PARSING_CONTEXT_DAG_ID": os.environ["PROBE_ONE_DAG_ID"]},
    )
    whole = BundleDagBag(dags_dir, bundle_path=dags_dir, bundle_name=BUNDLE)
    out_path.write_text(  # not stdout: Airflow logs there
        json.dumps(
            {
                "files": files,
                "parsing_context_dag_ids": sorted(one.get("dags", {})),
                "folder": {
                    "dag_ids": sorted(whole.dags),
                    "import_errors": {str(k): v for k, v in whole.import_errors.items()},
                    "files_parsed": sorted({Path(d.fileloc).name for d in whole.dags.values()}),
                },
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
