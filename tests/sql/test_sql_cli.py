"""Unit tests of govlake sql's own code (no server): password hashes, the users file, the servers'
Spark settings, the printed access lines."""

from __future__ import annotations

import base64
import hashlib
import secrets
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from govlake.config import ConfigError, MetastoreSettings, load_settings
from govlake_cli import sql


@pytest.fixture
def settings(tmp_path: Path):
    base = load_settings({"GOVLAKE_STORAGE_ROOT": str(tmp_path / "lake")})
    return replace(
        base,
        sql_endpoint_dir=tmp_path / "endpoint",
        metastore=MetastoreSettings(url="jdbc:postgresql://127.0.0.1:1/metastore", user="u"),
    )


def test_hash_is_pbkdf2_sha256_the_authenticator_can_check() -> None:
    password = secrets.token_urlsafe(16)
    kind, iterations, salt, digest = sql.hash_password(password, iterations=1000).split(":")
    assert (kind, iterations) == ("pbkdf2_sha256", "1000")
    expected = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), 1000, dklen=32)
    assert base64.b64decode(digest) == expected
    assert sql.hash_password(password, iterations=1000) != sql.hash_password(password, iterations=1000)


def test_users_file_is_private_and_one_line_per_user(settings) -> None:
    path = sql.set_user(settings, "ana", secrets.token_urlsafe(16))
    sql.set_user(settings, "bo", secrets.token_urlsafe(16))
    sql.set_user(settings, "ana", secrets.token_urlsafe(16))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [line.split(":")[0] for line in path.read_text().splitlines()] == ["bo", "ana"]
    assert all(len(line.split(":")) == 5 for line in path.read_text().splitlines())
    assert sql.remove_user(settings, "bo") and not sql.remove_user(settings, "bo")
    with pytest.raises(ConfigError):
        sql.set_user(settings, "short", "too-short")
    with pytest.raises(ConfigError):
        sql.set_user(settings, "a:b", secrets.token_urlsafe(16))


def test_server_settings_listen_on_loopback_with_logins_and_no_secret(settings) -> None:
    thrift = sql.server_conf(settings, "thrift", 10001)
    assert thrift["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
    assert thrift["spark.hadoop.hive.server2.authentication"] == "CUSTOM"
    assert thrift["spark.sql.catalogImplementation"] == "hive"
    assert thrift["spark.hadoop.javax.jdo.option.ConnectionPassword"] == "${env.GOVLAKE_METASTORE_PASSWORD}"
    connect = sql.server_conf(settings, "connect", 15003)
    assert connect["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert connect["spark.connect.grpc.binding.port"] == "15003"
    with pytest.raises(ConfigError):
        sql.server_conf(replace(settings, metastore=None), "thrift", 10001)


def test_access_lines_name_the_start_command_beeline_and_notebooks(settings) -> None:
    text = "\n".join(sql.access_lines(settings))
    assert "infra/sql-endpoint/start.sh" in text and "govlake sql refresh" in text
    assert "beeline -u jdbc:hive2://127.0.0.1:10000/default -n analyst -w " in text
    assert "notebooks" in text and "GOVLAKE_CONNECT_URL" in text
