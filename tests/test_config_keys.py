"""The person-id key: required off the demo lake, never in the repo, fingerprinted, never printed."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest

from govlake import config
from govlake.config import ConfigError, key_fingerprint, load_settings


def test_a_lake_that_is_not_the_demo_lake_needs_the_key(tmp_path):
    settings = load_settings({"GOVLAKE_STORAGE_ROOT": str(tmp_path)})
    assert settings.person_id_key is None
    with pytest.raises(ConfigError, match="GOVLAKE_PERSON_ID_KEY is not set"):
        settings.require_person_id_key()


def test_the_key_is_read_once_and_never_shown(tmp_path):
    key = secrets.token_hex(32)
    settings = load_settings({"GOVLAKE_STORAGE_ROOT": str(tmp_path), "GOVLAKE_PERSON_ID_KEY": key})
    assert settings.require_person_id_key() == key
    assert key not in repr(settings) and key not in str(settings)


def test_a_short_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="too short"):
        load_settings({"GOVLAKE_STORAGE_ROOT": str(tmp_path), "GOVLAKE_PERSON_ID_KEY": "letmein"})


def test_the_demo_lake_makes_its_own_key_once(tmp_path, monkeypatch):
    lake = tmp_path / ".lake"
    key_file = lake / "_secrets" / "person_id.key"
    monkeypatch.setattr(config, "EMBEDDED_LAKE", lake)
    monkeypatch.setattr(config, "EMBEDDED_PERSON_ID_KEY", key_file)
    first = load_settings({}).require_person_id_key()
    assert len(first) == 64 and key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings({}).require_person_id_key() == first  # the same key next time
    # An explicit key still wins on the demo lake.
    other = secrets.token_hex(32)
    assert load_settings({"GOVLAKE_PERSON_ID_KEY": other}).require_person_id_key() == other


def test_fingerprints_tell_keys_apart_and_reveal_nothing():
    a, b = secrets.token_hex(32), secrets.token_hex(32)
    assert key_fingerprint(a) == key_fingerprint(a) != key_fingerprint(b)
    assert len(key_fingerprint(a)) == 16 and key_fingerprint(a) not in a


def test_no_key_or_salt_is_written_in_the_repo():
    """The old fixed fallback salt, or anything like a person-id key default, is gone for good."""
    repo = Path(config.REPO_ROOT)
    for path in [*repo.glob("govlake/**/*.py"), *repo.glob("jobs/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "govlake.person.v1" not in text, path
        assert "GOVLAKE_PERSON_ID_SALT" not in text, path


def test_ingest_workers_default_to_the_cores_and_refuse_nonsense(tmp_path):
    import os

    root = {"GOVLAKE_STORAGE_ROOT": str(tmp_path)}
    assert load_settings(root).ingest_workers == min(os.cpu_count() or 1, 4)
    assert load_settings({**root, "GOVLAKE_INGEST_WORKERS": "3"}).ingest_workers == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="GOVLAKE_INGEST_WORKERS"):
            load_settings({**root, "GOVLAKE_INGEST_WORKERS": bad})
