"""Write the SimpleAuthManager passwords file from the environment (called by start.sh).

Users come from ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS`` (``user:role,...``). The password of
user ``bob`` is ``$GOVLAKE_AIRFLOW_PASSWORD_BOB``; a user without one keeps the password already in
the file, or gets a random one (printed as the file's path, never on screen).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path


def env_name(user: str) -> str:
    return "GOVLAKE_AIRFLOW_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def main() -> int:
    path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    configured = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    users = [u.split(":")[0].strip() for u in configured.split(",")]
    old: dict[str, str] = {}
    if path.exists():
        try:
            old = json.loads(path.read_text() or "{}")
        except json.JSONDecodeError:
            old = {}
    passwords: dict[str, str] = {}
    for user in filter(None, users):
        given = os.environ.get(env_name(user))
        if given:
            passwords[user] = given
        elif user in old:
            passwords[user] = old[user]
        else:
            passwords[user] = secrets.token_urlsafe(12)
            print(f"generated a password for {user!r} (set {env_name(user)} to choose one); see {path}")
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(passwords) + "\n")
    tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
