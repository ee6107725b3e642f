"""``govlake bench`` works on a scratch lake of its own, never on the configured one."""

from __future__ import annotations

import pytest


def test_the_configured_lake_is_refused(tmp_path, monkeypatch):
    from bench.pipeline import LakeRefused, scratch_lake_root

    monkeypatch.setenv("GOVLAKE_STORAGE_ROOT", str(tmp_path / "lake"))
    with pytest.raises(LakeRefused):
        scratch_lake_root(tmp_path)
    with pytest.raises(LakeRefused):
        scratch_lake_root(tmp_path / "lake" / "inside")
    assert scratch_lake_root(tmp_path / "elsewhere") == (tmp_path / "elsewhere" / "lake").resolve()
