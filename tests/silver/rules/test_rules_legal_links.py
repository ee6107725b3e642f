"""Legacy enterprise identifiers: names normalized for matching, mistyped USCCs, how each link was made."""

from __future__ import annotations

from jobs.silver.rules import legal_identity as li
from jobs.silver.rules.text import enterprise_name_key
from synthetic.ids import make_uscc, org_check_char

ORG = "30201581" + org_check_char("30201581")
USCC = make_uscc("91", "321302", ORG)


def test_enterprise_name_key_folds_brackets_spaces_and_legal_forms(apply):
    names = [
        "宿迁市恒达科技有限公司（宿豫分公司）",
        "宿迁市恒达科技有限公司(宿豫分公司)",
        "宿迁市恒达科技有限公司 ( 宿豫分公司 )",
        "宿迁市恒达科技有限公司宿豫分公司",
        "宿遷市恆達科技有限責任公司【宿豫分公司】",  # traditional characters, another bracket, 有限责任公司
        "ＡＢＣ商贸有限公司",
        "abc商贸有限公司",
        "   ",
        None,
    ]
    keys = apply(enterprise_name_key, names)
    assert len(set(keys[:5])) == 1 and keys[0] == "宿迁市恒达科技有限公司宿豫分公司"
    assert keys[5] == keys[6] == "ABC商贸有限公司"
    assert keys[7] is None and keys[8] is None


def test_enterprise_name_key_keeps_different_branches_apart(apply):
    a, b, head = apply(
        enterprise_name_key,
        [
            "宿迁市恒达科技有限公司（宿豫分公司）",
            "宿迁市恒达科技有限公司（宿城分公司）",
            "宿迁市恒达科技有限公司",
        ],
    )
    assert len({a, b, head}) == 3


def test_repaired_uscc_reads_lookalike_letters_as_digits(apply):
    assert "0" in USCC
    typo_o = USCC.replace("0", "O")
    wrong_digit = USCC[:3] + ("4" if USCC[3] != "4" else "5") + USCC[4:]
    got = apply(li.repaired_uscc, [typo_o, typo_o.lower(), USCC, wrong_digit, "12345", None])
    assert got == [USCC, USCC, None, None, None, None]


def test_embedded_org_code_of_an_invalid_uscc(apply):
    wrong_digit = USCC[:3] + ("4" if USCC[3] != "4" else "5") + USCC[4:]  # outside the org code
    org_typo = USCC[:8] + ORG[0] + "O" + ORG[2:] + USCC[17]  # O for the 0 inside the org code
    broken_org = USCC[:8] + ("9" if ORG[0] != "9" else "8") + ORG[1:] + USCC[17]  # org check fails
    got = apply(li.embedded_org_code, [wrong_digit, org_typo, broken_org, USCC, None])
    assert got[0] == ORG
    assert got[1] == ORG
    assert got[2] is None  # nothing left to vouch for it
    assert got[3] is None  # a valid USCC links by itself
    assert got[4] is None


def _mentions(spark, rows):
    ddl = (
        "record_key string, source_id string, uscc string, uscc_repaired string, org_code string, "
        "org_code_in_invalid_uscc string, registration_no string, name string"
    )
    return spark.createDataFrame(rows, ddl)


def test_link_methods_in_order(spark):
    from jobs.silver.legal_persons.build import LINK_METHODS, link_legal_persons

    other = make_uscc("91", "321302", "MA1QX7K2" + org_check_char("MA1QX7K2"))
    rows = [
        ("k1", "s", USCC, None, ORG, None, None, "宿迁市运河物流有限公司"),
        ("k2", "s", None, USCC, None, None, None, "宿迁市运河物流有限公司"),
        ("k3", "s", None, None, ORG, None, None, "运河物流"),
        ("k4", "s", None, None, None, ORG, None, "运河物流"),
        ("k5", "s", other, None, None, None, "321302000012345", "宿迁市恒达科技有限公司（宿豫分公司）"),
        ("k6", "s", None, None, None, None, "321302000012345", None),
        ("k7", "s", None, None, None, None, None, "宿迁市恒达科技有限公司宿豫分公司"),
        ("k8", "s", None, None, "MA9ZZZZZ1", None, None, "某某"),
        ("k9", "s", None, None, None, "MA9ZZZZZ1", None, "某某某"),
        ("k10", "s", None, None, None, None, None, "新城商贸"),
    ]
    linked = {
        r["record_key"]: (r["legal_person_id"], r["match_method"])
        for r in link_legal_persons(_mentions(spark, rows)).collect()
    }
    assert linked["k1"] == (USCC, "uscc")
    assert linked["k2"] == (USCC, "uscc_repaired")
    assert linked["k3"] == (USCC, "org_code")
    assert linked["k4"] == (USCC, "org_code_in_invalid_uscc")
    assert linked["k5"] == (other, "uscc")
    assert linked["k6"] == (other, "registration_no")
    assert linked["k7"] == (other, "name")
    # Nothing to map to: records sharing an organization code (legacy or inside a bad USCC) share a key.
    assert linked["k8"] == linked["k9"] == ("ORG:MA9ZZZZZ1", "unresolved")
    assert linked["k10"][0].startswith("NAME:") and linked["k10"][1] == "unresolved"
    assert {m for _, m in linked.values()} == set(LINK_METHODS)


def test_a_name_of_two_usccs_links_to_neither(spark):
    from jobs.silver.legal_persons.build import link_legal_persons

    other = make_uscc("91", "321302", "MA1QX7K2" + org_check_char("MA1QX7K2"))
    rows = [
        ("k1", "s", USCC, None, None, None, None, "宿迁市同名有限公司"),
        ("k2", "s", other, None, None, None, None, "宿迁市同名有限责任公司"),
        ("k3", "s", None, None, None, None, None, "宿迁市同名有限公司"),
    ]
    linked = {
        r["record_key"]: r["match_method"] for r in link_legal_persons(_mentions(spark, rows)).collect()
    }
    assert linked["k3"] == "unresolved"
