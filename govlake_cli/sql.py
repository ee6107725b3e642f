"""``govlake sql``: the SQL endpoint's server settings, its names, its logins, and how to reach it.

The endpoint itself is started by ``infra/sql-endpoint/start.sh``: a Postgres database holding the
shared Hive metastore, Spark's Thrift server (HiveServer2 protocol: beeline, JDBC/ODBC, dbt) and a
Spark Connect server (Python clients, notebooks), each its own JVM from the pip pyspark package,
on 127.0.0.1 only. The script asks this module for each server's Spark settings
(``govlake sql conf``), so the servers read the lake exactly as the pipeline does (same jars, Delta
settings and storage options from :func:`govlake.spark.spark_conf`), plus the shared metastore.

Names: the ``sql.views`` step (``govlake sql refresh``; also the last step of ``govlake run`` and
its own DAG) registers one view per published library table and mart at its published version.

Logins: the Thrift server admits the users of a password file of PBKDF2-SHA256 hashes outside git
(``govlake sql user add``; checked by ``infra/sql-endpoint/auth``); the Connect server one bearer
token (``SPARK_CONNECT_AUTHENTICATE_TOKEN``). Both files live in the endpoint's state folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from govlake.config import ConfigError, Settings, load_settings

sql_app = typer.Typer(help="the SQL endpoint (Thrift + Spark Connect servers): settings, names, logins")
user_app = typer.Typer(help="the Thrift server's logins (PBKDF2-SHA256 hashes in the endpoint's folder)")
sql_app.add_typer(user_app, name="user")

THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVERS = {"thrift": THRIFT_SERVER_CLASS, "connect": CONNECT_SERVER_CLASS}
#: The HiveServer2 CUSTOM authentication provider infra/install.sh builds into the jars folder.
AUTHENTICATOR_CLASS = "govlake.sqlendpoint.PasswordFileAuthenticator"
AUTHENTICATOR_JAR = "govlake-sql-endpoint-auth.jar"
#: Every listener of the local endpoint (a province puts a TLS-terminating proxy in front instead).
LOOPBACK = "127.0.0.1"
DEFAULT_THRIFT_PORT = 10000
DEFAULT_CONNECT_PORT = 15002
#: PBKDF2-SHA256 iterations of a new password hash (OWASP's 2023 figure).
PBKDF2_ITERATIONS = 600_000
#: The login start.sh creates on first start (its password in secrets/analyst.password).
DEFAULT_USER = "analyst"
#: An example query over a published mart, for the printed instructions.
EXAMPLE_QUERY = "SELECT * FROM gold_population.fct_vital_events_monthly ORDER BY month DESC LIMIT 12"


# ------------------------------------------------------------------------------ server settings


def server_conf(settings: Settings, server: str, port: int, memory: str = "2g") -> dict[str, str]:
    """The Spark settings of one endpoint server (``thrift`` or ``connect``) listening on ``port``."""
    from govlake.spark import SparkJarsMissing, spark_conf

    if server not in SERVERS:
        raise ConfigError(f"unknown SQL endpoint server {server!r}: {' or '.join(SERVERS)}")
    if settings.metastore is None:
        raise ConfigError(
            "the SQL endpoint's servers share their names through a metastore: set GOVLAKE_METASTORE_URL "
            "and GOVLAKE_METASTORE_PASSWORD (infra/sql-endpoint/start.sh does)"
        )
    conf = spark_conf(settings)
    conf |= {"spark.app.name": f"govlake-sql-{server}", "spark.scheduler.mode": "FAIR"}
    if settings.spark_master.startswith("local"):
        conf["spark.driver.memory"] = memory
    if server == "thrift":
        jar = settings.jars_dir / AUTHENTICATOR_JAR
        if not jar.is_file():
            raise SparkJarsMissing(f"no {jar}; run `bash infra/install.sh`")
        # Every jar on the JVM's own class path, not only in spark.jars: HiveServer2's login and
        # session threads load the provider and Delta's catalog through the system class loader.
        class_path = [str(jar), *(str(j) for j in sorted(settings.jars_dir.glob("*.jar")) if j != jar)]
        conf["spark.driver.extraClassPath"] = ":".join(class_path)
        conf |= {
            "spark.hadoop.hive.server2.thrift.bind.host": LOOPBACK,
            "spark.hadoop.hive.server2.thrift.port": str(port),
            "spark.hadoop.hive.server2.transport.mode": "binary",
            "spark.hadoop.hive.server2.authentication": "CUSTOM",
            "spark.hadoop.hive.server2.custom.authentication.class": AUTHENTICATOR_CLASS,
        }
        # HiveServer2 instantiates the provider from a fresh HiveConf, which reads system properties.
        provider = f"-Dhive.server2.custom.authentication.class={AUTHENTICATOR_CLASS}"
        conf["spark.driver.extraJavaOptions"] = f"{conf['spark.driver.extraJavaOptions']} {provider}"
    else:
        conf |= {
            "spark.connect.grpc.binding.address": LOOPBACK,
            "spark.connect.grpc.binding.port": str(port),
        }
    return conf


def properties_text(conf: dict[str, str]) -> str:
    """``conf`` as a Java properties file (what ``spark-submit --properties-file`` reads)."""
    lines = ["# Written by `govlake sql conf` for infra/sql-endpoint/start.sh: no secret is in this file."]
    for key, value in sorted(conf.items()):
        lines.append(f"{key}={value.replace(chr(92), chr(92) * 2)}")
    return "\n".join(lines) + "\n"


@sql_app.command("conf")
def conf_command(
    server: Annotated[str, typer.Argument(help="thrift or connect")],
    port: Annotated[int, typer.Option(help="the port it listens on (127.0.0.1)")],
    memory: Annotated[str, typer.Option(help="driver heap in local mode")] = "2g",
) -> None:
    """Print one server's Spark settings as a properties file (read by infra/sql-endpoint/start.sh)."""
    typer.echo(properties_text(server_conf(load_settings(), server, port, memory)), nl=False)


# ----------------------------------------------------------------------------------- the names


@sql_app.command("refresh")
def refresh_command() -> None:
    """Point every view of the shared metastore at the published version of its table (sql.views)."""
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import run_steps

    settings = load_settings()
    if settings.metastore is None:
        raise ConfigError(
            "no shared metastore configured: start infra/sql-endpoint/start.sh, then "
            f"`source {settings.sql_endpoint_dir}/client.env`"
        )
    lake = Lake(settings)
    graph = pipeline_graph(load_registry(settings.registry_path), lake.catalogue)
    for run in run_steps(graph, lake, [graph.step("sql.views")]):
        assert run.output is not None
        typer.echo(f"sql.views: {run.output.report()} ({run.seconds:.1f}s)")
        for name, version in sorted(run.output.as_dict().get("views", {}).items()):
            typer.echo(f"  {name:<60} @ Delta v{version}")


# ---------------------------------------------------------------------------------- the logins


def users_file(settings: Settings) -> Path:
    return settings.sql_endpoint_dir / "thrift-users"


def password_file(settings: Settings, user: str) -> Path:
    return settings.sql_endpoint_dir / "secrets" / f"{user}.password"


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256:<iterations>:<salt>:<hash>`` (base64), what the Thrift authenticator checks."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=32)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"pbkdf2_sha256:{iterations}:{encode(salt)}:{encode(digest)}"


def _check_user_name(user: str) -> None:
    if not user or not all(c.isalnum() or c in "._-" for c in user):
        raise ConfigError(f"user name {user!r}: use letters, digits, '.', '_' or '-'")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (the file is replaced, never left half written)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.replace(path)


def set_user(settings: Settings, user: str, password: str) -> Path:
    """Add ``user`` (or replace its password) in the users file; the server re-reads it."""
    _check_user_name(user)
    if len(password) < 12:
        raise ConfigError("a Thrift password needs at least 12 characters")
    path = users_file(settings)
    kept = [line for line in _user_lines(path) if line.split(":", 1)[0] != user]
    _write_private(path, "\n".join([*kept, f"{user}:{hash_password(password)}"]) + "\n")
    return path


def remove_user(settings: Settings, user: str) -> bool:
    path = users_file(settings)
    lines = _user_lines(path)
    kept = [line for line in lines if line.split(":", 1)[0] != user]
    if len(kept) == len(lines):
        return False
    _write_private(path, "".join(f"{line}\n" for line in kept))
    return True


def _user_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@user_app.command("add")
def user_add(
    user: Annotated[str, typer.Argument(help="the login name")],
    password_from: Annotated[
        Path | None,
        typer.Option("--password-file", help="read the password from this file (default: generate one)"),
    ] = None,
) -> None:
    """Add a Thrift login (or set its password). Without --password-file a random password is
    generated into the endpoint's secrets/<user>.password (mode 0600), for beeline's -w."""
    settings = load_settings()
    if password_from is not None:
        password = password_from.read_text(encoding="utf-8").strip()
        where = str(password_from)
    else:
        password = secrets.token_urlsafe(24)
        _write_private(password_file(settings, user), password + "\n")
        where = str(password_file(settings, user))
    path = set_user(settings, user, password)
    typer.echo(f"thrift login {user}: hash in {path}; password in {where}")


@user_app.command("remove")
def user_remove(user: Annotated[str, typer.Argument(help="the login name")]) -> None:
    """Remove a Thrift login (refused from its next connection)."""
    settings = load_settings()
    if not remove_user(settings, user):
        raise ConfigError(f"no Thrift login {user!r} in {users_file(settings)}")
    password_file(settings, user).unlink(missing_ok=True)
    typer.echo(f"thrift login {user} removed")


# ------------------------------------------------------------------------------ how to reach it


def endpoint_state(settings: Settings) -> dict[str, str]:
    """The running endpoint's ports and URLs (``instance.env`` of start.sh), or {} when none runs."""
    state = settings.sql_endpoint_dir / "instance.env"
    if not state.is_file():
        return {}
    pairs = (line.split("=", 1) for line in state.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def access_lines(settings: Settings) -> list[str]:
    """How an analyst reaches the published tables: the endpoint, beeline, Connect, the notebooks."""
    from govlake.config import REPO_ROOT

    state = endpoint_state(settings)
    thrift = state.get("SE_THRIFT_PORT", str(DEFAULT_THRIFT_PORT))
    connect = state.get("SE_CONNECT_PORT", str(DEFAULT_CONNECT_PORT))

    def shown(path: Path) -> str:
        return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)

    folder = settings.sql_endpoint_dir
    running = "running" if state else "not running"
    return [
        f"SQL endpoint : infra/sql-endpoint/start.sh && govlake sql refresh   ({running}; Thrift "
        f"{LOOPBACK}:{thrift}, Spark Connect sc://localhost:{connect}; status.sh / stop.sh)",
        f"beeline      : . .venv/bin/activate && beeline -u jdbc:hive2://{LOOPBACK}:{thrift}/default "
        f"-n {DEFAULT_USER} "
        f'-w {shown(password_file(settings, DEFAULT_USER))} -e "{EXAMPLE_QUERY}"',
        f"Spark Connect: source {shown(folder / 'client.env')}, then in Python "
        'SparkSession.builder.remote(os.environ["GOVLAKE_CONNECT_URL"]).getOrCreate().sql(...)',
        "notebooks    : notebooks/*.py (jupytext); executed pages: .venv/bin/govlake notebooks",
    ]


@sql_app.command("info")
def info_command() -> None:
    """How to start the endpoint and query the published tables by name."""
    for line in access_lines(load_settings()):
        typer.echo(line)
