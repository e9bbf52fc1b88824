"""The vendored front-end files are exactly those VENDORED.md records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import airkube.web

VENDOR = Path(airkube.web.__file__).parent / "static" / "vendor"


def _table() -> dict[str, list[str]]:
    rows = {}
    for line in (VENDOR / "VENDORED.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 6 and cells[0] not in ("file", "---"):
            rows[cells[0]] = cells
    return rows


def test_every_vendored_file_is_recorded_with_its_sha256() -> None:
    table = _table()
    files = {p.name for p in VENDOR.iterdir() if p.name != "VENDORED.md"}
    assert files == set(table)
    for name, (_, package, version, _, license_, sha256) in table.items():
        assert all((package, version, license_)), name
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name
