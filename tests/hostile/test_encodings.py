"""Encodings and framing: a BOM is accepted, non-UTF-8 JSON is named by its first bad byte,
XML follows its own encoding declaration, and JSON Lines are told by structure, each bad
line rejected on its own."""

from __future__ import annotations

import json
import zipfile

import orjson
import pytest

from tests.hostile.inputs import SAMPLE, VALID_NCT, ingest_cli, stored_ids, study, study_bytes
from trialscope.sources import detect


def _folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def xml_study() -> bytes:
    with zipfile.ZipFile(SAMPLE / "AllPublicXML.zip") as z:
        return z.read(next(n for n in sorted(z.namelist()) if n.endswith(".xml")))


def test_utf8_bom_is_accepted_in_json_jsonl_and_xml(tmp_path):
    folder = _folder(tmp_path)
    bom = b"\xef\xbb\xbf"
    (folder / "a.json").write_bytes(bom + study_bytes("NCT09999902"))
    (folder / "b.jsonl").write_bytes(bom + study_bytes("NCT09999903") + b"\n" + study_bytes("NCT09999904") + b"\n")
    (folder / "c.xml").write_bytes(bom + xml_study())
    (folder / "d.json").write_bytes(study_bytes())
    summary, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert rejects == [] and summary["added"] == 5
    assert {"NCT09999902", "NCT09999903", "NCT09999904", VALID_NCT} <= stored_ids(tmp_path / "s.db")


@pytest.mark.parametrize("name", ["latin1.json", "latin1.jsonl"])
def test_latin1_json_is_named_by_its_first_bad_byte(tmp_path, name):
    folder = _folder(tmp_path)
    text = study_bytes("NCT09999902")
    bad = text.replace(b'"briefTitle": "', b'"briefTitle": "caf\xe9 ', 1)
    offset = bad.index(b"\xe9")
    (folder / name).write_bytes(bad + b"\n" + study_bytes() + b"\n" if name.endswith("l") else bad)
    (folder / "good.json").write_bytes(study_bytes("NCT09999903"))
    _, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert [r["message"] for r in rejects] == [f"not UTF-8: byte 0xE9 at offset {offset}"]
    assert "NCT09999903" in stored_ids(tmp_path / "s.db")


def test_xml_with_its_own_encoding_declaration_parses_as_declared(tmp_path):
    folder = _folder(tmp_path)
    data = xml_study()
    body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
    declared = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + body.lstrip()
    latin = declared.replace(b"<brief_title>", b"<brief_title>Caf\xe9 ", 1)
    (folder / "latin.xml").write_bytes(latin)
    (folder / "good.json").write_bytes(study_bytes())
    summary, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert rejects == [] and summary["added"] == 2
    from trialscope.store import open_store

    nct = next(n for n in stored_ids(tmp_path / "s.db") if n != VALID_NCT)
    stored = open_store(str(tmp_path / "s.db")).get(nct)
    assert stored.record["protocolSection"]["identificationModule"]["briefTitle"].startswith("Café ")
    assert stored.raw == latin  # the source bytes kept exactly as read


def test_jsonl_whose_first_line_is_broken_keeps_its_valid_lines(tmp_path):
    folder = _folder(tmp_path)
    path = folder / "first-broken.jsonl"
    path.write_bytes(b'{"protocolSection": {broken\n' + study_bytes("NCT09999902") + b"\n"
                     + study_bytes("NCT09999903") + b"\n")
    (folder / "good.json").write_bytes(study_bytes())
    summary, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert summary["added"] == 3
    assert [(r["origin"].rsplit(":", 1)[1], r["message"][:12]) for r in rejects] == [("1", "invalid JSON")]


def test_jsonl_whose_second_line_is_not_an_object_rejects_that_line_alone(tmp_path):
    folder = _folder(tmp_path)
    path = folder / "second.jsonl"
    path.write_bytes(study_bytes("NCT09999902") + b"\n[1, 2]\n42\n" + study_bytes("NCT09999903") + b"\n")
    summary, rejects = ingest_cli(tmp_path / "s.db", path)
    assert summary["added"] == 2
    assert [(r["origin"].rsplit(":", 1)[1], r["message"]) for r in rejects] == [
        ("2", "not a v2 study object (no protocolSection): a JSON array"),
        ("3", "not a v2 study object (no protocolSection): a JSON number"),
    ]


def test_jsonl_with_a_first_line_longer_than_the_head_still_reads_by_line(tmp_path):
    folder = _folder(tmp_path)
    big = study("NCT09999902")
    big["protocolSection"]["descriptionModule"]["detailedDescription"] = "x" * (2 << 20)
    path = folder / "long.jsonl"
    path.write_bytes(b"{broken " + b"y" * (2 << 20) + b"\n" + orjson.dumps(big) + b"\n" + study_bytes() + b"\n")
    summary, rejects = ingest_cli(tmp_path / "s.db", path)
    assert summary["added"] == 2 and len(rejects) == 1 and rejects[0]["origin"].endswith(":1")


def test_json_array_and_pretty_documents_read_as_one_document(tmp_path):
    folder = _folder(tmp_path)
    one, two = study("NCT09999902"), study("NCT09999903")
    (folder / "pretty.json").write_text(json.dumps(one, indent=2))
    (folder / "array.json").write_bytes(b"[\n" + orjson.dumps(two) + b",\n" + study_bytes() + b"\n]\n")
    (folder / "page.json").write_bytes(b'{"studies": [\n' + study_bytes("NCT09999904") + b"\n]}\n")
    summary, rejects = ingest_cli(tmp_path / "s.db", folder)
    assert rejects == [] and summary["added"] == 4


@pytest.mark.parametrize("head,whole,kind", [
    (b'{"a": 1}\n{"b": 2}\n', True, "jsonl"),
    (b'{broken\n{"b": 2}\n', True, "jsonl"),
    (b'{\n  "protocolSection": {\n    "x": ["A"]\n  }\n}\n', True, "json"),
    (b'[\n{"a": 1}\n]\n', True, "json"),
    (b'{"studies": [\n{"a": 1}\n]}\n', True, "json"),
    (b'{"a": 1}\n', True, "json"),
    (b'{"a": 1}\n{"b"', False, "jsonl"),
    (b'{\n  "a": {"b": 1}', False, "json"),
])
def test_detect_json_lines_by_structure(head, whole, kind):
    assert detect(head, whole) == kind
