"""Debian's headless Chromium for the page tests (``from browser import open_offline, screenshot``).

As root, Chromium is started the way this machine's browser tests work: no sandbox, no GPU, no
background networking and a fresh profile each time.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
_BASE = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _chromium() -> str:
    assert Path(CHROMIUM).is_file(), "headless Chromium is missing: run infra/install.sh (as root)"
    return CHROMIUM


@dataclass(frozen=True)
class OfflineVisit:
    dom: str  # after its scripts ran
    requests: list[str]  # the page's own requests (Chromium's own are left out)
    console_errors: list[str]


def open_offline(url: str, workdir: Path, *, timeout: int = 240) -> OfflineVisit:
    """Open ``url`` with every network request refused (no name resolves, a proxy that is not there)."""
    run = workdir / f"chromium-{len(list(workdir.glob('chromium-*')))}"
    run.mkdir(parents=True)
    net_log = run / "net-log.json"
    done = subprocess.run(
        [
            _chromium(),
            *_BASE,
            f"--user-data-dir={run / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            f"--log-net-log={net_log}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",  # let timers and promises run before the DOM is dumped
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    # the page's own requests carry its file:// network isolation key (Chromium's own do not)
    requests = sorted(
        e["params"].get("url", "")
        for e in log["events"]
        if e["type"] == start and "file://" in e.get("params", {}).get("network_isolation_key", "")
    )
    errors = [
        line
        for line in done.stderr.splitlines()
        if ":CONSOLE" in line and ("Uncaught" in line or "Failed to load" in line or "blocked" in line)
    ]
    return OfflineVisit(done.stdout, requests, errors)


def screenshot(url: str, out: Path, workdir: Path, *, size: tuple[int, int] = (1400, 2000)) -> Path:
    """A PNG of ``url`` at ``size``."""
    subprocess.run(
        [
            _chromium(),
            *_BASE,
            f"--user-data-dir={workdir / 'screenshot-profile'}",
            "--hide-scrollbars",
            f"--screenshot={out}",
            f"--window-size={size[0]},{size[1]}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out
