"""Word pools the generator draws from, built once per run (no Faker calls in the hot loops).

Names and words come from Faker's zh_CN providers, drawn through a Faker instance seeded with the
run's seed; admin divisions from :mod:`govlake.reference.admin_divisions`. What is typed here is
only what no package ships: a few road-name words, enterprise name forms, GB/T 4754-2017 industry
classes, ICD-10 causes of death and the prefectures' census weights and phone area codes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker
from faker.providers.company.zh_CN import Provider as CompanyProvider
from faker.providers.person.zh_CN import Provider as PersonProvider

from govlake.reference.admin_divisions import (
    Division,
    county_codes_valid_in,
    district_centroids,
    ethnic_groups,
    jiangsu_districts,
    jiangsu_prefectures,
)

#: Resident population by prefecture, 7th census (2020), in 10,000s: weights for where people live.
PREFECTURE_WEIGHTS = {
    "3201": 931.5,
    "3202": 746.2,
    "3203": 908.4,
    "3204": 527.8,
    "3205": 1274.8,
    "3206": 772.7,
    "3207": 459.9,
    "3208": 455.6,
    "3209": 671.0,
    "3210": 456.0,
    "3211": 321.0,
    "3212": 451.3,
    "3213": 498.6,
}

#: Fixed-line area codes (长途区号) of the prefectures.
AREA_CODES = {
    "3201": "025",
    "3202": "0510",
    "3203": "0516",
    "3204": "0519",
    "3205": "0512",
    "3206": "0513",
    "3207": "0518",
    "3208": "0517",
    "3209": "0515",
    "3210": "0514",
    "3211": "0511",
    "3212": "0523",
    "3213": "0527",
}

ROAD_WORDS = [
    "人民",
    "解放",
    "中山",
    "建设",
    "和平",
    "文化",
    "幸福",
    "长江",
    "黄河",
    "太湖",
    "东风",
    "新华",
    "胜利",
    "友谊",
    "工农",
    "青年",
    "光明",
    "朝阳",
    "团结",
    "振兴",
    "迎宾",
    "滨河",
    "湖滨",
    "学府",
    "健康",
    "平安",
    "富民",
    "丰收",
    "运河",
    "淮海",
]
ROAD_SUFFIXES = ("路",) * 6 + ("街",) * 2 + ("大道", "巷")

#: GB/T 4754-2017 industry classes (4 digits) with a word an enterprise of that class puts in its
#: name, by USCC entity type.
INDUSTRIES = {
    "91": (
        ("3670", "汽车零部件"),
        ("3973", "微电子"),
        ("3911", "电脑科技"),
        ("2614", "化工"),
        ("3311", "钢结构"),
        ("4710", "建设工程"),
        ("6513", "软件"),
        ("6410", "网络科技"),
        ("7010", "房地产开发"),
        ("5431", "物流"),
        ("7212", "投资管理"),
        ("5212", "商贸"),
        ("6210", "餐饮管理"),
        ("1311", "粮油"),
    ),
    "92": (
        ("5213", "便利店"),
        ("5212", "超市"),
        ("6210", "饭店"),
        ("6220", "快餐店"),
        ("8010", "家政服务部"),
    ),
    "93": (
        ("0111", "水稻种植"),
        ("0141", "蔬菜种植"),
        ("0311", "肉牛养殖"),
        ("0412", "水产养殖"),
    ),
}
ENTITY_TYPES = {
    "91": (
        ("有限公司", "有限责任公司(自然人投资或控股)"),
        ("有限公司", "有限责任公司(自然人独资)"),
        ("有限责任公司", "有限责任公司(法人独资)"),
        ("股份有限公司", "股份有限公司(非上市、自然人投资或控股)"),
    ),
    "92": (("", "个体工商户"),),
    "93": (("专业合作社", "农民专业合作社"),),
}

#: ICD-10 underlying causes of death, roughly by frequency.
CAUSES_OF_DEATH = (
    ("I63.9", 18),  # cerebral infarction
    ("I21.9", 14),  # acute myocardial infarction
    ("C34.9", 10),  # lung cancer
    ("J44.9", 9),  # COPD
    ("I61.9", 7),  # intracerebral haemorrhage
    ("C16.9", 5),  # stomach cancer
    ("C22.0", 4),  # liver cell carcinoma
    ("E14.9", 4),  # diabetes
    ("J18.9", 4),  # pneumonia
    ("I10", 3),  # hypertension
    ("V89.2", 2),  # road traffic accident
    ("W19", 1),  # fall
)

INSURANCE_TYPES = (("企业职工基本养老保险", 80), ("职工基本医疗保险", 15), ("失业保险", 5))

#: Name characters outside GBK (CJK extensions A and B) that real names do use.
RARE_NAME_CHARS = ("䶮", "𪚥")


@dataclass
class Pools:
    surnames: list[str]
    male_chars: list[str]
    female_chars: list[str]
    road_stems: list[str]
    brands: list[str]
    ethnic_groups: tuple[str, ...]
    prefectures: dict[str, str]  # "3201" -> 南京市
    districts: dict[str, list[Division]]  # "3201" -> current districts
    centroids: dict[str, tuple[float, float]]
    phone_prefixes: list[str]

    def birthplace_codes(self, year: int) -> tuple[dict[str, list[str]], list[str], list[str]]:
        """Codes valid in ``year``: Jiangsu's by 4-digit prefix, all of Jiangsu's, other provinces'."""
        cached = self._birthplaces.get(year)
        if cached is None:
            js: list[str] = []
            others: list[str] = []
            by_pref: dict[str, list[str]] = {}
            for code in county_codes_valid_in(year):
                if code.startswith("32"):
                    js.append(code)
                    by_pref.setdefault(code[:4], []).append(code)
                else:
                    others.append(code)
            cached = self._birthplaces[year] = (by_pref, js, others)
        return cached

    def __post_init__(self) -> None:
        self._birthplaces: dict[int, tuple[dict[str, list[str]], list[str], list[str]]] = {}


def build_pools(seed: int) -> Pools:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(f"{seed}/pools")
    # Faker draws surnames by their real frequency: a 3,000-draw pool keeps that distribution.
    surnames = [fake.last_name() for _ in range(3000)]
    male_chars = sorted(set("".join(PersonProvider.first_names_male)))
    female_chars = sorted(set("".join(PersonProvider.first_names_female)))
    address = fake.provider("faker.providers.address")
    stems = sorted(
        stem
        for stem in set(address.cities) | set(address.districts) | set(ROAD_WORDS)  # type: ignore[attr-defined]
        if stem[-1] not in "路街道巷区县市"  # "上街" + 街 would read as a typo
    )
    # Trade names (字号): Faker's two-character ones, and every first-half/second-half recombination.
    two = sorted({p for p in CompanyProvider.company_prefixes if len(p) == 2})
    brands = sorted({a[0] + b[1] for a in two for b in two})
    rng.shuffle(brands)
    phone = fake.provider("faker.providers.phone_number")
    return Pools(
        surnames=surnames,
        male_chars=male_chars,
        female_chars=female_chars,
        road_stems=stems,
        brands=brands,
        ethnic_groups=ethnic_groups(),
        prefectures=jiangsu_prefectures(),
        districts=jiangsu_districts(),
        centroids=district_centroids(),
        phone_prefixes=sorted(str(p) for p in phone.phonenumber_prefixes),  # type: ignore[attr-defined]
    )
