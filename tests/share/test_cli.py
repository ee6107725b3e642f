"""``govlake share ...`` as an operator runs it: serve on loopback, tokens, profile files, audit verify."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sharehelpers import SHARES_YAML, free_port

GOVLAKE = Path(sys.executable).with_name("govlake")


def test_share_commands(tmp_path):
    shares = tmp_path / "shares.yaml"
    shares.write_text(SHARES_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")} | {
        "GOVLAKE_STORAGE_ROOT": str(tmp_path / "lake"),
        "GOVLAKE_SHARES": str(shares),
        "GOVLAKE_SHARE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "GOVLAKE_SHARE_TOKEN_KEY": secrets.token_urlsafe(32),
    }

    def govlake(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(GOVLAKE), "share", *args], env=env, capture_output=True, text=True, timeout=120
        )

    port = free_port()
    profile = tmp_path / "nanjing.share"
    created = govlake(
        "token",
        "create",
        "nanjing",
        "--days",
        "2",
        "--profile",
        str(profile),
        "--endpoint",
        f"http://127.0.0.1:{port}",
    )
    assert created.returncode == 0, created.stderr
    body = json.loads(profile.read_text())
    assert body["endpoint"] == f"http://127.0.0.1:{port}/delta-sharing" and body["expirationTime"].endswith(
        "Z"
    )
    assert oct(profile.stat().st_mode & 0o777) == "0o600"
    unknown = govlake("token", "create", "nobody")
    assert unknown.returncode == 2 and unknown.stderr.startswith("govlake: no recipient 'nobody'")
    server = subprocess.Popen(
        [str(GOVLAKE), "share", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/delta-sharing"
        for _ in range(300):
            try:
                requests.get(f"{base}/shares", timeout=30)
                break
            except requests.RequestException:
                time.sleep(0.1)
        assert requests.get(f"{base}/shares", timeout=60).status_code == 401
        token = body["bearerToken"]
        listed = requests.get(f"{base}/shares", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert listed.status_code == 200 and [s["name"] for s in listed.json()["items"]] == ["residents_back"]
        token_id = token.split(".")[0]
        assert token_id in govlake("token", "list").stdout
        assert govlake("token", "revoke", token_id).returncode == 0
        again = requests.get(f"{base}/shares", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert again.status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    verified = govlake("audit", "verify")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout, (
        verified.stdout + verified.stderr
    )
