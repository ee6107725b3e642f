"""Helpers for the sharing tests: a small share definition, hand-made silver rows, a live server."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

SHARES_YAML = """
version: 1
recipients:
  nanjing: {name: 南京市大数据管理局, kind: prefecture, prefecture: "3201", ceiling: important}
  suzhou: {name: 苏州市大数据管理局, kind: prefecture, prefecture: "3205", ceiling: important}
  health: {name: 省卫生健康委员会, kind: department, department: health, ceiling: important}
shares:
  residents_back:
    approval: 测试审批〔2025〕1号
    recipients: [nanjing, {id: suzhou, rows: ["3206"]}]
    schemas:
      population:
        residents:
          source: silver.population.persons
          where: is_current
          key: [person_id]
          located_by: admin_code
          columns:
            person_key: {from: person_id, mask: pseudonym}
            id_key: {from: id_number, mask: pseudonym}
            id_number: mask_id
            name: mask_name
            sex: clear
            birth_date: clear
            admin_code: clear
            phone: mask_phone
  health_stats:
    approval: 测试审批〔2025〕2号
    recipients: [health]
    schemas:
      population:
        persons:
          source: silver.population.persons
          where: is_current
          key: [person_id]
          columns:
            person_key: {from: person_id, mask: pseudonym}
            sex: clear
            birth_date: clear
            admin_code: clear
      geography:
        addresses:
          source: silver.geography.address_points
          columns:
            address_key: {from: address_id, mask: pseudonym}
            address: mask_name
            admin_code: clear
            lon_wgs84: clear
            lat_wgs84: clear
"""

PERSONS_DDL = (
    "person_id string, id_number string, name string, sex string, birth_date date, death_date date, "
    "ethnicity string, address string, admin_code string, phone string, row_hash string, "
    "valid_from timestamp, valid_to timestamp, is_current boolean"
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def citizen_id(area: str, born: date, sequence: int) -> str:
    body = f"{area}{born:%Y%m%d}{sequence:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


#: (person_id, area, birth, name, sex, phone); admin_code = area.
PEOPLE = [
    ("p01", "320102", date(1980, 1, 2), "张三丰", "1", "13812345678"),
    ("p02", "320104", date(1975, 5, 6), "李四", "2", "13987654321"),
    ("p03", "320113", date(2001, 9, 30), "王小明", "1", None),
    ("p04", "320505", date(1990, 3, 3), "赵敏", "2", "13700001111"),
    ("p05", "320506", date(1968, 12, 12), "钱多多", "1", "13600002222"),
    ("p06", "320602", date(1955, 7, 7), "孙悟空", "1", "13500003333"),
    ("p07", "320302", date(1999, 2, 2), "周芷若", "2", "13400004444"),
]


def persons_rows(changed_phone: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    rows = []
    since = datetime(2025, 1, 1)
    for i, (pid, area, born, name, sex, phone) in enumerate(PEOPLE):
        phone = (changed_phone or {}).get(pid, phone)
        rows.append(
            (
                pid,
                citizen_id(area, born, 10 + i),
                name,
                sex,
                born,
                None,
                "汉",
                f"{area}某路{i}号",
                area,
                phone,
                f"h{i}",
                since,
                None,
                True,
            )
        )
    # an earlier version of p01 (not current): must never reach a recipient
    rows.append(
        (
            "p01",
            citizen_id("320102", date(1980, 1, 2), 10),
            "张三",
            "1",
            date(1980, 1, 2),
            None,
            "汉",
            "旧址",
            "320102",
            "13000000000",
            "old",
            datetime(2020, 1, 1),
            since,
            False,
        )
    )
    return rows


ADDRESSES_DDL = (
    "admin_code string, address_id string, address string, crs_sent string, lon_wgs84 double, "
    "lat_wgs84 double, invalid_reason string, out_of_china boolean, source_id string, "
    "ingested_at timestamp, admin_code_known boolean, h3_cell string, city_code string, _row_hash string"
)


def address_rows(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """``n`` address points with random ids (their pseudonyms do not compress: a big file)."""
    rnd = random.Random(seed)
    now = datetime(2025, 6, 30)
    return [
        (
            "320102",
            f"A{rnd.getrandbits(64):016x}",
            f"南京市玄武区某路{i}号",
            "WGS84",
            118.7 + rnd.random() / 10,
            32.0 + rnd.random() / 10,
            None,
            False,
            "nr_address",
            now,
            True,
            "8a309a6b1c0ffff",
            "3201",
            f"r{i}",
        )
        for i in range(n)
    ]


RESIDENT_COLUMNS = ["person_key", "id_key", "id_number", "name", "sex", "birth_date", "admin_code", "phone"]


def expected_residents(keys: Any, recipient: str, prefectures: tuple[str, ...]) -> list[dict[str, Any]]:
    """The residents grant's rows ``recipient`` must read: current persons of its prefectures, masked."""
    from govlake.sharing import pseudonym

    key = keys.pseudonym_key_for(recipient)
    rows = []
    for pid, _ids, name, sex, born, _d, _e, _a, admin, phone, _h, _f, _t, current in persons_rows():
        if not current or admin[:4] not in prefectures:
            continue
        rows.append(
            {
                "person_key": pseudonym(key, pid),
                "id_key": pseudonym(key, _ids),
                "id_number": _ids[:6] + "*" * 8 + _ids[-4:],
                "name": name[0] + "*" * (len(name) - 1),
                "sex": sex,
                "birth_date": born,
                "admin_code": admin,
                "phone": None if phone is None else phone[:3] + "****" + phone[-4:],
            }
        )
    return sorted(rows, key=lambda r: r["person_key"])


def expected_persons(keys: Any, recipient: str) -> list[dict[str, Any]]:
    """The health_stats persons grant's rows: every current person, pseudonymised, no name or ID."""
    from govlake.sharing import pseudonym

    key = keys.pseudonym_key_for(recipient)
    rows = [
        {"person_key": pseudonym(key, pid), "sex": sex, "birth_date": born, "admin_code": admin}
        for pid, _i, _n, sex, born, _d, _e, _a, admin, _p, _h, _f, _t, current in persons_rows()
        if current
    ]
    return sorted(rows, key=lambda r: r["person_key"])


def records(frame: Any) -> list[dict[str, Any]]:
    """A client's pandas frame as plain rows sorted by person_key (NaN -> None, timestamps -> dates)."""
    rows = frame.to_dict("records")
    for r in rows:
        for k, v in r.items():
            if v != v:  # NaN from a missing value
                r[k] = None
            if hasattr(v, "date") and not isinstance(v, str):
                r[k] = v.date() if hasattr(v, "hour") else v
    return sorted(rows, key=lambda r: r["person_key"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1:``port`` in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the sharing server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def write_profile(folder: Path, name: str, endpoint: str, token: str) -> Path:
    path = folder / f"{name}.share"
    path.write_text(json.dumps({"shareCredentialsVersion": 1, "endpoint": endpoint, "bearerToken": token}))
    return path
