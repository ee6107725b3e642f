"""Turn a pod's command line from infra/k8s/ into one that runs on this machine.

Kubernetes names become 127.0.0.1, container ports become free local ports, volume paths become
folders of the test's own: everything else (the flags and their values) stays as the manifest has
it, so the test runs the manifest's command line, not a copy of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CLUSTER_DNS = re.compile(r"[a-z0-9$()_.-]+\.govlake\.svc\.cluster\.local")


def container(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return found


def localize(
    args: list[str], ports: Mapping[int, int], paths: Mapping[str, Path], env: Mapping[str, str] | None = None
) -> list[str]:
    """``args`` with cluster DNS names -> 127.0.0.1, ``:port`` / ``=port`` -> the local port,
    volume mount paths -> local folders, ``$(VAR)`` -> ``env[VAR]``."""
    local = []
    for arg in args:
        for var, value in (env or {}).items():
            arg = arg.replace(f"$({var})", value)
        arg = CLUSTER_DNS.sub("127.0.0.1", arg)
        arg = arg.replace("0.0.0.0", "127.0.0.1")
        for mount, folder in sorted(paths.items(), key=lambda kv: -len(kv[0])):
            arg = re.sub(rf"(?<![\w/]){re.escape(mount)}(?=/|$|,)", str(folder), arg)
        for remote, port in ports.items():
            arg = re.sub(rf"(?<=[:=]){remote}(?=\D|$)", str(port), arg)
        local.append(arg)
    return local
