"""Losslessness (and fidelity) of the legacy results conversion over the shared data set.

For every legacy XML study with ``<clinical_results>`` in
``ctgov-extra/AllPublicXML-extra.zip`` and ``ctgov/AllPublicXML.zip`` it converts the results (``convert_results``) and
checks each XML leaf is kept (``coverage``). For every v2 JSON study with a
``resultsSection`` in ``ctgov/ctg-studies.json.zip`` it checks the record validates and the
resultsSection survives an ingest into SQLite unchanged. Studies present in both formats
are compared module by module with ClinicalTrials.gov's own v2 record (the JSON is a
later version, so sponsors' later edits show up as differences).

Prints one JSON object: {studies, leaves, kept, dropped, examples_of_dropped,
convert_ms_per_study (CPU), v2_studies, v2_ok, v2_failed, cross_format}. The target is
dropped == 0 and v2_failed == []. Exits 2 when the shared data is absent.

Usage: python benchmarks/results_coverage.py [SHARED_DATA_DIR] [--limit N]
(default data dir: ../shared/data next to the project root).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
from lxml import etree

from trialscope.ingest import ingest
from trialscope.record import RecordError, validate
from trialscope.sources.xml_results import Coverage, convert_results, coverage
from trialscope.store import open_store

ROOT = Path(__file__).resolve().parent.parent
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
NCT = re.compile(r"NCT\d{8}")


def v2_results(archive: Path) -> dict[str, tuple[str, dict]]:
    """NCT id -> (entry name, record) of every v2 study with a resultsSection."""
    found = {}
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            record = orjson.loads(z.read(name))
            if "resultsSection" in record:
                found[record["protocolSection"]["identificationModule"]["nctId"]] = (name, record)
    return found


def _xml_entries(archives: list[Path]) -> Iterator[tuple[str, bytes]]:
    """(entry name, bytes) of every archive entry that has posted results."""
    for archive in archives:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                data = z.read(name)
                if b"<clinical_results>" in data:
                    yield f"{archive.name}:{name}", data


def xml_coverage(archives: list[Path], official: dict[str, tuple[str, dict]], limit: int | None) -> dict:
    total = Coverage()
    studies = 0
    convert_s = 0.0
    compared = identical = 0
    differing: dict[str, int] = {}
    for name, data in _xml_entries(archives):
        results = etree.fromstring(data, PARSER).find("clinical_results")
        if results is None:
            continue
        started = time.process_time()
        converted = convert_results(results)
        convert_s += time.process_time() - started
        report = coverage(results, converted)
        report.dropped = [(f"{name}:{path}", value) for path, value in report.dropped]
        total.add(report)
        studies += 1
        match = NCT.search(name)
        if match and match.group() in official:
            reference = official[match.group()][1]["resultsSection"]
            for module in (set(reference) | set(converted)) - {"legacy"}:
                compared += 1
                if converted.get(module) == reference.get(module):
                    identical += 1
                else:
                    differing[module] = differing.get(module, 0) + 1
        if limit and studies >= limit:
            break
    return {
        "studies": studies,
        "leaves": total.leaves,
        "kept": total.kept,
        "dropped": len(total.dropped),
        "examples_of_dropped": total.dropped[:20],
        "convert_ms_per_study": round(convert_s / studies * 1000, 2) if studies else None,
        "cross_format": {"modules_compared": compared, "modules_identical": identical, "differing": differing},
    }


def v2_roundtrip(archive: Path, official: dict[str, tuple[str, dict]]) -> dict:
    """Ingest the v2 archive into a scratch store; list the results studies that do not survive."""
    failed: list[str] = []
    for name, record in official.values():
        try:
            validate(record)
        except RecordError as exc:
            failed.append(f"{name}: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "v2.db"))
        ingest(store, [str(archive)], progress=False)
        for nct, (_, record) in official.items():
            got = store.get(nct)
            if got is None or got.record.get("resultsSection") != record["resultsSection"]:
                failed.append(f"{nct}: resultsSection changed by ingest")
        store.close()
    return {"v2_studies": len(official), "v2_ok": len(official) - len(failed), "v2_failed": failed[:20]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=None, help="stop after N XML results studies")
    args = parser.parse_args()
    data = Path(args.data)
    xml_zips = [data / "ctgov-extra" / "AllPublicXML-extra.zip", data / "ctgov" / "AllPublicXML.zip"]
    json_zip = data / "ctgov" / "ctg-studies.json.zip"
    if not all(p.exists() for p in [*xml_zips, json_zip]):
        print(json.dumps({"error": f"shared data absent under {data}; nothing measured"}))
        return 2
    official = v2_results(json_zip)
    report = xml_coverage(xml_zips, official, args.limit) | v2_roundtrip(json_zip, official)
    print(json.dumps(report, indent=1))
    return 0 if not report["dropped"] and not report["v2_failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
