"""infra/lib/pids.sh, which every local server's start, status and stop scripts use to find their
processes: a pid file names a server only while that process runs and its command line holds the
server's marker, and a process still exec'ing towards that command line is not taken for a
stranger (a loaded CI machine once failed a cluster start that way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govlake.config import REPO_ROOT

PIDS_SH = REPO_ROOT / "infra" / "lib" / "pids.sh"
MARKER = "--properties-file /nowhere/govlake-test.conf "


def pid_from_file(pidfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", 'source "$0" && pid_from_file "$1" "$2"', str(PIDS_SH), str(pidfile), MARKER],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def spawn() -> Iterator:
    started: list[subprocess.Popen] = []

    def start(script: str) -> subprocess.Popen:
        # The marker reaches the final command line only through the environment, so the shell's
        # own command line (before its exec) does not hold it.
        proc = subprocess.Popen(
            ["bash", "-c", script],
            env={**os.environ, "MARKER_ARGS": MARKER.strip(), "PY": sys.executable},
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_server_still_execing_towards_its_command_line_is_found(tmp_path: Path, spawn):
    sleeper = "import time; time.sleep(30)"
    proc = spawn(f'sleep 0.4; exec "$PY" -c "{sleeper}" $MARKER_ARGS')
    pidfile = tmp_path / "server.pid"
    pidfile.write_text(f"{proc.pid}\n")
    time.sleep(0.05)
    assert MARKER.strip() not in Path(f"/proc/{proc.pid}/cmdline").read_text().replace("\0", " ")
    found = pid_from_file(pidfile)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(proc.pid)


def test_a_running_process_without_the_marker_is_not_the_server(tmp_path: Path, spawn):
    proc = spawn("exec sleep 30")  # a recycled pid: alive, but someone else's
    pidfile = tmp_path / "server.pid"
    pidfile.write_text(f"{proc.pid}\n")
    time.sleep(0.1)
    assert pid_from_file(pidfile).returncode == 1


def test_an_ended_process_or_a_broken_pid_file_names_no_server(tmp_path: Path):
    ended = subprocess.run(["bash", "-c", "echo $$"], capture_output=True, text=True, check=True)
    pidfile = tmp_path / "server.pid"
    for content in (ended.stdout, "", "not-a-pid\n"):
        pidfile.write_text(content)
        t0 = time.monotonic()
        assert pid_from_file(pidfile).returncode == 1
        assert time.monotonic() - t0 < 2  # no looking again for what cannot be ours
    assert pid_from_file(tmp_path / "missing.pid").returncode == 1
