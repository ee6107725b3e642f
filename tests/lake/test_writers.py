"""One writer per table: the lease is exclusive, re-entrant, released, and broken only when dead."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

TABLE = "bronze.household_registration"


def _lake_at(root: Path):
    from govlake.config import load_settings
    from govlake.lake import Lake

    return Lake(load_settings({**os.environ, "GOVLAKE_STORAGE_ROOT": str(root)}))


@pytest.fixture
def lake(tmp_path):
    return _lake_at(tmp_path / "lake")


def _foreign_lease(lake, *, host: str, pid: int, expires: datetime) -> Path:
    from govlake.lake.writers import lease_path

    path = Path(lease_path(lake, TABLE))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"table": TABLE, "owner": "silver.population run x", "host": host, "pid": pid, "token": "t"}
    path.write_text(
        json.dumps(record | {"acquired_at": "2026-12-01T00:00:00+00:00", "expires_at": expires.isoformat()})
    )
    return path


def test_a_live_writer_keeps_the_table(lake):
    from govlake.lake.writers import TableBusy, writing

    later = datetime.now(UTC) + timedelta(minutes=5)
    _foreign_lease(lake, host="another-host", pid=1, expires=later)
    with (
        pytest.raises(TableBusy, match=r"silver\.population run x"),
        writing(lake, [TABLE], owner="me", wait=timedelta(0)),
    ):
        pass


def test_a_dead_writers_lease_is_broken(lake):
    from govlake.lake.writers import holder, writing

    earlier = datetime.now(UTC) - timedelta(seconds=1)
    _foreign_lease(lake, host="another-host", pid=1, expires=earlier)  # stopped renewing
    with writing(lake, [TABLE], owner="me", wait=timedelta(0)):
        assert holder(lake, TABLE)["owner"] == "me"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    later = datetime.now(UTC) + timedelta(minutes=5)
    _foreign_lease(lake, host=socket.gethostname(), pid=int(gone.stdout), expires=later)  # its process ended
    with writing(lake, [TABLE], owner="me again", wait=timedelta(0)):
        assert holder(lake, TABLE)["owner"] == "me again"
    assert holder(lake, TABLE) is None


def test_leases_are_reentrant_and_released_on_error(lake):
    from govlake.lake.writers import holder, writing

    with pytest.raises(RuntimeError), writing(lake, [TABLE, "bronze._ingest_log"], owner="build"):
        with writing(lake, [TABLE], owner="its gate", wait=timedelta(0)):  # the same process: re-entrant
            assert holder(lake, TABLE)["owner"] == "build"
        assert holder(lake, TABLE)["owner"] == "build"  # the inner block did not release it
        raise RuntimeError("the job failed")
    assert holder(lake, TABLE) is None and holder(lake, "bronze._ingest_log") is None


def test_a_second_process_waits_for_the_first(lake, tmp_path):
    """Two processes on one table: the second gets the lease only after the first released it."""
    child = (
        "import os, sys, time, json\n"
        "from govlake.config import load_settings\n"
        "from govlake.lake import Lake\n"
        "from govlake.lake.writers import writing\n"
        "from datetime import timedelta\n"
        "lake = Lake(load_settings({**os.environ, 'GOVLAKE_STORAGE_ROOT': sys.argv[1]}))\n"
        "table = 'bronze.household_registration'\n"
        "with writing(lake, [table], owner=sys.argv[2], wait=timedelta(seconds=60)):\n"
        "    start = time.time(); time.sleep(1.5); end = time.time()\n"
        "print(json.dumps([start, end]))\n"
    )
    root = str(Path(lake.settings.storage_root))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", child, root, f"writer {i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    first, second = sorted(json.loads(p.communicate(timeout=120)[0]) for p in procs)
    assert first[1] <= second[0]  # never both inside
