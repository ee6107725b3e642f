"""One small generated tree per test session (CI scale), read back without the generator's code."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from govlake.registry import FileFormat, Registry, Source, load_registry

SCALE = 600
SEED = 11


@dataclass
class LandingFile:
    source: Source
    path: Path
    encoding: str  # what the truth says the file is in (xlsx: its XML)
    header: list[str]
    rows: list[list[str] | None]  # one per data row: values in header order; None = not parseable
    raw: list[str] = field(default_factory=list)  # each data row's text (CSV / JSON lines)

    def record(self, i: int) -> dict[str, str]:
        """Row ``i`` (0-based) as canonical column -> value ('' for empty)."""
        values = self.rows[i]
        assert values is not None
        return {
            self.source.column_map[h]: ("" if v is None else str(v))
            for h, v in zip(self.header, values, strict=True)
            if h in self.source.column_map
        }


def read_landing(source: Source, path: Path, encoding: str) -> LandingFile:
    """Read a generated extract with the standard library / openpyxl only."""
    data = path.read_bytes()
    if source.format is FileFormat.XLSX:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data), read_only=True)
        table = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        header = [str(h) for h in table[0]]
        padded = [(list(r) + [None] * len(header))[: len(header)] for r in table[1:]]
        return LandingFile(source, path, encoding, header, padded)  # type: ignore[arg-type]
    text = data.decode(encoding).removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    if source.format is FileFormat.JSON:
        rows: list[list[str] | None] = []
        header: list[str] = []
        for line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                rows.append(None)
                continue
            header = header or list(obj)
            rows.append([obj.get(h) for h in header])
        return LandingFile(source, path, encoding, header, rows, lines)
    delimiter = source.delimiter or ","
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    rows = []
    for line in lines[1:]:
        values = next(csv.reader([line], delimiter=delimiter))
        rows.append(values if len(values) == len(header) else None)
    return LandingFile(source, path, encoding, header, rows, lines[1:])


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@pytest.fixture(scope="session")
def scale_seed() -> tuple[int, int]:
    return SCALE, SEED


@pytest.fixture(scope="session")
def digest():
    return tree_digest


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic.generator import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, SCALE, SEED, progress=False, workers=1)
    return out


@pytest.fixture(scope="session")
def truth_files(generated: Path) -> list[dict[str, str]]:
    with (generated / "truth" / "files.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def truth_rows(generated: Path) -> dict[tuple[str, str], list[dict[str, str]]]:
    """(source id, file) -> the truth rows of that file, in file order."""
    out: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with (generated / "truth" / "rows.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[(row["source_id"], row["file"])].append(row)
    return dict(out)


@pytest.fixture(scope="session")
def persons(generated: Path) -> dict[str, dict[str, str]]:
    with (generated / "truth" / "persons.csv").open(encoding="utf-8", newline="") as fh:
        return {r["person_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def legal_persons(generated: Path) -> dict[str, dict[str, str]]:
    with (generated / "truth" / "legal_persons.csv").open(encoding="utf-8", newline="") as fh:
        return {r["legal_person_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def landing(generated: Path, registry: Registry, truth_files: list[dict[str, str]]) -> dict[str, LandingFile]:
    """file name -> the file read back (encoding from the truth, which the tests check separately)."""
    out = {}
    for f in truth_files:
        source = registry.source(f["source_id"])
        path = generated / "landing" / f["source_id"] / f["file"]
        out[f["file"]] = read_landing(source, path, f["encoding_actual"])
    return out
