"""Generate every registry source's extract, plus the ground truth, into one directory.

Layout of ``OUT``::

    landing/<source_id>/<file>   each extract exactly as its department sends it
    truth/persons.csv            the true persons
    truth/legal_persons.csv      the true legal persons (enterprises, individual businesses, co-ops)
    truth/addresses.csv          the true address points (WGS84, and GCJ-02 for convenience)
    truth/rows.csv               one line per data row of every landing file (see ROW_COLUMNS)
    truth/files.csv              one line per landing file (see FILE_COLUMNS)
    truth/manifest.json          seed, scale, counts, and how often each kind of mess was made

Truth files are UTF-8 CSV without BOM. Nothing in them or in the extracts depends on the clock:
the same seed, scale and registry give byte-identical trees.

``rows.csv`` columns: ``source_id, file, row_number`` (1-based among the file's data rows, as a
reader counts them: the header is not a row), ``person_id`` (the person the row is about; for an
enterprise or taxpayer row its legal representative), ``person_id_2`` (marriage: the wife),
``legal_person_id`` (the enterprise / taxpayer, or an insured person's employer), ``address_id``,
``division_code``, ``valid`` (``true``/``false``), ``invalid_reason`` (id_check_digit,
uscc_check_digit, wrong_field_count, truncated_row, truncated_file), ``messes`` (``;``-separated
kinds, see :mod:`synthetic.extracts`) and ``duplicate_of`` (row number of the row this one
repeats, in the same file).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import multiprocessing as mp
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from govlake.registry import ColumnType, Dataset, FileFormat, Registry, Source, load_registry
from synthetic.extracts import (
    Row,
    actual_encoding,
    apply_mess,
    build_rows,
    drift_value,
    habits_of,
    part_count,
)
from synthetic.geo import wgs84_to_gcj02
from synthetic.pools import build_pools
from synthetic.world import AS_OF, World, build_world
from synthetic.writers import csv_text, date_formatter, jsonl_text, xlsx_bytes

ROW_COLUMNS = (
    "source_id",
    "file",
    "row_number",
    "person_id",
    "person_id_2",
    "legal_person_id",
    "address_id",
    "division_code",
    "valid",
    "invalid_reason",
    "messes",
    "duplicate_of",
)
FILE_COLUMNS = (
    "source_id",
    "file",
    "format",
    "encoding_declared",
    "encoding_actual",
    "bom",
    "delimiter",
    "line_ending",
    "data_rows",
    "truncated",
    "drift_columns",
    "bytes",
    "sha256",
)
PERSON_COLUMNS = (
    "person_id",
    "household_id",
    "name",
    "sex",
    "birth_date",
    "birthplace_code",
    "id_number",
    "id_number_15",
    "ethnicity",
    "admin_code",
    "address_id",
    "address",
    "phone",
    "registered_on",
    "death_date",
    "spouse_person_id",
    "married_on",
    "divorced_on",
    "father_person_id",
    "mother_person_id",
    "employer_legal_person_id",
)
LEGAL_PERSON_COLUMNS = (
    "legal_person_id",
    "uscc",
    "organization_code",
    "registration_no",
    "name",
    "entity_type",
    "legal_representative_person_id",
    "legal_representative_name",
    "legal_representative_id_number",
    "admin_code",
    "address_id",
    "address",
    "industry_code",
    "status",
    "established_on",
    "registered_capital",
    "phone",
    "taxpayer_type",
)
ADDRESS_COLUMNS = ("address_id", "address", "admin_code", "lon_wgs84", "lat_wgs84", "lon_gcj02", "lat_gcj02")


@dataclass
class Summary:
    out: Path
    seed: int
    scale: int
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    messes: Counter[str] = field(default_factory=Counter)


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def _write_csv(
    path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]] | list[list[object]]
) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_world_truth(world: World, truth: Path) -> None:
    _write_csv(
        truth / "persons.csv",
        PERSON_COLUMNS,
        [
            (
                p.person_id,
                p.household_id,
                p.name,
                p.sex,
                _iso(p.birth_date),
                p.birthplace_code,
                p.id_number,
                p.id15,
                p.ethnicity,
                p.admin_code,
                p.address_id,
                p.address,
                p.phone,
                _iso(p.registered_on),
                _iso(p.death_date),
                p.spouse_id,
                _iso(p.married_on),
                _iso(p.divorced_on),
                p.father_id,
                p.mother_id,
                p.employer_id,
            )
            for p in world.persons
        ],
    )
    _write_csv(
        truth / "legal_persons.csv",
        LEGAL_PERSON_COLUMNS,
        [
            (
                lp.legal_person_id,
                lp.uscc,
                lp.organization_code,
                lp.registration_no,
                lp.name,
                lp.entity_type,
                lp.legal_rep_id,
                lp.legal_rep_name,
                lp.legal_rep_id_number,
                lp.admin_code,
                lp.address_id,
                lp.address,
                lp.industry_code,
                lp.status,
                _iso(lp.established_on),
                f"{lp.registered_capital:g}",
                lp.phone,
                lp.taxpayer_type,
            )
            for lp in world.legal_persons
        ],
    )
    rows = []
    for a in world.addresses:
        glon, glat = wgs84_to_gcj02(a.lon, a.lat)
        rows.append(
            (
                a.address_id,
                a.address,
                a.admin_code,
                f"{a.lon:.6f}",
                f"{a.lat:.6f}",
                f"{glon:.6f}",
                f"{glat:.6f}",
            )
        )
    _write_csv(truth / "addresses.csv", ADDRESS_COLUMNS, rows)


# --- one source -------------------------------------------------------------------------------------


def file_names(source: Source, as_of: dt.date, parts: int) -> list[str]:
    """Concrete names matching the source's ``file_pattern`` (``*`` -> extract date [+ part])."""
    stamp = f"{as_of:%Y%m%d}"
    pattern = source.file_pattern if "*" in source.file_pattern else f"{source.id}_*.{source.format.value}"
    if parts == 1:
        return [pattern.replace("*", stamp, 1)]
    return [pattern.replace("*", f"{stamp}_{k:02d}", 1) for k in range(1, parts + 1)]


_STR, _DATE, _DECIMAL, _DOUBLE = range(4)
_KIND = {ColumnType.DATE: _DATE, ColumnType.DECIMAL: _DECIMAL, ColumnType.DOUBLE: _DOUBLE}


class _Serializer:
    def __init__(self, world: World, source: Source, dataset: Dataset) -> None:
        self.world = world
        self.source = source
        mapped = set(source.column_map.values())
        self.columns = [c for c in dataset.column_names if c in mapped]
        reverse = source.canonical_to_source
        self.header = [reverse[c] for c in self.columns]
        self.kinds = [(c, _KIND.get(dataset.column(c).type, _STR)) for c in self.columns]
        self.default_format = date_formatter(source.date_formats[0] if source.date_formats else "yyyy-MM-dd")
        self.drift = habits_of(source).drift_column
        if self.drift:
            self.header.insert(self.drift[1], self.drift[0])

    def values(self, row: Row, *, as_text: bool) -> list[object]:
        """The row's values in header order: all text for CSV, typed (None, numbers) otherwise."""
        fmt = date_formatter(row.date_format) if row.date_format else self.default_format
        vals = row.values
        empty = "" if as_text else None
        out: list[object] = []
        append = out.append
        for c, kind in self.kinds:
            x = vals.get(c)
            if x is None or x == "":
                append(empty)
            elif kind == _STR:
                append(x)
            elif kind == _DATE:
                append(fmt(x))
            elif kind == _DOUBLE:
                append(f"{x:.6f}" if as_text else round(x, 6))  # type: ignore[call-overload]
            elif as_text:
                append(f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}")  # type: ignore[arg-type]
            else:
                append(x)
        if self.drift:
            out.insert(self.drift[1], drift_value(self.world, row))
        return out


def _break_row(values: list[str], ser: _Serializer, broken: str, delimiter: str) -> list[str]:
    """A row with the wrong field count: a delimiter typed into the address, or the last field gone."""
    if broken == "missing_field":
        return values[:-1]
    reverse = ser.source.canonical_to_source
    i = next(ser.header.index(reverse[c]) for c in ("address", "registered_address") if c in reverse)
    addr = values[i]
    cut = addr.find("号") + 1 or len(addr) // 2
    values = list(values)
    values[i] = addr[:cut] + delimiter + addr[cut:]
    return values


def write_source(
    world: World, registry: Registry, source: Source, landing: Path, as_of: dt.date
) -> list[tuple[str, list[Row], dict[str, object]]]:
    """Write one source's files; returns (file name, rows in the file, file facts) for each."""
    dataset = registry.dataset_of(source)
    habits = habits_of(source)
    encoding = actual_encoding(source)
    rows = build_rows(world, registry, source)
    parts = apply_mess(world, source, rows, encoding, part_count(habits, len(rows)))
    ser = _Serializer(world, source, dataset)
    folder = landing / source.id
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    names = file_names(source, as_of, len(parts))
    for k, (name, part) in enumerate(zip(names, parts, strict=True)):
        truncated = False
        if source.format is FileFormat.XLSX:
            data = xlsx_bytes(ser.header, [ser.values(r, as_text=False) for r in part])
        elif source.format is FileFormat.JSON:
            data = jsonl_text(ser.header, [ser.values(r, as_text=False) for r in part]).encode(encoding)
        else:
            delimiter = source.delimiter or ","
            line_end = "\r\n" if encoding.lower().startswith("gb") else "\n"
            text_rows = []
            raw = set()
            for i, r in enumerate(part):
                values: list[str] = ser.values(r, as_text=True)  # type: ignore[assignment]
                if r.broken:
                    values = _break_row(values, ser, r.broken, delimiter)
                    raw.add(i)
                text_rows.append(values)
            cut_at = None
            if habits.truncate_last_part and k == len(parts) - 1 and len(part) >= 2:
                cut_at = max(1, int(len(part) * 0.7))
                part = part[: cut_at + 1]
                text_rows = text_rows[: cut_at + 1]
            text = csv_text(
                ser.header,
                text_rows,
                delimiter=delimiter,
                line_end=line_end,
                quote_all=habits.quote_all,
                raw_rows=frozenset(raw),
            )
            data = text.encode(encoding)
            if cut_at is not None:
                data = _truncate(data, delimiter, line_end, len(ser.header), encoding)
                truncated = True
                for r in part[:-1]:
                    r.messes.append("truncated_file")
                    r.invalid = "truncated_file"
                part[-1].messes.append("truncated_file")
                part[-1].invalid = "truncated_row"
        (folder / name).write_bytes(data)
        facts: dict[str, object] = {
            "format": source.format.value,
            "encoding_declared": source.encoding,
            "encoding_actual": "utf-8" if source.format is FileFormat.XLSX else encoding,
            "bom": data.startswith(b"\xef\xbb\xbf"),
            "delimiter": source.delimiter or "",
            "line_ending": ""
            if source.format is FileFormat.XLSX
            else ("CRLF" if b"\r\n" in data[:4096] else "LF"),
            "data_rows": len(part),
            "truncated": truncated,
            "drift_columns": habits.drift_column[0] if habits.drift_column else "",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        out.append((name, part, facts))
    return out


def _truncate(data: bytes, delimiter: str, line_end: str, n_columns: int, encoding: str) -> bytes:
    """Cut the last line mid-row: after about 60% of its fields, without a final newline."""
    end = data.rstrip(line_end.encode("ascii"))
    start = end.rfind(line_end.encode("ascii")) + len(line_end)
    line = end[start:]
    delim = delimiter.encode(encoding)
    keep = max(1, min(n_columns - 2, round(n_columns * 0.6)))
    pos = -1
    for _ in range(keep):
        pos = line.find(delim, pos + 1)
    tail = line[pos + 1 : pos + 4]
    cut = pos + 1 + (len(tail) if tail.isascii() else 0)
    return data[: start + cut]


# --- everything ------------------------------------------------------------------------------------


@dataclass
class _SourceResult:
    source_id: str
    truth_rows: str  # rows.csv lines of this source's files
    files: list[list[object]]  # files.csv rows
    paths: list[Path]
    rows: int
    messes: Counter[str]


def _source_task(
    world: World, registry: Registry, source: Source, landing: Path, as_of: dt.date
) -> _SourceResult:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    result = _SourceResult(source.id, "", [], [], 0, Counter())
    for name, part, facts in write_source(world, registry, source, landing, as_of):
        numbers = {id(r): i for i, r in enumerate(part, start=1)}
        writer.writerows(
            (
                source.id,
                name,
                i,
                r.person_id,
                r.person_id_2,
                r.legal_person_id,
                r.address_id,
                r.division_code,
                "false" if r.invalid else "true",
                r.invalid,
                ";".join(r.messes),
                numbers.get(id(r.duplicate_of), "") if r.duplicate_of is not None else "",
            )
            for i, r in enumerate(part, start=1)
        )
        for r in part:
            result.messes.update(r.messes)
        result.rows += len(part)
        result.paths.append(landing / source.id / name)
        result.files.append(
            [source.id, name, *(str(v).lower() if isinstance(v, bool) else v for v in facts.values())]
        )
    result.truth_rows = buf.getvalue()
    return result


# What forked workers read: set just before the pool starts, in the parent.
_SHARED: tuple[World, Registry, Path, Path, dt.date] | None = None
_WORLD_TRUTH = "__world_truth__"


def _run_task(task: str) -> _SourceResult | None:
    assert _SHARED is not None
    world, registry, landing, truth, as_of = _SHARED
    if task == _WORLD_TRUTH:
        write_world_truth(world, truth)
        return None
    return _source_task(world, registry, registry.source(task), landing, as_of)


#: Rough cost of a dataset's extract per true person: the biggest are started first.
_COST = {
    "social_insurance_enrollment": 5,
    "address_points": 4,
    "household_registration": 1,
    "marriage_registration": 2,
}


def generate(
    out: Path | str,
    scale: int,
    seed: int = 0,
    *,
    registry: Registry | None = None,
    as_of: dt.date = AS_OF,
    progress: bool = True,
    workers: int | None = None,
) -> Summary:
    """Generate ``scale`` true persons and every registry source's extracts under ``out``.

    ``out/landing`` and ``out/truth`` are replaced; nothing else under ``out`` is touched. Once the
    true world is built, sources are written by ``workers`` forked processes (default: 2 where
    ``fork`` exists, capped by the CPU count); the output does not depend on how many.
    """
    global _SHARED
    if scale < 20:
        raise ValueError("scale must be at least 20 persons")
    out = Path(out)
    landing, truth = out / "landing", out / "truth"
    for d in (landing, truth):
        if d.exists():
            shutil.rmtree(d)
    truth.mkdir(parents=True)
    landing.mkdir(parents=True)
    registry = registry or load_registry()
    summary = Summary(out=out, seed=seed, scale=scale)
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if "fork" not in mp.get_all_start_methods():
        workers = 1

    pools = build_pools(seed)
    with tqdm(total=scale, desc="true persons", unit="person", disable=not progress, mininterval=0.5) as bar:

        def advance(made: int) -> None:
            bar.update(min(made, scale - bar.n))

        world = build_world(seed, scale, pools, as_of=as_of, progress=advance)

    tasks = [_WORLD_TRUTH, *registry.sources]
    ordered = sorted(
        tasks, key=lambda t: -_COST.get(registry.sources[t].dataset, 1) if t in registry.sources else -3
    )
    results: dict[str, _SourceResult | None] = {}
    _SHARED = (world, registry, landing, truth, as_of)
    try:
        with tqdm(total=len(tasks), desc="extracts", unit="file set", disable=not progress) as bar:
            if workers > 1:
                with mp.get_context("fork").Pool(workers) as pool:
                    for task, result in zip(ordered, pool.imap(_run_task, ordered), strict=True):
                        results[task] = result
                        bar.update()
            else:
                for task in ordered:
                    results[task] = _run_task(task)
                    bar.update()
    finally:
        _SHARED = None

    files_rows: list[list[object]] = []
    with (truth / "rows.csv").open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(ROW_COLUMNS) + "\n")
        for source_id in registry.sources:  # registry order, whatever order the work finished in
            result = results[source_id]
            assert result is not None
            fh.write(result.truth_rows)
            files_rows.extend(result.files)
            summary.files.extend(result.paths)
            summary.rows += result.rows
            summary.messes.update(result.messes)
    _write_csv(truth / "files.csv", FILE_COLUMNS, files_rows)
    manifest = {
        "seed": seed,
        "scale": scale,
        "as_of": as_of.isoformat(),
        "persons": len(world.persons),
        "legal_persons": len(world.legal_persons),
        "addresses": len(world.addresses),
        "sources": len(registry.sources),
        "files": len(summary.files),
        "rows": summary.rows,
        "messes": dict(sorted(summary.messes.items())),
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (truth / "manifest.json").write_text(text, encoding="utf-8")
    return summary
