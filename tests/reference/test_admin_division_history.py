"""Every Jiangsu GB/T 2260 code ever valid, its years, and the current successor of an abolished one.

Expected values are python-stdnum 2.2's ``stdnum/cn/loc.dat`` lines (quoted in the comments: the
province's lines start ``32``, a code's line is its last four digits) and, for successors the table
cannot give, the State Council / Ministry of Civil Affairs approvals cited in the module.
"""

from __future__ import annotations

from collections import Counter

import pytest

from govlake.reference import admin_divisions as ad


@pytest.fixture(scope="module")
def history() -> dict[str, ad.DivisionHistory]:
    return {h.code: h for h in ad.jiangsu_division_history()}


def test_every_code_the_table_lists_is_there_placeholders_left_out(history):
    listed = ad.code_history("32")
    placeholders = {c for c, spells in listed.items() if all(s.name in ad.PLACEHOLDER_NAMES for s in spells)}
    # 13 "xx01 市辖区" and "9000 [1986-1989]省直辖县级行政单位"
    assert len(placeholders) == 14 and "329000" in placeholders and "320101" in placeholders
    assert set(history) == set(listed) - placeholders
    assert len(history) == 284
    current = {c for c, h in history.items() if h.is_current}
    assert current == {d.code for d in ad.jiangsu_divisions()}  # 1 + 13 + 95
    assert Counter(h.level for h in history.values() if not h.is_current) == {
        ad.Level.CITY: 7,  # the 7 prefectures (地区) abolished in 1983
        ad.Level.DISTRICT: 168,
    }


@pytest.mark.parametrize(
    ("code", "name", "first", "last", "successor", "path"),
    [
        # 0602 county="[1983-1990]城区,[1991-2019]崇川区"; 0613 county="[2020-]崇川区"
        ("320602", "崇川区", 1983, 2019, "320613", ["320613"]),
        # 0684 county="[1994-2020]海门市"; 0614 county="[2020-]海门区"
        ("320684", "海门市", 1994, 2020, "320614", ["320614"]),
        # 0103 county="[1983-2013]白下区"; 国函〔2013〕24号 merged it into 秦淮区 0104 "[1983-]秦淮区"
        ("320103", "白下区", 1983, 2013, "320104", ["320104"]),
        # 0611 county="[1983-1990]郊区,[1991-2019]港闸区"; 国函〔2020〕79号: into the new 崇川区
        ("320611", "港闸区", 1983, 2019, "320613", ["320613"]),
        # 0625 "[1983-1994]海门县" -> 0684 "[1994-2020]海门市" -> 0614 "[2020-]海门区"
        ("320625", "海门县", 1983, 1994, "320614", ["320684", "320614"]),
        # 0882 "[1989-2000]淮安市" (county-level) -> 0803 "[2000-2010]楚州区,[2011-]淮安区", not the
        # prefecture 0800 "[1983-1999]淮阴市,[2000-]淮安市" of the same name
        ("320882", "淮安市", 1989, 2000, "320803", ["320803"]),
        # 2229 "[-1983]淮安县" -> 0828 "[1983-1987]淮安县" -> 9010 "[1987-1989]淮安市" -> 0882 -> 0803
        ("322229", "淮安县", None, 1983, "320803", ["320828", "329010", "320882", "320803"]),
        # 0521 "[1983-1986]沙洲县"; 国函〔1986〕122号 -> 9004 "[1986-1989]张家港市" -> 0582 "[1989-]张家港市"
        ("320521", "沙洲县", 1983, 1986, "320582", ["329004", "320582"]),
        # 0586 "[1995-2000]吴县市"; 国函〔2000〕136号 split it into 吴中区 and 相城区: its city
        ("320586", "吴县市", 1995, 2000, "320500", ["320500"]),
        # 2300 "[-1983]盐城地区": all its counties are 盐城市's (0900 "[1983-]盐城市") now
        ("322300", "盐城地区", None, 1983, "320900", ["320900"]),
    ],
)
def test_abolished_codes_and_their_current_successor(history, code, name, first, last, successor, path):
    h = history[code]
    assert (h.name, h.first_year, h.last_year, h.is_current) == (name, first, last, False)
    assert h.successor_code == successor and [c for c, _ in h.successor_steps] == path
    assert history[successor].is_current
    assert ad.current_code(code) == successor


def test_how_a_successor_was_found_is_kept(history):
    assert history["320602"].successor_steps == (("320613", ad.SAME_NAME),)
    assert "国函〔2013〕24号" in history["320103"].successor_steps[0][1]
    assert history["322300"].successor_steps[0][1] == "all its counties are in 320900 盐城市 now"


def test_a_renamed_code_is_current_and_keeps_its_years(history):
    # 0800 county="[1983-1999]淮阴市,[2000-]淮安市": the code stayed, the name changed
    h = history["320800"]
    assert (h.name, h.first_year, h.last_year, h.is_current, h.successor_code) == (
        "淮安市",
        1983,
        None,
        True,
        None,
    )
    assert [(s.name, s.start, s.end) for s in h.spells] == [("淮阴市", 1983, 1999), ("淮安市", 2000, None)]
    assert ad.name_in("320800", 1995) == "淮阴市" and ad.current_code("320800") == "320800"
    # 0000 county="江苏省", no years: open on both sides
    assert (history["320000"].first_year, history["320000"].last_year) == (None, None)


def test_parents(history):
    assert history["320000"].parent_code is None
    assert history["320602"].parent_code == "320600"
    assert history["322121"].parent_code == "322100"  # 丰县 under 徐州地区 before 1983
    assert history["329001"].parent_code == "320000"  # 1986-1989 county-level cities under the province
    assert history["322100"].parent_code == "320000"
    assert all(h.parent_code in history for h in history.values() if h.parent_code)
    assert all(history[h.parent_code].is_current for h in history.values() if h.is_current and h.parent_code)


def test_every_abolished_code_has_a_current_successor_or_is_listed_unmappable(history):
    abolished = [h for h in history.values() if not h.is_current]
    assert len(abolished) == 175
    assert all(history[h.successor_code].is_current for h in abolished if h.successor_code)
    assert {h.code for h in abolished if h.successor_code is None} == set(ad.JIANGSU_UNMAPPABLE)
    assert all(h.successor_code is None and not h.successor_steps for h in history.values() if h.is_current)
    # the county-level codes a citizen ID of any birth year may carry all map to a current code
    for year in (1950, 1982, 1983, 1987, 1996, 2000, 2013, 2016, 2019, 2020, 2025):
        assert all(ad.current_code(c) for c in ad.county_codes_valid_in(year, "32")), year


def test_the_explicit_steps_say_only_what_the_table_cannot(history):
    spells = {c: h.spells for c, h in history.items()}
    for code, (step, why) in ad.JIANGSU_SUCCESSOR_STEPS.items():
        assert not history[code].is_current and step in history, code
        assert history[code].successor_steps[0] == (step, why)
        assert ad._recoded_as(code, spells) is None, f"{code}: the same-name rule finds it already"
    assert not set(ad.JIANGSU_SUCCESSOR_STEPS) & set(ad.JIANGSU_UNMAPPABLE)


def test_unknown_codes():
    assert ad.current_code("110101") is None  # Beijing's: not a Jiangsu code
    assert ad.current_code("329999") is None
    assert ad.current_code("322100") is None  # 徐州地区, unmappable
