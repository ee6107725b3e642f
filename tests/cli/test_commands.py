"""The ``govlake`` command line: mistakes print one clear line and exit 2, without a traceback; the
demo never writes synthetic citizens into a configured lake unless told to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOVLAKE = Path(sys.executable).with_name("govlake")


def _govlake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")}
    return subprocess.run(
        [str(GOVLAKE), *args], env=base | (env or {}), capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("govlake: ") and all(w in lines[0] for w in words), lines[0]


def test_unknown_source_and_library(tmp_path):
    lake = {"GOVLAKE_STORAGE_ROOT": str(tmp_path / "lake")}
    assert_one_line_error(
        _govlake("ingest", "--source", "no_such_source", env=lake), "unknown source", "no_such_source"
    )
    assert_one_line_error(_govlake("silver", "--library", "marts", env=lake), "unknown library", "population")


def test_configuration_errors(tmp_path):
    assert_one_line_error(_govlake("config", env={"GOVLAKE_STORAGE_ROOT": "s3://bucket/x"}), "s3a://")
    unsigned = _govlake("graph", env={"GOVLAKE_STORAGE_ROOT": "s3a://bucket/x"})
    assert_one_line_error(unsigned, "AWS_ACCESS_KEY_ID")
    bad = tmp_path / "sources.yaml"
    bad.write_text("datasets: {}\nsources: [{id: Bad-Id}]\n", encoding="utf-8")
    assert_one_line_error(_govlake("graph", env={"GOVLAKE_REGISTRY": str(bad)}), "Bad-Id", "snake_case")


def test_missing_jars(tmp_path):
    env = {"GOVLAKE_STORAGE_ROOT": str(tmp_path / "lake"), "GOVLAKE_JARS_DIR": str(tmp_path / "no-jars")}
    assert_one_line_error(_govlake("smoke", env=env), "no Delta jar", "install")


def test_demo_refuses_a_configured_lake(tmp_path):
    result = _govlake("demo", "--scale", "20", env={"GOVLAKE_STORAGE_ROOT": str(tmp_path / "real-lake")})
    assert_one_line_error(result, "refusing to write synthetic citizens", "--on-configured-lake")
    assert not (tmp_path / "real-lake").exists()


@pytest.mark.parametrize("command", ["graph", "config"])
def test_read_only_commands_need_no_spark(command, tmp_path):
    result = _govlake(command, env={"GOVLAKE_STORAGE_ROOT": str(tmp_path / "lake")})
    assert result.returncode == 0, result.stderr
    if command == "graph":
        assert "silver.legal_persons  [build]" in result.stdout
        assert "reads     silver.population.persons (published)" in result.stdout
