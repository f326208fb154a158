"""Snippets: the summary's best fragment with the matched words marked, HTML-escaped."""

from __future__ import annotations

import html

import tantivy


def snippet(doc: tantivy.Document, gen) -> str | None:
    text = doc.get_first("summary")
    if not text:
        return None
    if gen is not None:
        sn = gen.snippet_from_doc(doc)
        frag = sn.fragment()
        ranges = [(r.start, r.end) for r in sn.highlighted()]
        if frag and ranges:
            raw = frag.encode("utf-8")
            out, pos = [], 0
            for a, b in sorted(ranges):
                if a < pos:
                    continue
                out.append(html.escape(raw[pos:a].decode("utf-8", "replace")))
                out.append("<mark>" + html.escape(raw[a:b].decode("utf-8", "replace")) + "</mark>")
                pos = b
            out.append(html.escape(raw[pos:].decode("utf-8", "replace")))
            return "".join(out).strip()
    plain = " ".join(text.split())
    if len(plain) > 240:
        plain = plain[:237].rsplit(" ", 1)[0] + "…"
    return html.escape(plain)
