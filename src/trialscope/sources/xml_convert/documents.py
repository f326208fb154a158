"""What the study shares: its IPD sharing statement (ipdSharingStatementModule) and its
uploaded protocol, SAP and ICF documents (documentSection)."""

from __future__ import annotations

import re
from typing import Any

from .builder import Builder, Element, as_data, leaf_text
from .enums import IPD_INFO, IPD_SHARING
from .handlers import Handlers
from .text import markdown

HANDLERS = Handlers()


@HANDLERS.on("patient_data")
def _patient_data(b: Builder, el: Element) -> None:
    ipd = b.mod("ipdSharingStatementModule")
    for child in el:
        tag = child.tag
        path = f"patient_data/{tag}"
        if tag == "sharing_ipd":
            b.put_enum(ipd, "ipdSharing", path, leaf_text(child), IPD_SHARING)
        elif tag == "ipd_info_type":
            value = b.enum(path, leaf_text(child), IPD_INFO)
            if value:
                ipd.setdefault("infoTypes", []).append(value)
        elif tag in ("ipd_description", "ipd_access_criteria"):
            ipd["description" if tag == "ipd_description" else "accessCriteria"] = markdown(child.text or "")
        elif tag == "ipd_time_frame":
            ipd["timeFrame"] = leaf_text(child)
        elif tag == "ipd_url":
            ipd["url"] = leaf_text(child)
        elif isinstance(tag, str):
            b.keep(path, as_data(child))


_DOC_FLAGS = {"document_has_protocol": "hasProtocol", "document_has_sap": "hasSap", "document_has_icf": "hasIcf"}
_DOC_FILE = re.compile(r"([^/]+?)_[0-9]+\.[A-Za-z]+$")


@HANDLERS.on("provided_document_section")
def _provided_documents(b: Builder, el: Element) -> None:
    """Uploaded protocol/SAP/ICF documents -> v2 `documentSection.largeDocumentModule`."""
    docs = []
    for doc in el:
        if doc.tag != "provided_document":
            if isinstance(doc.tag, str):
                b.keep(f"provided_document_section/{doc.tag}", as_data(doc))
            continue
        path = b.index("provided_document_section/provided_document")
        entry: dict[str, Any] = {}
        for child in doc:
            tag = child.tag
            if tag == "document_type":
                entry["label"] = leaf_text(child)
            elif tag in _DOC_FLAGS:
                value = b.flag(f"{path}/{tag}", leaf_text(child))
                if value is not None:
                    entry[_DOC_FLAGS[tag]] = value
            elif tag == "document_date":
                value = b.date(f"{path}/{tag}", leaf_text(child))
                if value:
                    entry["date"] = value
            elif tag == "document_url":  # .../ProvidedDocs/31/NCT03949231/Prot_SAP_000.pdf
                url = leaf_text(child)
                b.keep(f"{path}/{tag}", url)
                filename = url.rsplit("/", 1)[-1]
                m = _DOC_FILE.match(filename)
                if m:
                    entry["typeAbbrev"] = m.group(1)
                    entry["filename"] = filename
            elif isinstance(tag, str):
                b.keep(f"{path}/{tag}", as_data(child))
        docs.append(entry)
    if docs:
        b.documents = docs
