"""referencesModule: references (background and results), see-also links and the
available IPD documents."""

from __future__ import annotations

from .builder import Builder, Element, as_data, child_fields
from .handlers import Handlers
from .text import markdown

_REFERENCE_FIELDS = frozenset(("PMID", "citation"))


HANDLERS = Handlers()


@HANDLERS.on("reference", "results_reference")
def _reference(b: Builder, el: Element) -> None:
    fields = child_fields(b, el, b.index(el.tag), _REFERENCE_FIELDS)
    ref: dict[str, str] = {}
    if fields.get("PMID"):
        ref["pmid"] = fields["PMID"]
    ref["type"] = "RESULT" if el.tag == "results_reference" else "BACKGROUND"
    if fields.get("citation"):
        ref["citation"] = fields["citation"]
    b.mod("referencesModule").setdefault("references", []).append(ref)


_LINK_FIELDS = frozenset(("url", "description"))


@HANDLERS.on("link")
def _link(b: Builder, el: Element) -> None:
    fields = child_fields(b, el, b.index("link"), _LINK_FIELDS)
    link: dict[str, str] = {}
    if fields.get("description"):
        link["label"] = markdown(fields["description"])
    link["url"] = fields.get("url", "")
    b.mod("referencesModule").setdefault("seeAlsoLinks", []).append(link)


_DOC_KEYS = {"doc_id": "id", "doc_type": "type", "doc_url": "url", "doc_comment": "comment"}
_DOC_FIELDS = frozenset(_DOC_KEYS)


@HANDLERS.on("study_docs")
def _study_docs(b: Builder, el: Element) -> None:
    docs = b.mod("referencesModule").setdefault("availIpds", [])
    for doc in el:
        if doc.tag == "study_doc":
            fields = child_fields(b, doc, b.index("study_docs/study_doc"), _DOC_FIELDS)
            docs.append({_DOC_KEYS[tag]: value for tag, value in fields.items()})
        elif isinstance(doc.tag, str):
            b.keep(f"study_docs/{doc.tag}", as_data(doc))
