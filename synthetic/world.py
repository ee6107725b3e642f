"""The true world the extracts describe: persons in households, legal persons, address points.

Everything is drawn from ``random.Random`` instances seeded from the run's seed and a component
name, so each component is reproducible on its own and no global random state is touched.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TypeVar

from govlake.reference.admin_divisions import Division, name_in
from synthetic import ids
from synthetic.geo import clamp_to_jiangsu
from synthetic.pools import (
    AREA_CODES,
    ENTITY_TYPES,
    INDUSTRIES,
    PREFECTURE_WEIGHTS,
    RARE_NAME_CHARS,
    ROAD_SUFFIXES,
    Pools,
)

AS_OF = dt.date(2025, 6, 30)  # the extracts' date: everything true "as of" this day
USCC_REFORM = dt.date(2015, 10, 1)  # enterprises registered since get a USCC from the start
MARRIAGES_FROM = dt.date(2000, 1, 1)  # civil affairs' electronic marriage records start here
BIRTHS_FROM = dt.date(2016, 1, 1)  # the health commission's birth-certificate extract starts here
DEATHS_FROM = dt.date(2023, 1, 1)  # ... and its death-certificate extract here
LEGACY_ID_BEFORE = 1985  # people born before this held a 15-digit ID at some point

MALE, FEMALE = "1", "2"  # GB/T 2261.1

T = TypeVar("T")


@dataclass(slots=True)
class Address:
    address_id: str
    address: str
    admin_code: str
    lon: float  # WGS84
    lat: float


@dataclass(slots=True)
class Person:
    person_id: str
    household_id: str
    name: str
    sex: str
    birth_date: dt.date
    birthplace_code: str
    id_number: str
    ethnicity: str
    address_id: str
    admin_code: str
    address: str
    phone: str
    registered_on: dt.date
    death_date: dt.date | None = None
    spouse_id: str = ""
    father_id: str = ""
    mother_id: str = ""
    married_on: dt.date | None = None
    divorced_on: dt.date | None = None
    employer_id: str = ""

    @property
    def male(self) -> bool:
        return self.sex == MALE

    @property
    def id15(self) -> str:
        """The legacy 15-digit number, for people old enough to have held one."""
        return ids.legacy_id15(self.id_number) if self.birth_date.year < LEGACY_ID_BEFORE else ""


@dataclass(slots=True)
class LegalPerson:
    legal_person_id: str
    kind: str  # USCC authority + entity type: 91 enterprise, 92 individual business, 93 cooperative
    uscc: str  # "" for records closed before they ever got one
    organization_code: str  # 9 chars, no hyphen
    registration_no: str  # legacy 15-digit number, "" for those registered since the reform
    name: str
    entity_type: str
    legal_rep_id: str
    legal_rep_name: str
    legal_rep_id_number: str
    admin_code: str
    address_id: str
    address: str
    industry_code: str
    status: str  # 存续 / 在业 / 吊销 / 注销
    established_on: dt.date
    registered_capital: float  # 万元
    phone: str
    taxpayer_type: str

    @property
    def legacy_only(self) -> bool:
        return not self.uscc


@dataclass
class World:
    seed: int
    as_of: dt.date
    pools: Pools
    persons: list[Person] = field(default_factory=list)
    legal_persons: list[LegalPerson] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    rare_name_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.person_by_id: dict[str, Person] = {}
        self.legal_by_id: dict[str, LegalPerson] = {}


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return start
    return dt.date.fromordinal(start.toordinal() + int(rng.random() * ((end - start).days + 1)))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    """``rng.choice`` without its overhead (the hot loops call it millions of times)."""
    return seq[int(rng.random() * len(seq))]


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class _Addresses:
    """New unique addresses in a district, clustered along roads with coordinates near its centroid."""

    def __init__(self, rng: random.Random, pools: Pools, world: World) -> None:
        self.rng = rng
        self.pools = pools
        self.world = world
        self.roads: dict[str, list[tuple[str, float, float]]] = {}
        self.seen: set[str] = set()

    def _roads(self, district: Division) -> list[tuple[str, float, float]]:
        roads = self.roads.get(district.code)
        if roads is None:
            rng = self.rng
            lon0, lat0 = self.pools.centroids[district.code]
            spread = 0.02 if district.name.endswith("区") else 0.06
            roads = []
            for stem in rng.sample(self.pools.road_stems, 24):
                lon, lat = clamp_to_jiangsu(rng.gauss(lon0, spread), rng.gauss(lat0, spread))
                roads.append((stem + rng.choice(ROAD_SUFFIXES), lon, lat))
            self.roads[district.code] = roads
        return roads

    def new(self, district: Division, residential: bool) -> Address:
        rng = self.rng
        prefix = f"江苏省{self.pools.prefectures[district.code[:4]]}{district.name}"
        roads = self._roads(district)
        while True:
            road, lon, lat = pick(rng, roads)
            text = f"{prefix}{road}{rng.randint(1, 399)}号"
            if residential and rng.random() < 0.75:
                building, unit, floor, room = (
                    rng.randint(1, 40),
                    rng.randint(1, 4),
                    rng.randint(1, 28),
                    rng.randint(1, 4),
                )
                text += f"{building}幢{unit}单元{floor}{room:02d}室"
            elif not residential and rng.random() < 0.5:
                text += f"{rng.randint(1, 30)}{rng.randint(1, 20):02d}室"
            if text not in self.seen:
                break
        self.seen.add(text)
        lon, lat = clamp_to_jiangsu(rng.gauss(lon, 0.002), rng.gauss(lat, 0.002))
        addr = Address(
            f"A{len(self.world.addresses) + 1:08d}", text, district.code, round(lon, 6), round(lat, 6)
        )
        self.world.addresses.append(addr)
        return addr


class _People:
    def __init__(self, world: World, progress: Callable[[int], None]) -> None:
        self.world = world
        self.pools = world.pools
        self.rng = random.Random(f"{world.seed}/persons")
        self.addresses = _Addresses(random.Random(f"{world.seed}/addresses"), world.pools, world)
        self.progress = progress
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.households = 0
        prefs = sorted(PREFECTURE_WEIGHTS)
        self.prefs = prefs
        self.pref_cum = list(accumulate(PREFECTURE_WEIGHTS[p] for p in prefs))
        minorities = [g for g in self.pools.ethnic_groups if g != "汉族"]
        self.minorities = minorities
        self.minority_cum = list(accumulate(35 if g == "回族" else 1 for g in minorities))

    # -- attributes ---------------------------------------------------------------------------
    def given_name(self, male: bool) -> str:
        chars = self.pools.male_chars if male else self.pools.female_chars
        rng = self.rng
        return pick(rng, chars) if rng.random() < 0.25 else pick(rng, chars) + pick(rng, chars)

    def birthplace(self, year: int, pref: str, local: float) -> str:
        by_pref, jiangsu, others = self.pools.birthplace_codes(year)
        r = self.rng.random()
        if r < local and pref in by_pref:
            return pick(self.rng, by_pref[pref])
        if r < local + (1 - local) * 0.5 or not others:
            return pick(self.rng, jiangsu)
        return pick(self.rng, others)

    def ethnicity(self) -> str:
        if self.rng.random() < 0.994:
            return "汉族"
        return self.rng.choices(self.minorities, cum_weights=self.minority_cum)[0]

    def phone(self) -> str:
        rng = self.rng
        while True:
            phone = pick(rng, self.pools.phone_prefixes) + f"{int(rng.random() * 100_000_000):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def citizen_id(self, birthplace: str, birth: dt.date, male: bool) -> str:
        while True:
            number = ids.make_citizen_id(birthplace, birth, ids.sequence_for(self.rng, male))
            if number not in self.ids:
                self.ids.add(number)
                return number

    def birth_in(self, first_year: float, last_year: float, mode: float) -> dt.date:
        year = int(self.rng.triangular(first_year, last_year + 1, mode))
        last = min(dt.date(year, 12, 31), self.world.as_of)
        return random_date(self.rng, dt.date(year, 1, 1), last)

    # -- people -------------------------------------------------------------------------------
    def person(
        self,
        *,
        male: bool,
        birth: dt.date,
        surname: str,
        home: tuple[str, Division, Address],
        household_id: str,
        local: float,
        ethnicity: str | None = None,
    ) -> Person:
        world, rng = self.world, self.rng
        pref, district, addr = home
        birthplace = self.birthplace(birth.year, pref, local)
        if birth.year >= 1985 and birthplace.startswith(pref):
            registered = min(birth + dt.timedelta(days=rng.randint(3, 90)), world.as_of)
        else:
            registered = random_date(rng, max(birth, dt.date(1985, 1, 1)), world.as_of)
        p = Person(
            person_id=f"P{len(world.persons) + 1:08d}",
            household_id=household_id,
            name=surname + self.given_name(male),
            sex=MALE if male else FEMALE,
            birth_date=birth,
            birthplace_code=birthplace,
            id_number=self.citizen_id(birthplace, birth, male),
            ethnicity=ethnicity or self.ethnicity(),
            address_id=addr.address_id,
            admin_code=district.code,
            address=addr.address,
            phone=self.phone() if age_on(birth, world.as_of) >= 14 else "",
            registered_on=registered,
        )
        age = age_on(birth, world.as_of)
        p_death = 0.002 if age < 50 else 0.01 if age < 70 else 0.04 if age < 80 else 0.12
        if rng.random() < p_death:
            p.death_date = random_date(rng, max(DEATHS_FROM, birth), world.as_of)
        world.persons.append(p)
        return p

    def marry(self, husband: Person, wife: Person, first_child: dt.date | None) -> None:
        rng = self.rng
        earliest = max(add_years(husband.birth_date, 22), add_years(wife.birth_date, 20))
        latest = self.world.as_of if first_child is None else first_child - dt.timedelta(days=300)
        latest = min(latest, add_years(earliest, 10), self.world.as_of)
        married = random_date(rng, earliest, latest)
        husband.spouse_id, wife.spouse_id = wife.person_id, husband.person_id
        husband.married_on = wife.married_on = married
        if married >= MARRIAGES_FROM and rng.random() < 0.06:
            divorced = random_date(rng, add_years(married, 1), self.world.as_of)
            if divorced < self.world.as_of:
                husband.divorced_on = wife.divorced_on = divorced

    def household(self) -> int:
        world, rng, pools = self.world, self.rng, self.pools
        self.households += 1
        hid = f"H{self.households:08d}"
        pref = rng.choices(self.prefs, cum_weights=self.pref_cum)[0]
        district = rng.choice(pools.districts[pref])
        home = (pref, district, self.addresses.new(district, residential=True))
        kind = rng.choices(("single", "couple", "family", "three_gen"), (22, 28, 38, 12))[0]
        before = len(world.persons)
        surname = pick(rng, pools.surnames)
        if kind == "single":
            self.person(
                male=rng.random() < 0.5,
                birth=self.birth_in(1935, 2004, 1975),
                surname=surname,
                home=home,
                household_id=hid,
                local=0.6,
            )
            return len(world.persons) - before
        first, last, mode = (1950, 2002, 1968) if kind == "couple" else (1965, 1999, 1985)
        h_birth = self.birth_in(first, last, mode)
        w_birth = min(add_years(h_birth, max(-2, round(rng.gauss(2, 2.5)))), add_years(world.as_of, -20))
        children: list[dt.date] = []
        if kind != "couple":
            for _ in range(rng.choice((1, 1, 2))):
                birth = add_years(w_birth, rng.randint(22, 38)) + dt.timedelta(days=rng.randint(0, 364))
                if birth <= world.as_of:
                    children.append(birth)
        children.sort()
        husband = self.person(
            male=True, birth=h_birth, surname=surname, home=home, household_id=hid, local=0.6
        )
        wife = self.person(
            male=False,
            birth=w_birth,
            surname=rng.choice(pools.surnames),
            home=home,
            household_id=hid,
            local=0.6,
        )
        self.marry(husband, wife, children[0] if children else None)
        for birth in children:
            child = self.person(
                male=rng.random() < 0.515,
                birth=birth,
                surname=surname,
                home=home,
                household_id=hid,
                local=0.85,
                ethnicity=husband.ethnicity,
            )
            child.father_id, child.mother_id = husband.person_id, wife.person_id
        if kind == "three_gen":
            g_birth = max(add_years(h_birth, -rng.randint(24, 32)), dt.date(1925, 1, 1))
            grandpa = self.person(
                male=True,
                birth=g_birth,
                surname=surname,
                home=home,
                household_id=hid,
                local=0.8,
                ethnicity=husband.ethnicity,
            )
            husband.father_id = grandpa.person_id
            if rng.random() < 0.7:
                grandma = self.person(
                    male=False,
                    birth=max(add_years(g_birth, rng.randint(0, 4)), dt.date(1925, 1, 1)),
                    surname=rng.choice(pools.surnames),
                    home=home,
                    household_id=hid,
                    local=0.8,
                )
                husband.mother_id = grandma.person_id
                self.marry(grandpa, grandma, h_birth)
        return len(world.persons) - before

    def build(self, n: int) -> None:
        while len(self.world.persons) < n:
            self.progress(self.household())
        extra = self.world.persons[n:]
        del self.world.persons[n:]
        dropped = {p.person_id for p in extra}
        for p in self.world.persons[-8:]:  # the last household may have lost members
            if p.spouse_id in dropped:
                p.spouse_id, p.married_on, p.divorced_on = "", None, None
            if p.father_id in dropped:
                p.father_id = ""
            if p.mother_id in dropped:
                p.mother_id = ""
        if not any(p.death_date for p in self.world.persons):  # the death extract is never empty
            oldest = min(self.world.persons, key=lambda p: p.birth_date)
            oldest.death_date = random_date(self.rng, max(DEATHS_FROM, oldest.birth_date), self.world.as_of)
        self._rare_names()

    def _rare_names(self) -> None:
        """A few names with a character outside GBK; the first lives where the bureau sends GBK."""
        persons = self.world.persons
        k = max(2, round(len(persons) * 0.0004))
        nanjing = [p for p in persons if p.admin_code.startswith("3201")]
        chosen = ([self.rng.choice(nanjing)] if nanjing else []) + self.rng.sample(persons, k)
        for i, p in enumerate(chosen):
            if p.person_id in self.world.rare_name_ids:
                continue
            p.name = p.name[:-1] + RARE_NAME_CHARS[i % len(RARE_NAME_CHARS)]
            self.world.rare_name_ids.add(p.person_id)


class _LegalPersons:
    def __init__(self, world: World) -> None:
        self.world = world
        self.pools = world.pools
        self.rng = random.Random(f"{world.seed}/legal_persons")
        self.addresses = _Addresses(random.Random(f"{world.seed}/enterprise_addresses"), world.pools, world)
        self.names: set[str] = set()
        self.orgs: set[str] = set()

    def _name(self, kind: str, district: Division, word: str, form: str) -> str:
        rng = self.rng
        city = self.pools.prefectures[district.code[:4]]
        for attempt in range(50):
            brand = rng.choice(self.pools.brands)
            if attempt >= 5:
                brand += rng.choice(self.pools.brands)[0]
            if kind == "91":
                name = f"{city.removesuffix('市')}{brand}{word}{form}"
            elif kind == "92":
                name = f"{city}{district.name}{brand}{word}"
            else:
                name = f"{district.name}{brand}{word}{form}"
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("could not find a fresh enterprise name")  # pragma: no cover

    def _org_code(self, new_style: bool) -> str:
        while True:
            code = ids.make_org_code(self.rng, new_style=new_style)
            if code not in self.orgs:
                self.orgs.add(code)
                return code

    def build(self, m: int) -> None:
        world, rng, pools = self.world, self.rng, self.pools
        adults = [
            p for p in world.persons if p.death_date is None and 22 <= age_on(p.birth_date, world.as_of) <= 75
        ] or world.persons
        prefs = sorted(PREFECTURE_WEIGHTS)
        cum = list(accumulate(PREFECTURE_WEIGHTS[p] for p in prefs))
        for j in range(m):
            kind = rng.choices(("91", "92", "93"), (68, 28, 4))[0]
            pref = rng.choices(prefs, cum_weights=cum)[0]
            district = rng.choice(pools.districts[pref])
            year = min(int(rng.triangular(1992, 2026, 2021)), world.as_of.year)
            if j == 0:  # at least one enterprise closed before the reform, known by legacy numbers only
                year = 2008
            established = random_date(rng, dt.date(year, 1, 1), min(dt.date(year, 12, 31), world.as_of))
            old = established < USCC_REFORM
            status = rng.choices(
                ("存续", "在业", "吊销", "注销"), (55, 10, 15, 20) if old else (80, 10, 3, 7)
            )[0]
            legacy_only = old and status in ("吊销", "注销") and rng.random() < 0.35
            if j == 0:
                status, legacy_only = "吊销", True
            org = self._org_code(new_style=not old)
            # the registering authority's code as it was then (a district created later: its city)
            uscc_admin = district.code if name_in(district.code, established.year) else pref + "00"
            registration_no = ids.make_registration_no(rng, uscc_admin) if old else ""
            uscc = "" if legacy_only else ids.make_uscc(kind, uscc_admin, org)
            industry, word = rng.choice(INDUSTRIES[kind])
            form, entity_type = rng.choice(ENTITY_TYPES[kind])
            rep = rng.choice(adults)
            addr = self.addresses.new(district, residential=False)
            if kind == "91":
                capital = float(rng.choice((10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)))
            elif kind == "92":
                capital = float(rng.choice((1, 2, 3, 5, 10, 20, 50)))
            else:
                capital = float(rng.choice((10, 50, 100, 200, 500)))
            if rng.random() < 0.6:
                phone = f"{AREA_CODES[pref]}-{rng.randint(5, 8)}{rng.randrange(10_000_000):07d}"
            else:
                phone = rep.phone
            lp = LegalPerson(
                legal_person_id=f"L{j + 1:08d}",
                kind=kind,
                uscc=uscc,
                organization_code=org,
                registration_no=registration_no,
                name=self._name(kind, district, word, form),
                entity_type=entity_type,
                legal_rep_id=rep.person_id,
                legal_rep_name=rep.name,
                legal_rep_id_number=rep.id_number,
                admin_code=district.code,
                address_id=addr.address_id,
                address=addr.address,
                industry_code=industry,
                status=status,
                established_on=established,
                registered_capital=capital,
                phone=phone,
                taxpayer_type="一般纳税人" if kind == "91" and rng.random() < 0.35 else "小规模纳税人",
            )
            world.legal_persons.append(lp)

    def employ(self) -> None:
        """Give 58% of working-age living people an active employer (bigger ones more often)."""
        world, rng = self.world, self.rng
        employers = [lp for lp in world.legal_persons if lp.status in ("存续", "在业") and lp.uscc]
        if not employers:
            return
        weights = [(3.0 if lp.kind == "91" else 0.3) / (i + 1) ** 0.6 for i, lp in enumerate(employers)]
        cum = list(accumulate(weights))
        workers = [
            p
            for p in world.persons
            if p.death_date is None and 18 <= age_on(p.birth_date, world.as_of) <= 62 and rng.random() < 0.58
        ]
        for p, lp in zip(workers, rng.choices(employers, cum_weights=cum, k=len(workers)), strict=True):
            p.employer_id = lp.legal_person_id


def build_world(
    seed: int,
    n_persons: int,
    pools: Pools,
    *,
    as_of: dt.date = AS_OF,
    progress: Callable[[int], None] | None = None,
) -> World:
    """The true population of ``n_persons`` people, ~n/10 legal persons, and their addresses."""
    world = World(seed=seed, as_of=as_of, pools=pools)
    _People(world, progress or (lambda _n: None)).build(n_persons)
    legal = _LegalPersons(world)
    legal.build(max(40, n_persons // 10))
    legal.employ()
    world.person_by_id = {p.person_id: p for p in world.persons}
    world.legal_by_id = {lp.legal_person_id: lp for lp in world.legal_persons}
    return world
