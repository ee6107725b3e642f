"""Share definitions are checked on load, with errors naming the share or recipient and the field;
keys come from the environment; the reference pseudonym; tokens and the audit chain without Spark."""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import timedelta

import pytest
import yaml
from sharehelpers import SHARES_YAML

from govlake.config import ConfigError, load_settings
from govlake.lake import CatalogueError, load_catalogue
from govlake.lake.catalogue import DEFAULT_LAKE_FILE, parse_catalogue
from govlake.registry import SharingType, load_registry
from govlake.sharing import DEFAULT_SHARES_FILE, ShareKeys, pseudonym, share_keys


def _catalogue(doc: dict):
    registry = load_registry()
    with DEFAULT_LAKE_FILE.open(encoding="utf-8") as fh:
        return parse_catalogue(yaml.safe_load(fh), registry, doc)


BASE = yaml.safe_load(SHARES_YAML)


def _broken(edit) -> str:
    doc = copy.deepcopy(BASE)
    edit(doc)
    with pytest.raises(CatalogueError) as error:
        _catalogue(doc)
    return str(error.value)


def test_the_provinces_share_definitions_load_and_every_dataset_declares_its_sharing_type():
    catalogue = load_catalogue(shares=DEFAULT_SHARES_FILE)
    assert catalogue.shares.grants and catalogue.shares.recipients
    raw = yaml.safe_load((DEFAULT_SHARES_FILE.parent / "sources.yaml").read_text(encoding="utf-8"))
    assert all("sharing" in spec for spec in raw["datasets"].values())
    registry = load_registry()
    assert registry.datasets["death_records"].sharing.type is SharingType.NOT_SHARED
    assert registry.datasets["death_records"].sharing.basis
    for grant in catalogue.shares.grants:
        table = catalogue.table(grant.table_id)
        assert table.published and table.zone.value == "share" and table.asset == "share.grants"


def test_grants_are_one_table_per_recipient_with_its_rows():
    grants = {g.table_id: g for g in _catalogue(BASE).shares.grants}
    nanjing = grants["share.grants.residents_back.nanjing.population.residents"]
    suzhou = grants["share.grants.residents_back.suzhou.population.residents"]
    health = grants["share.grants.health_stats.health.population.persons"]
    assert nanjing.prefectures == ("3201",) and suzhou.prefectures == ("3205", "3206")
    assert health.prefectures is None  # a province department sees the province
    assert nanjing.key == ("person_key",) and nanjing.grade.value == "important"


def test_a_share_may_not_include_a_not_shared_dataset():
    def edit(doc):
        doc["shares"]["health_stats"]["schemas"]["population"]["deaths"] = {
            "source": "bronze.death_records",
            "columns": {"certificate_no": "pseudonym"},
        }

    message = _broken(edit)
    assert "share health_stats table population.deaths" in message and "not shared" in message
    assert "个人信息保护法" in message  # the legal basis is named


def test_a_raw_id_above_the_ceiling_is_refused():
    def edit(doc):
        doc["shares"]["residents_back"]["schemas"]["population"]["residents"]["columns"]["id_number"] = (
            "clear"
        )

    message = _broken(edit)
    assert "share residents_back table population.residents column id_number" in message
    assert "core" in message and "ceiling important" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["shares"]["residents_back"].pop("approval"),
            "share residents_back: approval is missing",
        ),
        (
            lambda d: d["shares"]["residents_back"]["schemas"]["population"]["residents"].pop("located_by"),
            "recipient nanjing: a prefecture sees only rows located in it",
        ),
        (
            lambda d: d["shares"]["residents_back"]["recipients"].append("nobody"),
            "recipient 'nobody' is not declared",
        ),
        (
            lambda d: d["recipients"]["health"].update(ceiling="core"),
            "recipient health: ceiling core is refused",
        ),
        (
            lambda d: d["recipients"]["nanjing"].update(prefecture="1101"),
            "recipient nanjing: prefecture '1101'",
        ),
        (
            lambda d: d["shares"]["health_stats"]["schemas"]["population"]["persons"]["columns"].update(
                sex="blur"
            ),
            "column sex: mask 'blur'",
        ),
        (
            lambda d: d["shares"]["health_stats"]["schemas"]["population"]["persons"].update(
                source="silver.nope"
            ),
            "source 'silver.nope' is not a table",
        ),
        (
            lambda d: d["shares"]["health_stats"]["schemas"]["population"]["persons"].update(
                source="quality.validations"
            ),
            "not a published table",
        ),
        (
            lambda d: d["shares"]["residents_back"]["schemas"]["population"]["residents"]["columns"].update(
                admin_code="mask_id"
            ),
            "located_by 'admin_code' must be a shared column, clear",
        ),
    ],
)
def test_errors_name_the_share_or_recipient_and_the_field(edit, expected):
    assert expected in _broken(edit)


def test_keys_come_from_the_environment_and_are_required_off_the_embedded_lake(tmp_path):
    env = {"GOVLAKE_STORAGE_ROOT": str(tmp_path)}
    with pytest.raises(ConfigError, match="GOVLAKE_SHARE_PSEUDONYM_KEY, GOVLAKE_SHARE_TOKEN_KEY must be set"):
        share_keys(load_settings(env))
    with pytest.raises(ConfigError, match="too short"):
        share_keys(
            load_settings(
                {**env, "GOVLAKE_SHARE_PSEUDONYM_KEY": "short", "GOVLAKE_SHARE_TOKEN_KEY": "x" * 40}
            )
        )
    settings = load_settings(
        {**env, "GOVLAKE_SHARE_PSEUDONYM_KEY": "p" * 40, "GOVLAKE_SHARE_TOKEN_KEY": "t" * 40}
    )
    keys = share_keys(settings)
    assert "p" * 40 not in repr(settings) and "t" * 40 not in repr(settings) and "pppp" not in repr(keys)
    # per recipient: the same person joins across one recipient's tables, not across recipients
    assert pseudonym(keys.pseudonym_key_for("a"), "p1") != pseudonym(keys.pseudonym_key_for("b"), "p1")
    expected = hmac.new(keys.pseudonym_key_for("a"), b"p1", hashlib.sha256).digest()
    assert len(pseudonym(keys.pseudonym_key_for("a"), "p1")) == 43 and expected


def test_tokens_and_audit_chain_without_spark(tmp_path):
    from deltalake import DeltaTable

    from jobs.share.audit import read_audit, verify
    from jobs.share.tokens import TokenError, TokenStore

    settings = load_settings({"GOVLAKE_STORAGE_ROOT": str(tmp_path)})
    catalogue = _catalogue(BASE)
    keys = ShareKeys(b"p" * 40, b"t" * 40)
    store = TokenStore(settings, catalogue, keys)
    token, state = store.create("nanjing", timedelta(days=1))
    assert store.authenticate(token) == (store.states()[state.token_id], None)
    assert token not in str(
        DeltaTable(catalogue.path("share.tokens", settings)).to_pyarrow_table().to_pylist()
    )
    assert store.authenticate(token + "x")[1] == "unknown bearer token"
    with pytest.raises(TokenError, match="no recipient 'nobody'"):
        store.create("nobody")
    new, new_state = store.rotate(state.token_id, grace=timedelta(0))
    assert "rotated" in store.authenticate(token)[1] and store.authenticate(new)[1] is None
    store.revoke(new_state.token_id, "leaked")
    assert "revoked" in store.authenticate(new)[1]
    rows = read_audit(settings, catalogue)
    assert [r["event"] for r in rows] == ["token_created", "token_created", "token_rotated", "token_revoked"]
    assert verify(settings, catalogue, keys).ok
    DeltaTable(catalogue.path("share.audit", settings)).delete("seq = 1")
    broken = verify(settings, catalogue, keys)
    assert broken.broken_seq == 2 and "removed" in broken.report()
