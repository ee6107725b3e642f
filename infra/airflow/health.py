"""Wait until the local Airflow reports every component healthy (called by start.sh).

usage: health.py TIMEOUT_SECONDS COMPONENT... [--pids PIDFILE...]
Polls ``/api/v2/monitor/health`` (no auth needed) until metadatabase and the named components
(scheduler, dag_processor, triggerer) are healthy; fails early if a started process died.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def main(argv: list[str]) -> int:
    timeout = float(argv[0])
    rest = argv[1:]
    pidfiles = [Path(p) for p in rest[rest.index("--pids") + 1 :]] if "--pids" in rest else []
    components = ["metadatabase", *(rest[: rest.index("--pids")] if "--pids" in rest else rest)]
    url = os.environ["GOVLAKE_AIRFLOW_URL"] + "/api/v2/monitor/health"
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        dead = [p.stem for p in pidfiles if not alive(p)]
        if dead:
            print(f"airflow component(s) exited during start-up: {', '.join(dead)}", file=sys.stderr)
            return 2
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                health = json.load(resp)
            states = {c: (health.get(c) or {}).get("status") for c in components}
            if all(s == "healthy" for s in states.values()):
                print(f"airflow healthy at {os.environ['GOVLAKE_AIRFLOW_URL']}: {states}")
                return 0
            last = str(states)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(2)
    print(f"airflow not healthy after {timeout:.0f} s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
