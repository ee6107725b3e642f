"""What the deployment tests read: the files of infra/k8s/, the offline schemas, and a secret finder."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from govlake.config import REPO_ROOT

K8S_DIR = REPO_ROOT / "infra" / "k8s"
#: Helm values files: merged onto a chart's values.yaml, not Kubernetes objects.
HELM_VALUES = {"airflow/values.yaml", "spark/operator-values.yaml"}
SPARK_KINDS = {("spark.apache.org/v1", "SparkApplication"), ("spark.apache.org/v1", "SparkCluster")}
#: Kubernetes versions the core objects must validate against (kubernetes-validate bundles 1.25-1.37).
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")

SCHEMAS_ENV = "GOVLAKE_K8S_SCHEMAS"
SCHEMAS_DEFAULT = Path("/work/shared/k8s-schemas")
#: The schema files used, with their git blob ids from the folder's README (so a different
#: operator or chart release cannot slip in unnoticed).
_OPERATOR = "spark-kubernetes-operator"
SCHEMA_FILES = {
    f"{_OPERATOR}/sparkapplication.v1.strict.schema.json": "5d1b36d6844a20f4a4ceb82f4ec06cf57034bed9",
    f"{_OPERATOR}/sparkcluster.v1.strict.schema.json": "4427a0dadb944f6332b98771d06b75dac865f2ad",
    f"{_OPERATOR}/sparkapplication.v1.schema.json": "51cbf7d4690b8502a7d2eac5a1e47f92db83a278",
    f"{_OPERATOR}/sparkcluster.v1.schema.json": "f9e8b815bc120619ae79a446f275784b413da780",
    "airflow/values.schema.json": "25fe563f24b2d274071387a45e3f48a1e584c7e0",
    "airflow/values.yaml": "350d352f9b44f0aad5467cd034cc73407617145e",
    "airflow/Chart.yaml": "a0c6d680f479a7d6f47f813cde7520965d143fdb",
}


def schemas_dir() -> Path:
    """``$GOVLAKE_K8S_SCHEMAS``, else /work/shared/k8s-schemas, else shared/k8s-schemas beside the
    repository (where CI lays shared/); raises FileNotFoundError naming what it looked for."""
    if os.environ.get(SCHEMAS_ENV):
        candidates = [Path(os.environ[SCHEMAS_ENV])]
    else:
        candidates = [SCHEMAS_DEFAULT, REPO_ROOT.parent / "shared" / "k8s-schemas"]
    for folder in candidates:
        if all((folder / name).is_file() for name in SCHEMA_FILES):
            return folder
    raise FileNotFoundError(
        "the offline Kubernetes schemas are missing: looked for "
        + ", ".join(SCHEMA_FILES)
        + " in "
        + " and ".join(str(c) for c in candidates)
        + f" (set {SCHEMAS_ENV} to the k8s-schemas folder)"
    )


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class Document:
    file: str  # relative to infra/k8s
    index: int
    body: dict[str, Any]

    @property
    def id(self) -> str:
        meta = self.body.get("metadata") or {}
        return f"{self.file}#{self.index}:{self.body.get('kind')}/{meta.get('name')}"

    @property
    def api_kind(self) -> tuple[str, str]:
        return (self.body.get("apiVersion", ""), self.body.get("kind", ""))


def yaml_files() -> list[Path]:
    return sorted(K8S_DIR.rglob("*.yaml"))


def manifests() -> list[Document]:
    """Every document of every manifest file (all YAML under infra/k8s/ but the Helm values)."""
    documents = []
    for path in yaml_files():
        rel = path.relative_to(K8S_DIR).as_posix()
        if rel in HELM_VALUES:
            continue
        for index, body in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if body:
                documents.append(Document(rel, index, body))
    return documents


def helm_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge, other values replace, null deletes the key."""
    for key, value in override.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            helm_merge(base[key], value)
        else:
            base[key] = value
    return base


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of every scalar under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))
    else:
        yield path, node


# -- literal secrets -----------------------------------------------------------------------------

SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|fernet|jwt|private.?key|access.?key|credential", re.I)
#: Keys whose value names a secret (or a key in one) rather than holding it.
REFERENCE_KEY = re.compile(r"^(secretName|existingSecret|credentialsSecret|secretKey|envName)$|SecretName$")
#: Spark's secretKeyRef properties take "secret-name:key".
SECRET_KEY_REF_VALUE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:[A-Za-z0-9_.-]+$")
JAVA_CLASS = re.compile(r"^[a-z][\w]*(\.[a-z_][\w]*)*\.[A-Z]\w*$")
SECRET_VALUE = {
    "a PEM private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a password in a URL": re.compile(r"://[^/\s:@{}$]+:[^/\s@{}$]+@"),
}


def literal_secrets(body: Any) -> list[str]:
    """Where ``body`` (a manifest or values document) holds a secret value itself rather than a
    reference to a Secret: one message per finding."""
    findings = []
    if isinstance(body, dict) and body.get("kind") == "Secret":
        findings.append("a Secret object: create Secrets outside git, reference them by name")
    for path, value in walk(body):
        if value is None or isinstance(value, bool) or value == "":
            continue
        text = str(value)
        where = "/".join(path)
        for what, pattern in SECRET_VALUE.items():
            if pattern.search(text):
                findings.append(f"{where}: {what}")
        key = path[-1] if path else ""
        # An environment entry {name: X, value: Y} names its variable in `name`.
        if key == "value" and len(path) >= 2:
            parent = _lookup(body, path[:-1])
            if isinstance(parent, dict) and isinstance(parent.get("name"), str):
                key = parent["name"]
        if ".secretKeyRef." in key:
            if not SECRET_KEY_REF_VALUE.match(text):
                findings.append(f"{where}: a secretKeyRef property must be 'secret-name:key', not a value")
            continue
        if not SECRET_NAME.search(key) or REFERENCE_KEY.search(key):
            continue
        if key.endswith(".aws.credentials.provider") and JAVA_CLASS.match(text):
            continue  # a credentials provider class, not a credential
        findings.append(f"{where}: {key} is given a literal value")
    return findings


def _lookup(node: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def secret_references(body: Any) -> set[str]:
    """Names of the Secrets a manifest or values document refers to."""
    names: set[str] = set()
    for path, value in walk(body):
        if not isinstance(value, str) or not path:
            continue
        key = path[-1]
        named = key in {"secretName", "credentialsSecret"} or key.endswith("SecretName")
        if named or (key == "name" and len(path) >= 2 and path[-2] in {"secretKeyRef", "secretRef"}):
            names.add(value)
        elif ".secretKeyRef." in key and SECRET_KEY_REF_VALUE.match(value):
            names.add(value.split(":", 1)[0])
    return names
