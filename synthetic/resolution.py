"""Synthetic person records with known truth, for testing and benchmarking person resolution.

A stand-in until the project's generator (``synthetic``) writes truth tables: it makes the
mess that entity resolution has to survive, at a chosen scale and from a fixed seed —

* the same person in several departments' extracts (and now and then twice in one), most with the
  citizen ID, some without it (each department has its own ID capture rate);
* one-character name typos (mostly homophones: 伟/玮, 静/婧), one-digit birth-date typos, missing
  birth date / sex / district / address / phone, stale addresses from before a move, address typos;
* common-name collisions: names are drawn from a skewed pool (张伟, 王芳 and 李娜 are everywhere), and
  a share of persons is given the exact name *and* birth date of another person, some in the same
  district, so name + birth date alone cannot separate them.

Pure Python (``random.Random(seed)``), no Spark: the records come back as plain dicts in the shape
``resolve_persons`` expects, plus the truth (record_key -> true person).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: (code, name) of districts across the 13 prefectures (3201 南京 ... 3213 宿迁).
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("320102", "南京市玄武区"),
    ("320104", "南京市秦淮区"),
    ("320105", "南京市建邺区"),
    ("320106", "南京市鼓楼区"),
    ("320115", "南京市江宁区"),
    ("320205", "无锡市锡山区"),
    ("320211", "无锡市滨湖区"),
    ("320213", "无锡市梁溪区"),
    ("320302", "徐州市鼓楼区"),
    ("320311", "徐州市泉山区"),
    ("320402", "常州市天宁区"),
    ("320404", "常州市钟楼区"),
    ("320505", "苏州市虎丘区"),
    ("320506", "苏州市吴中区"),
    ("320508", "苏州市姑苏区"),
    ("320612", "南通市通州区"),
    ("320613", "南通市崇川区"),
    ("320703", "连云港市连云区"),
    ("320707", "连云港市赣榆区"),
    ("320803", "淮安市淮安区"),
    ("320812", "淮安市清江浦区"),
    ("320902", "盐城市亭湖区"),
    ("320903", "盐城市盐都区"),
    ("321002", "扬州市广陵区"),
    ("321003", "扬州市邗江区"),
    ("321102", "镇江市京口区"),
    ("321111", "镇江市润州区"),
    ("321202", "泰州市海陵区"),
    ("321203", "泰州市高港区"),
    ("321302", "宿迁市宿城区"),
    ("321311", "宿迁市宿豫区"),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
)
#: Surname weights: the top few dominate, as in the census.
SURNAME_WEIGHTS = [max(1.0, 12.0 - i * 0.6) for i in range(len(SURNAMES))]
GIVEN_NAMES: tuple[str, ...] = (
    *(
        [
            "伟",
            "芳",
            "娜",
            "敏",
            "静",
            "丽",
            "强",
            "磊",
            "军",
            "洋",
            "勇",
            "艳",
            "杰",
            "娟",
            "涛",
            "明",
            "超",
            "霞",
            "平",
            "刚",
            "桂英",
            "秀英",
            "华",
            "建华",
            "建国",
            "玉兰",
            "英",
            "婷",
            "斌",
            "鹏",
        ]
    ),
    *(
        [
            "丹",
            "辉",
            "燕",
            "红",
            "波",
            "宁",
            "浩",
            "亮",
            "飞",
            "琳",
            "雪",
            "晨",
            "欣怡",
            "子涵",
            "浩然",
            "宇轩",
            "梓涵",
            "一诺",
            "雨桐",
            "思远",
            "志强",
            "海燕",
            "春梅",
        ]
    ),
    *(
        [
            "秀兰",
            "志明",
            "文博",
            "佳怡",
            "俊杰",
            "晓东",
            "晓燕",
            "国强",
            "丽华",
            "建军",
            "秀珍",
            "淑珍",
            "玉梅",
            "德明",
            "永刚",
            "金凤",
            "红梅",
            "立新",
        ]
    ),
)
GIVEN_WEIGHTS = [max(0.4, 10.0 / (1 + i * 0.35)) for i in range(len(GIVEN_NAMES))]
#: Plausible one-character slips: homophones and look-alikes, the typical data-entry typo.
CONFUSABLE: dict[str, str] = {
    "伟": "玮炜苇",
    "芳": "方芬",
    "娜": "那纳",
    "敏": "民闵",
    "静": "婧晶靖",
    "丽": "莉俐利",
    "强": "墙蔷",
    "磊": "垒蕾",
    "军": "君均",
    "洋": "阳扬",
    "勇": "永涌",
    "艳": "燕彦",
    "杰": "洁捷",
    "娟": "鹃涓",
    "涛": "滔韬",
    "明": "铭鸣",
    "超": "潮朝",
    "霞": "侠夏",
    "平": "萍苹",
    "刚": "钢岗",
    "英": "瑛莹",
    "华": "桦骅",
    "建": "键健",
    "国": "帼",
    "兰": "岚蓝",
    "婷": "亭庭",
    "斌": "彬滨",
    "鹏": "朋蓬",
    "红": "虹鸿",
    "玉": "钰煜",
    "秀": "绣",
    "志": "智治",
    "海": "亥",
    "梅": "玫媚",
    "张": "章",
    "王": "汪",
    "李": "黎",
    "刘": "柳",
    "陈": "程",
    "杨": "阳",
    "黄": "王",
    "徐": "许",
}
STREETS = [
    "中山路",
    "解放路",
    "人民路",
    "建设路",
    "长江路",
    "和平路",
    "新华路",
    "北京路",
    "上海路",
    "淮海路",
    "黄河路",
    "东风路",
    "青年路",
    "文化路",
    "健康路",
    "胜利路",
    "太湖路",
    "运河路",
    "南园路",
    "西湖路",
    "朝阳路",
    "光明路",
    "幸福路",
    "友谊路",
]

#: Departments: (source_id, share of records that carry the citizen ID, share that carry a phone).
SOURCES: tuple[tuple[str, float, float], ...] = (
    ("public_security", 0.97, 0.30),
    ("civil_affairs", 0.80, 0.50),
    ("health", 0.55, 0.85),
    ("education", 0.50, 0.60),
    ("social_security", 0.85, 0.65),
)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def citizen_id(area: str, birth: dt.date, seq: int) -> str:
    """A GB 11643-1999 number with a correct MOD 11-2 check character."""
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


@dataclass
class _Residence:
    admin_code: str
    address: str


@dataclass
class _Person:
    pid: str
    name: str
    sex: str
    birth: dt.date
    id_number: str
    residences: list[_Residence]
    phones: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SyntheticPopulation:
    """Records in the shape ``resolve_persons`` takes, and the truth about who is who."""

    records: list[dict]
    truth: dict[str, str]  # record_key -> true person id

    @property
    def n_persons(self) -> int:
        return len(set(self.truth.values()))


def _residence(rng: random.Random, code: str | None = None) -> _Residence:
    code_, dname = rng.choice(DISTRICTS) if code is None else next(d for d in DISTRICTS if d[0] == code)
    addr = (
        f"{dname}{rng.choice(STREETS)}{rng.randint(1, 399)}号{rng.randint(1, 30)}幢{rng.randint(101, 2604)}室"
    )
    return _Residence(code_, addr)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def _typo_name(rng: random.Random, name: str) -> str:
    positions = [i for i, c in enumerate(name) if c in CONFUSABLE and i > 0] or [
        i for i, c in enumerate(name) if c in CONFUSABLE
    ]
    if positions and rng.random() < 0.85:
        i = rng.choice(positions)
        sub = rng.choice(CONFUSABLE[name[i]])
    else:  # an arbitrary wrong character in the given name
        i = rng.randrange(1, len(name)) if len(name) > 1 else 0
        sub = rng.choice("德文玉春立小红")
    return name[:i] + sub + name[i + 1 :]


def _typo_date(rng: random.Random, d: dt.date) -> dt.date:
    s = f"{d:%Y%m%d}"
    for _ in range(20):
        i = rng.randrange(2, 8)
        t = s[:i] + str(rng.randrange(10)) + s[i + 1 :]
        try:
            nd = dt.datetime.strptime(t, "%Y%m%d").date()
        except ValueError:
            continue
        if nd != d and nd <= dt.date(2024, 12, 31):
            return nd
    return d + dt.timedelta(days=1)


def _typo_text(rng: random.Random, s: str) -> str:
    digits = [i for i, c in enumerate(s) if c.isdigit()]
    if digits and rng.random() < 0.5:
        i = rng.choice(digits)
        return s[:i] + str((int(s[i]) + rng.randint(1, 9)) % 10) + s[i + 1 :]
    if "幢" in s and rng.random() < 0.5:  # building / room left out
        return s[: s.index("号") + 1]
    i = rng.randrange(len(s))
    return s[:i] + s[i + 1 :]


def _person(rng: random.Random, n: int) -> _Person:
    sex = rng.choice("男女")
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 80))
    name = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choices(GIVEN_NAMES, GIVEN_WEIGHTS)[0]
    home = _residence(rng)
    residences = [home]
    if rng.random() < 0.15:  # moved: older extracts still carry the previous address
        residences.append(_residence(rng))
    area = residences[-1].admin_code if rng.random() < 0.8 else rng.choice(DISTRICTS)[0]
    seq = rng.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
    phones = [_phone(rng) for _ in range(rng.choices([0, 1, 2], [0.2, 0.65, 0.15])[0])]
    return _Person(f"T{n:07d}", name, sex, birth, citizen_id(area, birth, seq), residences, phones)


def _collide(rng: random.Random, n: int, other: _Person) -> _Person:
    """A different person sharing ``other``'s exact name and birth date (and often sex/district)."""
    p = _person(rng, n)
    p.name, p.birth = other.name, other.birth
    if rng.random() < 0.5:
        p.sex = other.sex
    if rng.random() < 0.3:  # same district, different street
        p.residences = [_residence(rng, other.residences[0].admin_code)]
    seq = rng.randrange(0, 500) * 2 + (1 if p.sex == "男" else 0)
    p.id_number = citizen_id(p.residences[0].admin_code, p.birth, seq)
    return p


def generate(n_records: int, seed: int = 20240501, collision_rate: float = 0.05) -> SyntheticPopulation:
    """About ``n_records`` person records (the exact count varies a little) with their truth."""
    rng = random.Random(seed)
    persons: list[_Person] = []
    n_target = max(1, round(n_records / 2.2))
    for n in range(n_target):
        if persons and rng.random() < collision_rate:
            persons.append(_collide(rng, n, rng.choice(persons)))
        else:
            persons.append(_person(rng, n))

    rows_per_source: dict[str, int] = {s[0]: 0 for s in SOURCES}
    records: list[dict] = []
    truth: dict[str, str] = {}
    for p in persons:
        k = rng.choices([1, 2, 3, 4], [0.25, 0.35, 0.28, 0.12])[0]
        sources = rng.sample(SOURCES, k)
        if rng.random() < 0.04:  # the same person twice in one department's extract
            sources.append(sources[0])
        for source_id, id_rate, phone_rate in sources:
            rows_per_source[source_id] += 1
            file_hash = hashlib.sha256(source_id.encode()).hexdigest()[:12]
            key = f"{source_id}|{file_hash}|{rows_per_source[source_id]}"
            res = p.residences[-1] if len(p.residences) == 1 or rng.random() < 0.6 else p.residences[0]
            name = _typo_name(rng, p.name) if rng.random() < 0.08 else p.name
            birth: dt.date | None = p.birth
            r = rng.random()
            if r < 0.05:
                birth = None
            elif r < 0.08:
                birth = _typo_date(rng, p.birth)
            address: str | None = res.address
            r = rng.random()
            if r < 0.15:
                address = None
            elif r < 0.27:
                address = _typo_text(rng, res.address)
            phone = rng.choice(p.phones) if p.phones and rng.random() < phone_rate else None
            if phone and rng.random() < 0.02:
                phone = _typo_text(rng, phone)
            has_id = rng.random() < id_rate
            sex = p.sex if rng.random() > 0.1 else None
            if has_id:  # standardization takes birth date and sex from a valid ID (records.py)
                birth, sex = p.birth, p.sex
            records.append(
                {
                    "record_key": key,
                    "source_id": source_id,
                    "id_number": p.id_number if has_id else None,
                    "name": name,
                    "birth_date": birth,
                    "sex": sex,
                    "admin_code": res.admin_code if rng.random() > 0.08 else None,
                    "address": address,
                    "phone": phone,
                }
            )
            truth[key] = p.pid
    return SyntheticPopulation(records, truth)


RECORD_DDL = (
    "record_key string, source_id string, id_number string, name string, birth_date date, sex string, "
    "admin_code string, address string, phone string"
)
TRUTH_DDL = "record_key string, true_person_id string"
RECORD_COLUMNS = tuple(c.split()[0] for c in RECORD_DDL.split(", "))


def records_frame(spark: SparkSession, records: list[dict]) -> DataFrame:
    """Synthetic records as the Spark DataFrame ``resolve_persons`` takes."""
    return spark.createDataFrame([tuple(r[c] for c in RECORD_COLUMNS) for r in records], RECORD_DDL)


def truth_frame(spark: SparkSession, population: SyntheticPopulation) -> DataFrame:
    """(record_key, true_person_id) of a synthetic population, for ``match_quality``."""
    return spark.createDataFrame(sorted(population.truth.items()), TRUTH_DDL)
