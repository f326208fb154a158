"""Losslessness of the legacy results conversion over the shared data set.

For every legacy XML study with ``<clinical_results>`` in
``ctgov-extra/AllPublicXML-extra.zip`` it converts the results (``convert_results``) and
checks each XML leaf is kept (``coverage``); for every v2 JSON study with a
``resultsSection`` in ``ctgov/ctg-studies.json.zip`` it checks the record validates and
the resultsSection survives an ingest into SQLite unchanged. Prints one JSON object:
{studies, leaves, kept, dropped, examples_of_dropped, v2_studies, v2_ok, v2_failed,
convert_studies_per_s}. The target is dropped == 0 and v2_failed == [].

Usage: python benchmarks/results_coverage.py [SHARED_DATA_DIR] [--limit N]
(default data dir: ../shared/data next to the project root). Exits 2 when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson
from lxml import etree

from trialscope.ingest import ingest
from trialscope.record import RecordError, validate
from trialscope.sources.xml_results import Coverage, convert_results, coverage
from trialscope.store import open_store

ROOT = Path(__file__).resolve().parent.parent
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def xml_coverage(archive: Path, limit: int | None) -> tuple[int, Coverage, float]:
    total = Coverage()
    studies = 0
    convert_s = 0.0
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            data = z.read(name)
            if b"<clinical_results>" not in data:
                continue
            results = etree.fromstring(data, PARSER).find("clinical_results")
            if results is None:
                continue
            started = time.perf_counter()
            converted = convert_results(results)
            convert_s += time.perf_counter() - started
            report = coverage(results, converted)
            report.dropped = [(f"{name}:{path}", value) for path, value in report.dropped]
            total.add(report)
            studies += 1
            if limit and studies >= limit:
                break
    return studies, total, convert_s


def v2_roundtrip(archive: Path) -> tuple[int, list[str]]:
    """Ingest the v2 results studies into a scratch store; list those that do not survive."""
    failed: list[str] = []
    seen = 0
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(archive) as z:
        wanted = {}
        for name in z.namelist():
            record = orjson.loads(z.read(name))
            if "resultsSection" not in record:
                continue
            seen += 1
            try:
                validate(record)
            except RecordError as exc:
                failed.append(f"{name}: {exc}")
                continue
            wanted[record["protocolSection"]["identificationModule"]["nctId"]] = record
        store = open_store(str(Path(tmp) / "v2.db"))
        ingest(store, [str(archive)], progress=False)
        for nct, record in wanted.items():
            got = store.get(nct)
            if got is None or got.record.get("resultsSection") != record["resultsSection"]:
                failed.append(f"{nct}: resultsSection changed by ingest")
        store.close()
    return seen, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=None, help="stop after N XML results studies")
    args = parser.parse_args()
    data = Path(args.data)
    xml_zip = data / "ctgov-extra" / "AllPublicXML-extra.zip"
    json_zip = data / "ctgov" / "ctg-studies.json.zip"
    if not xml_zip.exists() or not json_zip.exists():
        print(json.dumps({"error": f"shared data absent under {data}; nothing measured"}))
        return 2
    studies, total, convert_s = xml_coverage(xml_zip, args.limit)
    v2_studies, v2_failed = v2_roundtrip(json_zip)
    print(json.dumps({
        "studies": studies,
        "leaves": total.leaves,
        "kept": total.kept,
        "dropped": len(total.dropped),
        "examples_of_dropped": total.dropped[:20],
        "convert_studies_per_s": round(studies / convert_s, 1) if convert_s else None,
        "v2_studies": v2_studies,
        "v2_ok": v2_studies - len(v2_failed),
        "v2_failed": v2_failed[:20],
    }, indent=1))
    return 0 if not total.dropped and not v2_failed else 1


if __name__ == "__main__":
    sys.exit(main())
