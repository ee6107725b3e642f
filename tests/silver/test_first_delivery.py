"""A new deployment's first, small delivery builds: 9 household rows and 8 enterprise rows.

An empty lake; a copy of the registry with two new sources (one prefecture's household extract in
GB18030, a market-regulation enterprise file); both files written here by hand. ``ingest`` and
``silver`` run through the pipeline runner as ``govlake`` runs them. Too few rows to learn a model
from: resolution must fall back to the documented priors, say so, and finish; the legacy
enterprise identifiers must link as a registration clerk would.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
import yaml

from synthetic.ids import make_citizen_id, make_uscc, mod_11_10_check, org_check_char

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

HOUSEHOLD = "ps_3213_household_first"
ENTERPRISE = "mr_3213_enterprise_first"

# (record_no, ID, name, sex, ethnicity, birth, address, district, phone, registered_on)
_BIRTHS = ["19800101", "19850314", "19900520", "19721108", "19660203", "20010917", "19951230"]


def _ids() -> list[str]:
    import datetime as dt

    return [
        make_citizen_id("321302", dt.datetime.strptime(b, "%Y%m%d").date(), 100 + i * 2 + (i % 2))
        for i, b in enumerate(_BIRTHS)
    ]


def household_rows() -> list[list[str]]:
    ids = _ids()
    bad_check = ids[3][:-1] + ("0" if ids[3][-1] != "0" else "1")
    road = "宿迁市宿城区幸福路"
    return [
        [
            "SQ0001",
            ids[0],
            "张伟",
            "男",
            "汉族",
            "19800101",
            f"{road}12号3幢201室",
            "321302",
            "13900001111",
            "20200105",
        ],
        [
            "SQ0002",
            ids[1],
            "王芳",
            "女",
            "汉族",
            "19850314",
            f"{road}12号3幢202室",
            "321302",
            "13900002222",
            "20200105",
        ],
        ["SQ0003", ids[2], "李娜", "女", "回族", "19900520", f"{road}15号1幢101室", "321302", "", "20210611"],
        # A mistyped check character: the ID is invalid, the person is still the same.
        [
            "SQ0004",
            bad_check,
            "刘洋",
            "男",
            "汉族",
            "19721108",
            f"{road}20号",
            "321302",
            "13700004444",
            "20190301",
        ],
        ["SQ0005", ids[4], "陈静", "女", "汉族", "19660203", f"{road}21号2幢501室", "321302", "", "20180812"],
        [
            "SQ0006",
            ids[5],
            "杨㛃",
            "女",
            "汉族",
            "20010917",
            f"{road}22号",
            "321302",
            "",
            "20220101",
        ],  # GB18030-only
        [
            "SQ0007",
            ids[6],
            "赵磊",
            "男",
            "汉族",
            "19951230",
            f"{road}23号",
            "321302",
            "13600007777",
            "20230715",
        ],
        # No ID at all: two mentions of one resident, sent twice by the bureau.
        [
            "SQ0008",
            "",
            "周敏",
            "女",
            "汉族",
            "19781202",
            f"{road}30号5幢301室",
            "321302",
            "13500008888",
            "20240110",
        ],
        [
            "SQ0009",
            "",
            "周敏",
            "女",
            "汉族",
            "19781202",
            f"{road}30号5幢301室",
            "321302",
            "13500008888",
            "20240302",
        ],
    ]


HOUSEHOLD_HEADER = [
    "人员编号",
    "公民身份号码",
    "姓名",
    "性别",
    "民族",
    "出生日期",
    "户籍地址",
    "户籍地区划",
    "联系电话",
    "登记日期",
]


def _org(body8: str) -> str:
    return body8 + org_check_char(body8)


def _registration_no(body14: str) -> str:
    return body14 + mod_11_10_check(body14)


def enterprise_rows() -> tuple[list[dict[str, str]], dict[str, str]]:
    """Eight market-regulation rows and the codes the assertions need."""
    org_a, org_b, org_c = _org("MA1QX7K2"), _org("30201581"), _org("MA20RT5Y")
    uscc_a = make_uscc("91", "321302", org_a)
    uscc_b = make_uscc("91", "321302", org_b)
    uscc_c = make_uscc("92", "321302", org_c)
    reg_a = _registration_no("32130200001234")
    # The USCC of B retyped with the letter O for each zero: invalid, but plainly B.
    uscc_b_typo = uscc_b.replace("0", "O")
    # C's USCC with one wrong digit in the admin code: invalid, its organization code intact.
    uscc_c_typo = uscc_c[:3] + ("4" if uscc_c[3] != "4" else "5") + uscc_c[4:]
    base = {"fddbr": "", "fddbrzjhm": "", "zs": "宿迁市宿城区发展大道1号", "xzqhdm": "321302", "hydm": "3670"}
    base |= {"qylx": "有限责任公司", "djzt": "存续", "clrq": "2015-06-01", "zczb": "100"}
    rows = [
        # A's head office and its Jiangning branch, registered with a USCC...
        {**base, "tyshxydm": uscc_a, "zch": "", "zzjgdm": "", "qymc": "宿迁市恒达科技有限公司（宿豫分公司）"},
        # ... and the branch again in an old record with only the 15-digit registration number,
        # its name without the brackets.
        {**base, "tyshxydm": "", "zch": reg_a, "zzjgdm": "", "qymc": "宿迁市恒达科技有限公司宿豫分公司"},
        {**base, "tyshxydm": uscc_b, "zch": "", "zzjgdm": "", "qymc": "宿迁市运河物流有限公司"},
        # B known by its organization code alone ...
        {
            **base,
            "tyshxydm": "",
            "zch": "",
            "zzjgdm": f"{org_b[:8]}-{org_b[8]}",
            "qymc": "宿迁运河物流有限公司",
        },
        # ... and by the retyped USCC.
        {**base, "tyshxydm": uscc_b_typo, "zch": "", "zzjgdm": "", "qymc": "宿迁市运河物流有限责任公司"},
        {**base, "tyshxydm": uscc_c, "zch": "", "zzjgdm": "", "qymc": "宿城区老街面馆", "qylx": "个体工商户"},
        {
            **base,
            "tyshxydm": uscc_c_typo,
            "zch": "",
            "zzjgdm": "",
            "qymc": "宿城区老街 面馆",
            "qylx": "个体工商户",
        },
        {**base, "tyshxydm": "", "zch": "", "zzjgdm": "", "qymc": "宿迁市新城商贸有限公司"},
    ]
    return rows, {"uscc_a": uscc_a, "uscc_b": uscc_b, "uscc_c": uscc_c, "reg_a": reg_a, "org_b": org_b}


def registry_copy(folder: Path) -> Path:
    """The project's registry with the two new sources added."""
    from govlake.config import DEFAULT_REGISTRY

    doc = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    household = next(s for s in doc["sources"] if s["id"] == "ps_3201_household")
    enterprise = next(s for s in doc["sources"] if s["id"] == "mr_enterprise_registration")
    doc["sources"].append(
        {
            **household,
            "id": HOUSEHOLD,
            "dialect": ["household", "csv_gb18030"],
            "prefecture": "3213",
            "owner": "宿迁市公安局（首批）",
            "file_pattern": "sqga_first_*.csv",
        }
    )
    doc["sources"].append({**enterprise, "id": ENTERPRISE, "file_pattern": "sqscjg_first_*.jsonl"})
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def settings_for(root: Path, registry: Path, key: str):
    from govlake.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLAKE_")}
    env |= {
        "GOVLAKE_STORAGE_ROOT": str(root),
        "GOVLAKE_REGISTRY": str(registry),
        "GOVLAKE_PERSON_ID_KEY": key,
    }
    return load_settings(env)


@pytest.fixture(scope="module")
def delivery(tmp_path_factory, spark):
    """The first delivery, ingested and built once; returns (settings, runs by step, codes)."""
    import csv
    import io

    from govlake import storage
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import StepKind, pipeline_graph
    from jobs.pipeline.run import run_steps

    folder = tmp_path_factory.mktemp("first_delivery")
    registry = registry_copy(folder)
    settings = settings_for(folder / "lake", registry, secrets.token_hex(32))
    lake = Lake(settings)

    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([HOUSEHOLD_HEADER, *household_rows()])
    household_bytes = text.getvalue().encode("gb18030")
    with pytest.raises(UnicodeEncodeError):
        text.getvalue().encode("gbk")  # the file really needs GB18030
    rows, codes = enterprise_rows()
    enterprise_bytes = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    storage.write_bytes(
        settings, f"{lake.location('landing', source_id=HOUSEHOLD)}/sqga_first_20260101.csv", household_bytes
    )
    storage.write_bytes(
        settings,
        f"{lake.location('landing', source_id=ENTERPRISE)}/sqscjg_first_20260101.jsonl",
        enterprise_bytes,
    )

    graph = pipeline_graph(load_registry(registry))
    steps = [graph.step(f"ingest.{HOUSEHOLD}"), graph.step(f"ingest.{ENTERPRISE}")]
    steps += [s for s in graph.steps if s.kind is StepKind.BUILD and s.library]  # the libraries
    runs = {run.step.name: run for run in run_steps(graph, lake, steps)}
    return settings, runs, codes


def test_both_sources_load_every_row(delivery):
    _, runs, _ = delivery
    accounting = [f for name in (f"ingest.{HOUSEHOLD}", f"ingest.{ENTERPRISE}") for f in runs[name].files]
    assert [(f["rows_in"], f["rows_accepted"]) for f in accounting] == [(9, 9), (8, 8)]


def test_population_builds_on_the_priors_and_says_so(delivery):
    from govlake import storage
    from govlake.lake import Lake

    settings, runs, _ = delivery
    run = runs["silver.population"]
    assert run.built is not None and run.failed is None, run.failed
    summary = run.built["counts"]["resolution"]
    assert summary["m_training"] == "priors"
    assert "priors" in summary["training_note"] and "ID-labelled pairs" in summary["training_note"]
    stored = json.loads(storage.read_bytes(settings, Lake(settings).location("quality.person_resolution")))
    assert stored["m_training"] == "priors" and stored["training_note"] == summary["training_note"]


def test_the_two_id_less_mentions_are_one_person(delivery, spark):
    from govlake.lake import Lake

    settings, _, _ = delivery
    lake = Lake(settings)
    crosswalk = {
        r["record_key"].split("|")[2]: r for r in lake.read_published("silver.population.crosswalk").collect()
    }
    assert len(crosswalk) == 9
    assert crosswalk["8"]["person_id"] == crosswalk["9"]["person_id"]
    assert crosswalk["8"]["match_method"] == "probabilistic"
    assert len({r["person_id"] for r in crosswalk.values()}) == 8
    persons = lake.read_published("silver.population.persons")
    assert {"merged_into", "split_from"} <= set(persons.columns)
    assert persons.where("is_current").count() == 8


def test_legacy_enterprise_identifiers_link_as_a_clerk_would(delivery):
    from govlake.lake import Lake

    settings, runs, codes = delivery
    assert runs["silver.legal_persons"].failed is None, runs["silver.legal_persons"].failed
    rows = Lake(settings).read_published("silver.legal_persons.crosswalk").collect()
    by_row = {int(r["record_key"].split("|")[2]): (r["legal_person_id"], r["match_method"]) for r in rows}
    assert by_row[1] == (codes["uscc_a"], "uscc")
    assert by_row[2] == (codes["uscc_a"], "name")  # registration number only; brackets aside, A's name
    assert by_row[3] == (codes["uscc_b"], "uscc")
    assert by_row[4] == (codes["uscc_b"], "org_code")
    assert by_row[5] == (codes["uscc_b"], "uscc_repaired")  # O for 0
    assert by_row[6] == (codes["uscc_c"], "uscc")
    assert by_row[7] == (codes["uscc_c"], "org_code_in_invalid_uscc")
    assert by_row[8][1] == "unresolved" and by_row[8][0].startswith("NAME:")


def test_another_key_refuses_to_build(delivery):
    from govlake.config import KeyMismatch
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import build

    settings, _, _ = delivery
    other = settings_for(Path(settings.storage_root), settings.registry_path, secrets.token_hex(32))
    step = pipeline_graph(load_registry(settings.registry_path)).step("silver.population")
    with pytest.raises(KeyMismatch, match="not the key this lake's person_ids were made with"):
        build(step, Lake(other))
