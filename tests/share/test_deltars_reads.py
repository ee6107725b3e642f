"""The sharing side's delta-rs reads start no Arrow thread pool.

An Arrow dataset scan (``DeltaTable.to_pyarrow_table``) starts Arrow's C++ CPU and I/O pools, whose
workers can abort a short-lived process as it exits ("terminate called without an active
exception": ``govlake share audit verify`` exited -6 in CI so). Arrow's workers are unnamed native
threads, so they carry the process's own thread name; delta-rs's runtime names its own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_READ_AND_COUNT = textwrap.dedent(
    """
    import os, sys
    import deltalake, pyarrow  # importing them starts threads of their own: not the read's
    from govlake.config import load_settings
    from jobs.share.deltars import read_rows

    def unnamed_threads():
        tasks = os.listdir("/proc/self/task")
        names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in tasks]
        return names.count(open("/proc/self/comm").read().strip())

    settings = load_settings({"GOVLAKE_STORAGE_ROOT": sys.argv[2]})
    before = unnamed_threads()
    rows = read_rows(settings, sys.argv[1], ["seq", "event"])
    print(len(rows), unnamed_threads() - before, max(r["event"] for r in rows))
    """
)


def test_reading_a_table_starts_no_arrow_threads(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    table = tmp_path / "audit"
    rows = pa.table({"seq": list(range(50)), "event": [f"e{i}" for i in range(50)]})
    for start in (0, 25):  # two commits, two data files
        write_deltalake(str(table), rows.slice(start, 25), mode="append")

    read = subprocess.run(
        [sys.executable, "-c", _READ_AND_COUNT, str(table), str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert read.returncode == 0, read.stderr
    count, new_threads, largest = read.stdout.split()
    assert (int(count), largest) == (50, "e9")  # rows come in no set order: the largest event
    assert int(new_threads) == 0, f"{new_threads} Arrow worker thread(s) started by the read"
