"""Atom (RFC 4287) documents, built with lxml so every value is escaped as XML.

Record text is untrusted: besides escaping, characters XML 1.0 cannot carry at all (most
control characters) are dropped, so a hostile title can never make the feed ill-formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


@dataclass(slots=True)
class AtomEntry:
    id: str
    title: str
    link: str
    updated: str  # RFC 3339
    summary: str
    content_lines: list[str] = field(default_factory=list)
    category: str | None = None
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (rel, href, title)


def feed(*, feed_id: str, title: str, self_url: str, html_url: str, updated: str,
         subtitle: str, entries: list[AtomEntry]) -> bytes:
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})

    def sub(parent, tag: str, text: str | None = None, **attrs: str):
        el = etree.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_text(text)
        return el

    sub(root, "id", feed_id)
    sub(root, "title", title)
    sub(root, "subtitle", subtitle)
    sub(root, "updated", updated)
    sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(root, "link", rel="alternate", type="text/html", href=html_url)
    author = sub(root, "author")
    sub(author, "name", "trialscope")
    sub(root, "generator", "trialscope")
    for e in entries:
        el = sub(root, "entry")
        sub(el, "id", e.id)
        sub(el, "title", e.title)
        sub(el, "updated", e.updated)
        sub(el, "link", rel="alternate", type="text/html", href=e.link)
        for rel, href, link_title in e.links:
            sub(el, "link", rel=rel, type="text/html", href=href, title=link_title)
        if e.category:
            sub(el, "category", term=e.category)
        sub(el, "summary", e.summary, type="text")
        if e.content_lines:
            content = sub(el, "content", type="xhtml")
            div = etree.SubElement(content, "{http://www.w3.org/1999/xhtml}div",
                                   nsmap={None: "http://www.w3.org/1999/xhtml"})
            ul = etree.SubElement(div, "{http://www.w3.org/1999/xhtml}ul")
            for line in e.content_lines:
                li = etree.SubElement(ul, "{http://www.w3.org/1999/xhtml}li")
                li.text = xml_text(line)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
