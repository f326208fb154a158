"""Readers: every v2 JSON shape, detection by content, and bad input named by place."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import orjson
import pytest

from trialscope.sources import SourceFailure, SourceRecord, detect, read
from trialscope.sources.base import Reject

SAMPLE = Path(__file__).resolve().parents[2] / "sample"


def sample_json_studies(n: int) -> list[bytes]:
    with zipfile.ZipFile(SAMPLE / "ctg-studies.json.zip") as z:
        names = sorted(i.filename for i in z.infolist() if not i.is_dir())[:n]
        return [z.read(name) for name in names]


def nct(raw: bytes) -> str:
    return json.loads(raw)["protocolSection"]["identificationModule"]["nctId"]


def test_detect_by_content() -> None:
    assert detect(b"PK\x03\x04rest") == "zip"
    assert detect(b"\xef\xbb\xbf  <?xml version='1.0'?><clinical_study/>") == "xml"
    assert detect(b'{"protocolSection": {}}') == "json"
    assert detect(b'{\n  "studies": []\n}') == "json"
    assert detect(b'{"a": 1}\n{"b": 2}\n') == "jsonl"
    assert detect(b"hello") == "unknown"


def test_single_study_file_keeps_raw_bytes(tmp_path: Path) -> None:
    raw = sample_json_studies(1)[0]
    path = tmp_path / "study.data"  # the name says nothing: detection is by content
    path.write_bytes(raw)
    [item] = list(read(path))
    assert isinstance(item, SourceRecord)
    assert item.raw == raw and item.format == "json"
    assert item.record["protocolSection"]["identificationModule"]["nctId"] == nct(raw)


def test_api_page_jsonl_folder_and_zip(tmp_path: Path) -> None:
    raws = sample_json_studies(5)
    ids = [nct(r) for r in raws]
    page = tmp_path / "page.json"
    page.write_bytes(orjson.dumps({"studies": [json.loads(r) for r in raws], "nextPageToken": "x"}))
    lines = tmp_path / "studies.jsonl"
    lines.write_bytes(b"\n".join(orjson.dumps(json.loads(r)) for r in raws) + b"\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    for r in raws:
        (folder / f"{nct(r)}.json").write_bytes(r)
    archive = tmp_path / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for r in raws:
            z.writestr(f"{nct(r)}.json", r)
    for source in (page, lines, folder, archive):
        got = [i.record["protocolSection"]["identificationModule"]["nctId"] for i in read(source)]
        assert sorted(got) == sorted(ids), source.name


def test_bad_lines_are_rejected_by_line_and_the_rest_goes_through(tmp_path: Path) -> None:
    raws = sample_json_studies(3)
    lines = [orjson.dumps(json.loads(r)) for r in raws]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(lines[0] + b"\n{not json\n" + lines[1] + b"\n[1, 2]\n" + lines[2] + b"\n")
    items = list(read(path))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [r.origin.line for r in rejects] == [2, 4]
    assert "invalid JSON" in rejects[0].message
    assert str(rejects[0].origin) == f"{path}:2"
    assert sum(isinstance(i, SourceRecord) for i in items) == 3


def test_corrupt_zip_entry_is_rejected_and_others_survive(tmp_path: Path) -> None:
    raws = sample_json_studies(3)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for r in raws:
            z.writestr(f"{nct(r)}.json", r)
    data = bytearray(archive.read_bytes())
    # Flip bytes inside the second entry's compressed data: a CRC or inflate error.
    with zipfile.ZipFile(archive) as z:
        info = z.infolist()[1]
    start = info.header_offset + 30 + len(info.filename) + 10
    for i in range(start, start + 20):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    items = list(read(archive))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert len(rejects) == 1 and rejects[0].origin.entry == info.filename
    assert rejects[0].message.startswith("corrupt archive entry")
    assert sum(isinstance(i, SourceRecord) for i in items) == 2


def test_json_lines_inside_a_zip_are_split_into_studies(tmp_path: Path) -> None:
    # each line is a whole study (kilobytes long): the format is told from the first line
    raws = sample_json_studies(3)
    archive = tmp_path / "lines.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("studies.jsonl", b"\n".join(orjson.dumps(json.loads(r)) for r in raws) + b"\n")
    items = list(read(archive))
    assert [i.origin.line for i in items] == [1, 2, 3]
    assert [nct(i.raw) for i in items] == [nct(r) for r in raws]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_entries_read_byte_exact_whatever_the_compression(tmp_path: Path, method: int) -> None:
    # deflate entries are inflated where they are parsed; the others are read by zipfile
    raws = sample_json_studies(3)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", method) as z:
        for r in raws:
            z.writestr(f"{nct(r)}.json", r)
    items = list(read(archive))
    assert [i.raw for i in items] == raws


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is not a registry file", "unknown format"),
    ],
)
def test_unreadable_sources_fail_with_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(SourceFailure, match=message):
        list(read(path))


def test_truncated_archive_and_missing_path(tmp_path: Path) -> None:
    full = (SAMPLE / "ctg-studies.json.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(SourceFailure, match="broken or truncated zip"):
        list(read(cut))
    with pytest.raises(SourceFailure, match="no such file"):
        list(read(tmp_path / "nope.zip"))


def test_invalid_xml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(b"<clinical_study>\n  <id_info>\n    <nct_id>NCT01234567</nct_id>\n  </id_inf>\n</clinical_study>\n")
    [item] = list(read(path))
    assert isinstance(item, Reject) and "invalid XML" in item.message
    assert item.origin.line == 4


def test_xml_with_wrong_root_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_bytes(b"<rss><channel/></rss>")
    [item] = list(read(path))
    assert isinstance(item, Reject) and "<rss>" in item.message
