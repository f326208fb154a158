"""Legacy ClinicalTrials.gov XML (`clinical_study`, public.xsd), converted to API v2."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..record import RecordError
from .base import Origin, Reject, SourceRecord
from .xml_convert import convert_study

# remove_blank_text: the exporter's indentation between elements is never read (a leaf's own
# text, blank or not, is kept), and a tree without it is cheaper to build and to walk (about
# 10% of the conversion on the shared corpus; the converted records are byte-identical)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=True)


def read_document(data: bytes, origin: Origin) -> Iterator[SourceRecord | Reject]:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        yield Reject(Origin(origin.path, origin.entry, line), f"invalid XML: {exc.msg}")
        return
    if root.tag != "clinical_study":
        yield Reject(origin, f"XML root is <{root.tag}>, expected <clinical_study>")
        return
    nct = root.findtext("id_info/nct_id")
    try:
        record = convert_study(root)
        results = root.find("clinical_results")
        if results is not None:
            from .xml_results import convert_results

            record["resultsSection"] = convert_results(results)
            record["hasResults"] = True
    except RecordError as exc:
        yield Reject(origin, str(exc), nct)
        return
    yield SourceRecord(record, data, origin, "xml")
