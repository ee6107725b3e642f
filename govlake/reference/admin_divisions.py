"""GB/T 2260 admin divisions of Jiangsu (and any province), read from maintained packages.

Codes and names come from the GB/T 2260 table that python-stdnum ships for citizen-ID birthplace
checks (``stdnum/cn/loc.dat``, compiled from the published code lists). Unlike a flat "current
codes" list it keeps every code's history as validity spells, e.g. ``320103 [1983-2013]白下区`` or
``320800 [1983-1999]淮阴市,[2000-]淮安市``, which matters twice here: citizen IDs keep the birthplace
code that was valid when they were issued (so a 1970s-born Nanjing resident may carry a code
abolished since), and validators (python-stdnum included) check the code against the birth year.
python-stdnum 2.2's table is current for Jiangsu up to its last county-level change (2020,
Nantong: 崇川区 320613 and 海门区 320614), and agrees with the 2025 list.

Every code a province ever had is kept as a :class:`DivisionHistory` (:func:`division_history`):
its years and, for an abolished code, the **current successor** it was merged, renamed or re-coded
into. Most successors follow from the table itself (the same name re-coded: 320602 崇川区 [1991-2019]
-> 320613 崇川区 [2020-]; a county that became a city: 320625 海门县 -> 320684 海门市 -> 320614 海门区);
where a division was merged into one of another name, or split, the table cannot say, and
``JIANGSU_SUCCESSOR_STEPS`` says it, citing the State Council / Ministry of Civil Affairs approval.

District centroids (approximate, for placing synthetic address points) and the 56 ethnic groups
come from the ``cpca`` package's resources (``cpca/resources/adcodes.csv``, a 2020 snapshot; codes
it lacks, like 320613, are matched by name within the same city). Its files are read directly, without
importing cpca.

The hierarchy is province -> city (prefecture) -> district (市辖区/县/县级市 all count as
``district``); the ``xx01 市辖区`` placeholder codes are not divisions and are left out.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.resources
import io
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

JIANGSU = "32"

SOURCE = "python-stdnum stdnum/cn/loc.dat (GB/T 2260 with validity years)"


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True)
class Spell:
    """One name a code had, and the years it had it (inclusive; ``None`` = open)."""

    name: str
    start: int | None = None
    end: int | None = None

    def covers(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)

    @property
    def current(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Division:
    code: str  # 6 digits
    name: str
    level: Level
    parent_code: str | None


_SPELL = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")
_LINE = re.compile(r'^(\s*)(\d+)\s+(\w+)="([^"]*)"?\s*$')


def _parse_spells(text: str) -> tuple[Spell, ...]:
    spells = []
    for part in text.split(","):
        m = _SPELL.match(part.strip())
        if m:
            start, end, name = m.groups()
            spells.append(Spell(name, int(start) if start else None, int(end) if end else None))
        else:
            spells.append(Spell(part.strip()))
    return tuple(spells)


@cache
def _loc_table() -> tuple[dict[str, str], dict[str, tuple[Spell, ...]]]:
    """(province code -> name, 6-digit code -> spells) from python-stdnum's GB/T 2260 table."""
    text = importlib.resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    codes: dict[str, tuple[Spell, ...]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        indent, number, key, value = m.groups()
        if not indent and key == "province":
            province = number
            provinces[province] = value
        elif indent and key == "county":
            codes[province + number] = _parse_spells(value)
    return provinces, codes


def code_history(province: str | None = None) -> dict[str, tuple[Spell, ...]]:
    """Every 6-digit code (of ``province``, or all) with the names it had and when."""
    _, codes = _loc_table()
    return {c: s for c, s in codes.items() if province is None or c.startswith(province)}


def name_in(code: str, year: int | None = None) -> str | None:
    """The code's name in ``year`` (``None``: today), or ``None`` if it did not exist then."""
    for spell in _loc_table()[1].get(code, ()):
        if (spell.current if year is None else spell.covers(year)) and spell.name != "市辖区":
            return spell.name
    return None


def _level(code: str) -> Level:
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.DISTRICT


def divisions(province: str = JIANGSU, year: int | None = None) -> list[Division]:
    """The province -> city -> district hierarchy, current (``year=None``) or as of ``year``.

    Sorted by code, province first. A district's parent is its city; a county-level unit directly
    under the province (e.g. the 1986-1989 ``3290xx`` cities) has the province as parent.
    """
    provinces, _ = _loc_table()
    alive = {code: name for code in code_history(province) if (name := name_in(code, year)) is not None}
    out = []
    prov_code = province + "0000"
    out.append(Division(prov_code, alive.get(prov_code, provinces[province]), Level.PROVINCE, None))
    for code in sorted(alive):
        level = _level(code)
        if level is Level.PROVINCE:
            continue
        if level is Level.CITY:
            out.append(Division(code, alive[code], level, prov_code))
        else:
            city = code[:4] + "00"
            out.append(Division(code, alive[code], level, city if city in alive else prov_code))
    return out


def jiangsu_divisions(year: int | None = None) -> list[Division]:
    """Jiangsu province -> 13 cities -> districts/counties/county-level cities (GB/T 2260)."""
    return divisions(JIANGSU, year)


def jiangsu_prefectures() -> dict[str, str]:
    """Current 4-digit prefecture code -> name: ``{"3201": "南京市", ..., "3213": "宿迁市"}``."""
    return {d.code[:4]: d.name for d in jiangsu_divisions() if d.level is Level.CITY}


def jiangsu_districts() -> dict[str, list[Division]]:
    """Current districts of each prefecture (4-digit code -> districts, by code)."""
    out: dict[str, list[Division]] = {}
    for d in jiangsu_divisions():
        if d.level is Level.DISTRICT:
            out.setdefault(d.code[:4], []).append(d)
    return out


@cache
def _county_spans() -> tuple[tuple[str, int, int], ...]:
    """(code, first year, last year) of every county-level spell, placeholders left out."""
    return tuple(
        (code, s.start or 0, s.end or 9999)
        for code, spells in sorted(_loc_table()[1].items())
        if not code.endswith("00")
        for s in spells
        if s.name != "市辖区"
    )


def county_codes_valid_in(year: int, province: str | None = None) -> list[str]:
    """County-level codes (any province, or one) that existed in ``year``: usable as a birthplace
    in a citizen ID of someone born that year. Placeholder ``市辖区`` codes are left out."""
    codes = {c for c, start, end in _county_spans() if start <= year <= end}
    return sorted(c for c in codes if province is None or c.startswith(province))


def data_vintage(province: str = JIANGSU) -> int:
    """The latest year a code of ``province`` changed in the table: how current the table is."""
    years = [y for spells in code_history(province).values() for s in spells for y in (s.start, s.end) if y]
    return max(years)


# --- history: every code ever valid, and where an abolished one went ------------------------------

#: Names the table gives to codes that are not divisions: the ``xx01`` city-proper placeholder and
#: the 1986-1989 ``329000`` heading of the county-level cities directly under the province.
PLACEHOLDER_NAMES = frozenset({"市辖区", "省直辖县级行政单位"})

#: One step from an abolished Jiangsu code to the code that took it over, where the table cannot
#: say it (a merger into a division of another name, a rename, a split): code -> (next code, why).
#: The next code may itself be abolished; steps are followed until a current code. A division split
#: between several current districts steps to its city, unless the table shows one part keeping its
#: name. Approvals: State Council (国函) and Ministry of Civil Affairs (民行批, 民发, 民函), as
#: published in the State Council Gazette and compiled with GB/T 2260 code lists in the yescallop/
#: areacodes project (diff/*.diff, result.csv), which each entry was checked against.
JIANGSU_SUCCESSOR_STEPS: dict[str, tuple[str, str]] = {
    # Nanjing
    "320103": ("320104", "国函〔2013〕24号: 撤销秦淮区、白下区, 设立新的秦淮区 (keeps 320104)"),
    "320107": ("320106", "国函〔2013〕24号: 撤销鼓楼区、下关区, 设立新的鼓楼区 (keeps 320106)"),
    "320112": ("320116", "国函〔2002〕23号: 撤销大厂区和六合县, 设立六合区"),
    "320120": ("320100", "the pre-1983 lists' one code for 南京市's city proper, now several districts"),
    "320122": ("320111", "国函〔2002〕23号: 撤销浦口区和江浦县, 设立新的浦口区 (keeps 320111)"),
    # Wuxi
    "320202": ("320213", "国函〔2015〕184号: 撤销崇安区、南长区、北塘区, 设立梁溪区"),
    "320203": ("320213", "国函〔2015〕184号: 撤销崇安区、南长区、北塘区, 设立梁溪区"),
    "320204": ("320213", "国函〔2015〕184号: 撤销崇安区、南长区、北塘区, 设立梁溪区"),
    "320212": ("320211", "国函〔2000〕133号: 撤销马山区, 并入郊区 (renamed 滨湖区)"),
    "320222": ("320283", "民行批〔1995〕42号: 无锡县撤县设市, 锡山市"),
    # Xuzhou
    "320304": ("320300", "国函〔2010〕90号: 撤销九里区, split between 鼓楼区, 泉山区 and 铜山区"),
    "320325": ("320382", "民行批〔1992〕70号: 撤销邳县, 设立邳州市"),
    # Changzhou
    "320403": ("320400", "国函〔1986〕113号: 撤销广化区, split between 钟楼区 and 天宁区"),
    "320405": ("320412", "国函〔2015〕75号: 撤销武进区和戚墅堰区, 设立新的武进区 (keeps 320412)"),
    # Suzhou
    "320502": ("320508", "国函〔2012〕102号: 撤销沧浪区、平江区、金阊区, 设立姑苏区"),
    "320503": ("320508", "国函〔2012〕102号: 撤销沧浪区、平江区、金阊区, 设立姑苏区"),
    "320504": ("320508", "国函〔2012〕102号: 撤销沧浪区、平江区、金阊区, 设立姑苏区"),
    "320511": ("320505", "民发〔2000〕1号: 苏州市郊区更名为虎丘区"),
    "320521": ("329004", "国函〔1986〕122号: 撤销沙洲县, 设立张家港市"),
    "320524": ("320586", "民行批〔1995〕40号: 吴县撤县设市, 吴县市"),
    "320586": ("320500", "国函〔2000〕136号: 撤销吴县市, split between 吴中区 and 相城区"),
    # Nantong
    "320611": ("320613", "国函〔2020〕79号: 撤销崇川区、港闸区, 设立新的崇川区"),
    "320624": ("320683", "民行批〔1993〕4号: 撤销南通县, 设立通州市"),
    # Lianyungang
    "320702": ("320706", "国函〔1986〕51号: 新海区 divided into 新浦区 and 海州区 (one 海州区 since 2014)"),
    "320704": ("320700", "国函〔2001〕129号: 撤销云台区, split between 连云区 and 新浦区"),
    "320705": ("320706", "国函〔2014〕56号: 撤销新浦区、海州区, 设立新的海州区 (keeps 320706)"),
    # Huai'an
    "320802": ("320812", "国函〔2016〕100号: 撤销清河区、清浦区, 设立清江浦区"),
    "320811": ("320812", "国函〔2016〕100号: 撤销清河区、清浦区, 设立清江浦区"),
    "320881": ("321300", "国函〔1996〕58号: 撤销县级宿迁市, 设立地级宿迁市, split into 宿城区 and 宿豫县"),
    "322201": ("320812", "(83)国函字1号: 清江市 became 淮阴市's 清河区 and 清浦区, one 清江浦区 since 2016"),
    # Yancheng
    "320911": ("320900", "国函〔1996〕56号: 撤销盐城市郊区, split between 盐都县 and 城区"),
    "322326": ("320900", "(83)国函字1号: 撤销盐城县, 改设盐城市 (城区 and 郊区, now 亭湖区 and 盐都区)"),
    # Yangzhou, Taizhou
    "321011": ("321003", "国函〔2011〕132号: 撤销维扬区, 划归邗江区"),
    "321028": ("321087", "民行批〔1994〕114号: 撤销泰县, 设立姜堰市"),
    "321082": ("321202", "国函〔1996〕57号: 撤销县级泰州市, 以其行政区域为海陵区"),
    "322401": ("321000", "(83)国函字1号: 扬州市 (county-level) became 广陵区 and 郊区 (now part of 邗江区)"),
    # Zhenjiang
    "322601": ("321100", "(83)国函字1号: 镇江市 (county-level) became 城区 and 郊区 (京口区, 润州区)"),
}

#: Abolished Jiangsu codes no one current code stands for, and why. The 1983 reform ((83)国函字1号)
#: abolished the prefectures (地区) and gave their counties to cities; where all of them went to one
#: city (盐城地区 322300, 南通地区 322500) that city is the successor, the others are listed here.
JIANGSU_UNMAPPABLE: dict[str, str] = {
    "322100": "徐州地区: counties went to 徐州市 and 连云港市 (东海, 赣榆) in 1983",
    "322200": "淮阴地区: counties went to 淮阴市 (now 淮安市, and 宿迁市 since 1996) and 连云港市 (灌云)",
    "322400": "扬州地区: counties went to 扬州市, several of them to 泰州市 since 1996",
    "322600": "镇江地区: counties went to 镇江市, 南京市, 常州市 and 无锡市 in 1983",
    "322700": "苏州地区: counties went to 苏州市 and 无锡市 (江阴, 无锡县) in 1983",
}

SAME_NAME = "same name, re-coded"


@dataclass(frozen=True)
class DivisionHistory:
    """A code GB/T 2260 ever listed, its years (inclusive; ``None``: open) and, once abolished,
    the current code that stands for it now."""

    code: str
    name: str  # the current name, or the last one it had
    level: Level
    parent_code: str | None  # its city when that code existed, else the province
    first_year: int | None  # None: already listed when the table's records begin
    last_year: int | None  # None: still valid
    spells: tuple[Spell, ...]
    successor_code: str | None = None  # None for a current code, or an unmappable one
    #: (code, why) per step from this code to its successor: ``(("320613", "same name, re-coded"),)``
    successor_steps: tuple[tuple[str, str], ...] = ()

    @property
    def is_current(self) -> bool:
        return self.last_year is None


def _last_name(spells: tuple[Spell, ...]) -> str:
    return spells[-1].name


def _years(spells: tuple[Spell, ...]) -> tuple[int | None, int | None]:
    first = spells[0].start
    last = None if any(s.current for s in spells) else max(s.end for s in spells if s.end is not None)
    return first, last


def _recoded_as(code: str, spells: dict[str, tuple[Spell, ...]]) -> str | None:
    """The county-level code that took ``code``'s name (or its stem: 县 -> 市 -> 区) when or after it
    was abolished: the earliest such spell, one of the same city first. ``None`` when there is none."""
    own = spells[code]
    stem, ended = _stem(_last_name(own)), _years(own)[1]
    assert ended is not None
    candidates = sorted(
        (s.start, other[:4] != code[:4], other)
        for other, other_spells in spells.items()
        if other != code and not other.endswith("00")
        for s in other_spells
        if s.start is not None and s.start >= ended and _stem(s.name) == stem
    )
    return candidates[0][2] if candidates else None


@cache
def division_history(province: str = JIANGSU) -> tuple[DivisionHistory, ...]:
    """Every division code ``province`` ever had, by code, current and abolished, placeholders
    (:data:`PLACEHOLDER_NAMES`) left out; an abolished code carries its current successor.

    A successor is found, in order, from: an explicit step (:data:`JIANGSU_SUCCESSOR_STEPS`), the
    same name re-coded (:func:`_recoded_as`), and for an abolished prefecture the one city all its
    counties are in now. Steps are followed until a current code. Codes none of these resolves keep
    ``successor_code = None`` (for Jiangsu: exactly :data:`JIANGSU_UNMAPPABLE`).
    """
    spells = {
        code: tuple(s for s in history if s.name not in PLACEHOLDER_NAMES)
        for code, history in code_history(province).items()
    }
    spells = {code: s for code, s in spells.items() if s}
    prov_code = province + "0000"
    current = {code for code, s in spells.items() if _years(s)[1] is None} | {prov_code}
    explicit = JIANGSU_SUCCESSOR_STEPS if province == JIANGSU else {}

    def step(code: str) -> tuple[str, str] | None:
        if code in explicit:
            return explicit[code]
        if _level(code) is Level.DISTRICT and (recoded := _recoded_as(code, spells)) is not None:
            return recoded, SAME_NAME
        return None

    def resolve(code: str) -> tuple[tuple[str, str], ...]:
        steps: list[tuple[str, str]] = []
        while code not in current and (nxt := step(code)) is not None:
            if any(nxt[0] == seen for seen, _ in steps):  # pragma: no cover - the table has no cycle
                raise RuntimeError(f"successor steps of {code} loop: {steps}")
            steps.append(nxt)
            code = nxt[0]
        return tuple(steps) if code in current else ()

    resolved = {code: resolve(code) for code in spells if code not in current}

    def now(code: str) -> str | None:
        return code if code in current else resolved[code][-1][0] if resolved[code] else None

    # An abolished prefecture: the one city all its counties are in now, if there is one.
    for code in [c for c, steps in resolved.items() if not steps and _level(c) is Level.CITY]:
        counties = [c for c in spells if c[:4] == code[:4] and c != code]
        cities = {None if (c := now(county)) is None else c[:4] + "00" for county in counties}
        if len(cities) == 1 and (city := cities.pop()) in current:
            resolved[code] = ((city, f"all its counties are in {city} {name_in(city)} now"),)

    def parent(code: str) -> str | None:
        level, city = _level(code), code[:4] + "00"
        if level is Level.PROVINCE:
            return None
        return city if level is Level.DISTRICT and city in spells else prov_code

    out = []
    for code in sorted(spells):
        first, last = _years(spells[code])
        steps = resolved.get(code, ())
        out.append(
            DivisionHistory(
                code=code,
                name=_last_name(spells[code]),
                level=_level(code),
                parent_code=parent(code),
                first_year=first,
                last_year=last,
                spells=spells[code],
                successor_code=steps[-1][0] if steps else None,
                successor_steps=steps,
            )
        )
    return tuple(out)


def jiangsu_division_history() -> tuple[DivisionHistory, ...]:
    """Every Jiangsu code ever valid (GB/T 2260, python-stdnum's table), with its current successor."""
    return division_history(JIANGSU)


@cache
def _successors(province: str) -> dict[str, str | None]:
    return {h.code: (h.code if h.is_current else h.successor_code) for h in division_history(province)}


def current_code(code: str, province: str = JIANGSU) -> str | None:
    """The current code for ``code``: itself when current, its successor when abolished, ``None``
    when it is unknown or abolished without a successor."""
    return _successors(province).get(code)


# --- from the cpca package's resources ------------------------------------------------------------


def _cpca_resource(name: str) -> str:
    try:
        dist = importlib.metadata.distribution("cpca")
    except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover - the lock has it
        raise RuntimeError("the cpca package (its adcodes resource) is not installed") from exc
    return dist.locate_file(f"cpca/resources/{name}").read_text(encoding="utf-8")


def _stem(name: str) -> str:
    return re.sub(r"(自治县|自治州|市|区|县)$", "", name)


@cache
def district_centroids(province: str = JIANGSU) -> dict[str, tuple[float, float]]:
    """Approximate (longitude, latitude) of every current city and district of ``province``.

    From cpca's adcodes (a 2020 snapshot); a code cpca lacks takes the point of the same-named unit
    of its city (320613 崇川区 <- 320602 崇川区, 320614 海门区 <- 320684 海门市), else its city's.
    """
    points: dict[str, tuple[float, float]] = {}
    names: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(io.StringIO(_cpca_resource("adcodes.csv"))):
        code = row["adcode"][:6]
        if not code.startswith(province) or not row["longitude"]:
            continue
        points[code] = (float(row["longitude"]), float(row["latitude"]))
        names[(code[:4], _stem(row["name"]))] = code
    out: dict[str, tuple[float, float]] = {}
    for d in divisions(province):
        if d.code in points:
            out[d.code] = points[d.code]
        elif (alias := names.get((d.code[:4], _stem(d.name)))) is not None:
            out[d.code] = points[alias]
        elif d.parent_code in out:
            out[d.code] = out[d.parent_code]
    return out


@cache
def ethnic_groups() -> tuple[str, ...]:
    """The 56 ethnic groups (民族) as names, 汉族 first."""
    groups = tuple(line.strip() for line in _cpca_resource("56_nations.csv").splitlines() if line.strip())
    if len(groups) != 56:  # pragma: no cover
        raise RuntimeError(f"cpca lists {len(groups)} ethnic groups, expected 56")
    return groups
