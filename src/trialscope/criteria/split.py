"""The structure of an eligibility text: sections, lists, nesting and prose, with offsets.

Registries write criteria as numbered lists (`1.`, `1)`, `(1)`), lettered and roman lists
(`a.`, `A)`, `iii.`), bullets (`*`, `-`, `•`), lists nested by indentation or by a change
of marker (NCT03949231's exclusion 6 holds items A-D), runs of items on one line
(`B. ... C. ... D. ...`), prose (sentences, semicolons), and the old NCI layout of
`DISEASE CHARACTERISTICS:` / `Age:` / `Hepatic:` groups. Headings come in every spelling
("Inclusion Criteria:", "INCLUSION:", "Key inclusion criteria", "Exclusion criteria
include"), and sub-headings flip the sense ("Patients with the following are excluded:").
A text with no heading is inclusion.

`sections_of(text)` returns, per section, the tree of `Item`s with their spans in `text`; the
typing of each item's words is `kinds.py`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_ITEMS = 2000  # per text: a bounded result whatever the input
MAX_DEPTH = 6
MAX_LINE = 20_000  # a longer "line" is cut into pieces of this size first


@dataclass(slots=True)
class Item:
    start: int  # the item's own words in the text (after its marker)
    end: int
    label: str = ""
    style: str = ""
    group: str = ""
    children: list[Item] = field(default_factory=list)


@dataclass(slots=True)
class Sections:
    inclusion: list[Item] = field(default_factory=list)
    exclusion: list[Item] = field(default_factory=list)


# -- headings ---------------------------------------------------------------------------

_HEAD = re.compile(
    r"[\s*#_\-•>]*(?:\d{1,2}[.)]\s*|[A-Za-z][.)]\s+|[IVX]{1,4}[.)]\s*)?"
    r"(?:(?:key|main|major|general|specific|additional|other|principal|primary|secondary|"
    r"study|patient|subject|participant|detailed|summary\s+of)s?\s+)*"
    r"(?P<word>inclusion|inclusionary|exclusion|exclusionary|eligibility|ineligibility|"
    r"non-?inclusion|included|excluded|criteria\s+for\s+(?:inclusion|exclusion|eligibility)|"
    r"reasons?\s+for\s+exclusion)"
    r"(?P<crit>\s+(?:criteria|criterion|criterias|requirements?|conditions?))?",
    re.I,
)
_HEAD_TAIL = re.compile(
    r"\s*(?:(?:include|includes|included|are|is|consist\s+of|as\s+follows|will\s+include)\b\s*[:：\-]?"
    r"|[:：]|\s*-\s+|$)",
    re.I,
)
_QUALIFIED_TAIL = re.compile(r"[^:：\n.]{1,80}[:：]")


def heading(line: str) -> tuple[str, int] | None:
    """("inclusion" | "exclusion", offset where the content after it starts), or None."""
    m = _HEAD.match(line)
    if not m:
        return None
    word = m.group("word").lower()
    exclusion = word.startswith(("ex", "in", "non", "reason")) and not word.startswith("incl")
    if "for" in word:
        exclusion = "exclusion" in word
    section = "exclusion" if exclusion else "inclusion"
    rest = line[m.end():]
    rest_clean = rest.strip(" *_#\t")
    if not rest_clean:
        return section, len(line)
    t = _HEAD_TAIL.match(rest)
    if t and (t.group(0).strip() or not rest.strip()):
        after = m.end() + t.end()
        if after < len(line) and line[after - 1 : after] not in (":", "：", "-") and not line[m.end():after].strip():
            return None
        if word in ("included", "excluded") and line[m.end():after].strip() not in (":", "："):
            return None  # "Excluded are ..." is a sentence; "Excluded:" a sub-heading
        return section, after
    if m.group("crit") and (q := _QUALIFIED_TAIL.match(rest)):  # "Inclusion criteria for part 2:"
        return section, m.end() + q.end()
    return None


_EXCLUDE_CUE = re.compile(
    r"\b(?:exclu\w*|ineligible|not\s+(?:be\s+)?eligible|not\s+(?:be\s+)?(?:enrolled|included|"
    r"allowed|permitted|entered)|prohibited|disallowed|must\s+not|may\s+not|cannot|should\s+not)\b",
    re.I,
)
_ALLOW_CUE = re.compile(r"^\W*(?:allowed|permitted|recommended)\b", re.I)


def lead_in_section(line: str) -> str | None:
    """The sense a sub-heading gives the items under it: "exclusion", "allowed", or None."""
    if _EXCLUDE_CUE.search(line):
        return "exclusion"
    if _ALLOW_CUE.search(line):
        return "allowed"
    return None


# The old NCI (PDQ) layout: capitalised group headings, then labelled groups of items.
_PDQ_HEAD = re.compile(
    r"(?:DISEASE|PATIENT|PRIOR(?:/|\s+)CONCURRENT|PRIOR|CONCURRENT)\s+(?:CHARACTERISTICS|THERAPY|"
    r"TREATMENT|MEDICATIONS?)\s*:"
)
_PDQ_LABELS = (
    "Age", "Sex", "Menopausal status", "Performance status", "Life expectancy",
    "Hematopoietic", "Hepatic", "Renal", "Cardiovascular", "Pulmonary", "Neurologic",
    "Other", "Biologic therapy", "Chemotherapy", "Endocrine therapy", "Radiotherapy",
    "Surgery", "Hormone receptor status", "Immunologic", "Gastrointestinal",
    "Prior medication", "Concurrent medication", "Co-existing condition", "Risk behavior",
    "Allowed", "Excluded", "Required",
)
_PDQ_LABEL = re.compile(r"(?<![\w-])(" + "|".join(re.escape(x) for x in _PDQ_LABELS) + r")\s*:\s*")

# -- list markers ----------------------------------------------------------------------

_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii",
          "xiv", "xv", "xvi", "xvii", "xviii", "xix", "xx")
_MARKER = re.compile(
    r"(?P<m>"
    r"(?P<dotted>[0-9]{1,2}(?:\.[0-9]{1,2})+)\.?(?=\s)"
    r"|(?P<num>[0-9]{1,2})(?P<np>[.)、](?![0-9])|\s*-\s)"
    r"|\((?P<pnum>[0-9]{1,2})\)"
    r"|(?P<rom>(?=[ivxIVX])x?(?:ix|iv|v?i{0,3})|(?=[IVX])X?(?:IX|IV|V?I{0,3}))(?P<rp>[.)])(?=\s)"
    r"|\((?P<prom>(?=[ivxIVX])x?(?:ix|iv|v?i{0,3})|(?=[IVX])X?(?:IX|IV|V?I{0,3}))\)"
    r"|(?P<let>[A-Za-z])(?P<lp>[.)])(?=\s|[A-Z])"
    r"|\((?P<plet>[A-Za-z])\)"
    r"|(?P<bul>[*\-•·▪◦●○■□➢►‣⁃–—→✓✔]|o(?=\s))(?=\s)"
    r")[ \t]*"
)


@dataclass(slots=True)
class Marker:
    style: str
    label: str
    end: int  # where the item's words start, relative to the line


def marker(line: str, open_styles) -> Marker | None:
    """The list marker a line starts with. Letters and roman numerals only count where a
    list can start ("a", "i") or where they continue an open list, so "U.S. sites" or
    "I. Inclusion" do not start lists by accident. `open_styles` maps each open list's
    style to its last label (or is a function returning that map, called only if needed)."""
    m = _MARKER.match(line)
    if not m or m.group("m") == "":
        return None
    g = m.groupdict()
    if callable(open_styles) and (g["rom"] or g["prom"] or g["let"] or g["plet"]):
        open_styles = open_styles()
    if g["dotted"]:
        depth = g["dotted"].count(".")
        return Marker(f"dotted{depth}", g["dotted"], m.end())
    if g["num"]:
        style = "num" + ("." if g["np"] in (".", "、") else ")" if g["np"] == ")" else "-")
        return Marker(style, g["num"], m.end())
    if g["pnum"]:
        return Marker("(num)", g["pnum"], m.end())
    for key, paren in (("rom", False), ("prom", True)):
        rom = g[key]
        if rom and len(rom) == 1:  # "i" after "h" continues a lettered list
            let_style = ("(let)" if paren else "let" + (g["rp"] or "")) + ("U" if rom.isupper() else "")
            last = open_styles.get(let_style)
            if last is not None and _successor(last, let_style) == rom.lower():
                return Marker(let_style, rom, m.end())
        if rom:
            style = ("(rom)" if paren else "rom" + g["rp"]) + ("U" if rom.isupper() else "")
            if _starts_or_continues(style, rom.lower(), open_styles, _ROMAN):
                return Marker(style, rom, m.end())
            if len(rom) > 1:
                return None
    for key, paren in (("let", False), ("plet", True)):
        let = g[key]
        if let:
            style = ("(let)" if paren else "let" + g["lp"]) + ("U" if let.isupper() else "")
            if _starts_or_continues(style, let.lower(), open_styles, None):
                return Marker(style, let, m.end())
            return None
    if g["bul"]:
        return Marker("bullet" + g["bul"], "", m.end())
    return None


def _starts_or_continues(style: str, label: str, open_styles: dict[str, str], seq) -> bool:
    first = "i" if seq else "a"
    if label == first:
        return True
    last = open_styles.get(style)
    return last is not None and _successor(last, style) == label


def _successor(label: str, style: str) -> str | None:
    low = label.lower()
    if style.startswith(("num", "(num)")):
        return str(int(label) + 1) if label.isdigit() else None
    if "rom" in style:
        i = _ROMAN.index(low) if low in _ROMAN else -1
        return _ROMAN[i + 1] if 0 <= i < len(_ROMAN) - 1 else None
    if "let" in style and len(low) == 1 and low < "z":
        return chr(ord(low) + 1)
    return None


# -- the tree ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    style: str
    indent: int
    items: list[Item]


class _Builder:
    def __init__(self, text: str):
        self.text = text
        self.sections = Sections()
        self.base = "inclusion"  # the section the last heading opened
        self.current = "inclusion"  # the sense of items now (a sub-heading may flip it)
        self.group = ""
        self.count = 0
        self._reset()

    def _reset(self) -> None:
        target = getattr(self.sections, self.current)
        # a section met again (after a sub-heading) continues its list
        style = target[-1].style if target and target[-1].style != "prose" else ""
        self.stack: list[_Frame] = [_Frame(style, -1, target)]

    def open_styles(self) -> dict[str, str]:
        return {f.style: f.items[-1].label for f in self.stack if f.style and f.items}

    def set_section(self, section: str, group: str = "", base: bool = False) -> None:
        if base:
            self.base = section
        self.current = section
        self.group = group
        self._reset()

    def last(self) -> Item | None:
        top = self.stack[-1]
        return top.items[-1] if top.items else None

    def deepest(self) -> Item | None:
        for frame in reversed(self.stack):
            if frame.items:
                return frame.items[-1]
        return None

    def add(self, item: Item, indent: int) -> None:
        if self.count >= MAX_ITEMS:
            return
        self.count += 1
        item.group = self.group
        # a sibling in an open list of the same style at about the same indentation, or a
        # new list under the last item (a deeper bullet, or another kind of marker)
        for i in range(len(self.stack) - 1, -1, -1):
            frame = self.stack[i]
            if frame.style == item.style and frame.items and (frame.indent < 0 or abs(indent - frame.indent) <= 1):
                del self.stack[i + 1 :]
                frame.items.append(item)
                return
        while len(self.stack) > 1 and indent < self.stack[-1].indent - 1:
            self.stack.pop()
        top = self.stack[-1]
        if not top.items:
            top.style, top.indent = item.style, indent
            top.items.append(item)
            return
        parent = top.items[-1]
        if len(self.stack) > MAX_DEPTH:
            top.items.append(item)
            return
        self.stack.append(_Frame(item.style, indent, parent.children))
        parent.children.append(item)

    def add_item(self, start: int, end: int) -> None:
        """One unmarked item at the top of the current list (a piece of run-on text)."""
        if self.count >= MAX_ITEMS:
            return
        self.count += 1
        del self.stack[1:]
        self.stack[0].items.append(Item(start, end, style="prose", group=self.group))

    def add_prose(self, start: int, end: int) -> None:
        """Unmarked text with no item open: one item per sentence or semicolon clause."""
        top = self.stack[0]
        del self.stack[1:]
        for ss, se in sentences(self.text, start, end):
            for s, e in _run_on(self.text, ss, se) if se - ss > 150 else ((ss, se),):
                if self.count >= MAX_ITEMS:
                    return
                self.count += 1
                top.items.append(Item(s, e, style="prose", group=self.group))


_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[\"'(\[]?[A-Z0-9])|;\s*|\s+-\s+(?=[A-Z])")
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|vs|etc|approx|dr|mr|mrs|ms|no|al|st|fig|incl|resp|min|max|cf|ca)\.|\b[0-9]+\.)$", re.I)


def sentences(text: str, start: int, end: int):
    """(start, end) of each sentence or semicolon clause in text[start:end]."""
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        piece = text[pos:m.start()]
        if m.group(0).strip() != ";" and _ABBREV.search(piece):
            continue
        if piece.strip():
            yield _trim(text, pos, m.start())
        pos = m.end()
    if text[pos:end].strip():
        yield _trim(text, pos, end)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_LINE = re.compile(r"[^\n]*")


def _lines(text: str):
    """(start, end) of each line; overlong lines are cut so every step stays bounded."""
    for m in _LINE.finditer(text):
        s, e = m.span()
        if s == e and s > 0 and text[s - 1 : s] != "\n":
            continue
        while e - s > MAX_LINE:
            yield s, s + MAX_LINE
            s += MAX_LINE
        yield s, e


def _indent(text: str, start: int, end: int) -> int:
    n = 0
    for ch in text[start:end]:
        if ch == " ":
            n += 1
        elif ch == "\t":
            n += 4
        else:
            break
    return n


_GROUP_LABEL = re.compile(r"[A-Z][A-Za-z/&,\- ]{1,40}")


def sections_of(text: str | None) -> Sections:
    """The sections of an eligibility text, each a list of items (nested by `children`)."""
    if not text:
        return Sections()
    b = _Builder(text)
    lines = [(s, e) for s, e in _lines(text)]
    # an inline heading names "criteria": in ASCII text (the lower case keeps the offsets) a
    # line without that word needs no search for one (the search scans every space)
    low = text.lower() if text.isascii() else None
    blank_before = True
    i = 0
    while i < len(lines):
        s, e = lines[i]
        i += 1
        indent = _indent(text, s, e)
        s += len(text[s:e]) - len(text[s:e].lstrip())
        while e > s and text[e - 1].isspace():
            e -= 1
        if s >= e:
            blank_before = True
            continue
        cut = None if low is not None and low.find("criteria", s + 1, e) < 0 else _INLINE_HEAD.search(text, s + 1, e)
        if cut is not None and _WORDY.search(text, s, cut.start()):  # "... 0-1. Exclusion Criteria: ..."
            lines.insert(i, (cut.end(), e))
            e = cut.start()
        _line(b, text, s, e, indent, blank_before, lambda i=i: _peek(text, lines, i, b))
        blank_before = False
    _split_runs(text, b.sections.inclusion)
    _split_runs(text, b.sections.exclusion)
    return b.sections


_WORDY = re.compile(r"[A-Za-z]{2}")
_INLINE_HEAD = re.compile(r"(?<=\S)\s+(?=(?:(?:key|main|major)\s+)?(?:inclusion|exclusion)\s+criteria\s*[:：])", re.I)


def _peek(text: str, lines, i: int, b: _Builder) -> Marker | None:
    """The marker of the next non-blank line (to tell a lead-in from a continuation)."""
    for s, e in lines[i : i + 3]:
        line = text[s:e].strip()
        if line:
            return marker(line, b.open_styles)
    return None


def _line(b: _Builder, text: str, s: int, e: int, indent: int, blank_before: bool, peek) -> None:
    """One non-blank line; `peek()` gives the next line's marker (asked only when needed)."""
    line = text[s:e]
    head = heading(line)
    if head is not None:
        section, after = head
        word_line = line[:after].lower()
        if "excluded" in word_line or "included" in word_line and "criteria" not in word_line:
            b.set_section(section, group=line[:after].strip(" :：*#_"))
        else:
            b.set_section(section, base=True)
        rest = s + after
        while rest < e and text[rest] in " \t:：*_-":
            rest += 1
        if rest < e:
            _line(b, text, rest, e, indent, True, peek)
        return
    pdq = _PDQ_HEAD.match(line)
    if pdq:
        b.set_section(b.base, group=line[: pdq.end()].rstrip(" :").capitalize())
        if s + pdq.end() < e:
            _pdq_content(b, text, s + pdq.end(), e)
        return
    mk = marker(line, b.open_styles)
    if mk is not None:
        ws = s + mk.end
        if ws >= e:  # a marker alone on its line: the words follow
            ws = e
        b.add(Item(ws, e, label=mk.label, style=mk.style), indent)
        return
    # unmarked words: a sub-heading, a group label, a continuation, or prose
    stripped = line.rstrip(" *_")
    if stripped.endswith((":", "：")) and len(stripped) <= 200:
        next_marker = peek()
        sense = lead_in_section(stripped)
        open_item = b.deepest()
        root = b.stack[0]
        same_style = next_marker is not None and next_marker.style == root.style
        if sense is not None or open_item is None or same_style or next_marker is None and blank_before:
            section = b.base if sense in (None, "allowed") else sense
            b.set_section(section, group=stripped.rstrip(":：").strip(" *_"))
            if sense == "allowed":
                b.group = "Allowed: " + b.group if not b.group.lower().startswith("allowed") else b.group
            return
        open_item.end = e
        return
    if (blank_before and len(stripped) <= 42 and _GROUP_LABEL.fullmatch(stripped)
            and len(stripped.split()) <= 5 and peek() is not None):
        b.set_section(b.current, group=stripped)
        return
    open_item = b.deepest()
    prose_paragraph = blank_before and (open_item is None or open_item.style == "prose" or
                                        (len(b.stack) == 1 and not b.stack[0].style))
    if open_item is not None and open_item.style == "prose" and not blank_before:
        # unmarked criteria one a line: a new line opens a new one unless it carries on a
        # sentence wrapped mid-way (no closing punctuation before, lower case after)
        ends_sentence = text[open_item.end - 1: open_item.end] in ".;:!?"
        prose_paragraph = ends_sentence or line[:1].isupper() or line[:1].isdigit()
    if open_item is not None and not prose_paragraph:
        open_item.end = e  # a continuation of the item above
        return
    b.add_prose(s, e)


def _pdq_content(b: _Builder, text: str, s: int, e: int) -> None:
    """Run-on PDQ text ("Age: 18 and over Performance status: ECOG 0-1 ..."): one item per
    label, its words split further at inline bullets."""
    labels = list(_PDQ_LABEL.finditer(text, s, e))
    pieces: list[tuple[str, int, int]] = []
    if not labels or labels[0].start() > s:
        pieces.append(("", s, labels[0].start() if labels else e))
    for k, m in enumerate(labels):
        end = labels[k + 1].start() if k + 1 < len(labels) else e
        pieces.append((m.group(1), m.end(), end))
    group = b.group
    for label, ps, pe in pieces:
        sense = lead_in_section(label) if label else None
        b.current = "exclusion" if sense == "exclusion" else b.base
        b._reset()
        b.group = f"{group}: {label}" if label else group
        for bs, be in _inline_bullets(text, ps, pe):
            b.add_item(bs, be)
    b.group = group


_INLINE_BULLET = re.compile(r"\s(?:-|\*|•)\s+(?=\S)")
# Where the line breaks of an old NCI text were lost, items run on: "... 100,000/mm3 Platelet
# count ..."; a new item starts at a capitalised word that typically opens one, after a word
# that cannot end a name ("No New York Heart Association" stays whole).
_ITEM_OPENERS = (
    "No|Not|At least|At most|Must|Prior|Concurrent|Negative|Positive|Fertile|Absolute|Platelets?|"
    "Hemoglobin|Hematocrit|Bilirubin|SGOT|SGPT|AST|ALT|Alkaline|Creatinine|WBC|Granulocytes?|Recovered|"
    "Greater|Less|More than|Over|Under|Zubrod|Karnofsky|ECOG|WHO|HIV|Any|See|Measurable|Histologically|"
    "Cytologically|Pathologically|Clinically|Documented|Diagnosis|Willing|Able|Life expectancy|"
    "Patients?|LVEF|Ejection|Adequate|Normal|History|Previously|Other|PT|INR|Albumin|Hepatitis|May|"
    "Only|Inoperable|Unresectable|Evaluable|Estrogen|Progesterone|Hormone|Menopausal|Postmenopausal|"
    "Premenopausal|Serum|Urine|Total|Calcium|Glucose|Lymphocytes?|CD4|Neutrophils?|Ability|Eligible|"
    "Primary|Metastatic|Recurrent|Refractory|Newly|Confirmed|Biopsy|Presence|Absence|Currently|"
    "Previous|Completion|Completed|Resolved|Received|Recovery|Except|Allowed|Required|Pregnant|"
    "Nursing|Effective|Ambulatory|Disease-free|Chemotherapy|Radiotherapy|Surgery|Stage|Grade"
)
_RUN_ON = re.compile(r"(?<=[A-Za-z0-9)%\]])\s+(?=(?:" + _ITEM_OPENERS + r")\b(?![-,]))")


def _inline_bullets(text: str, s: int, e: int):
    """Pieces of run-on PDQ text: at inline bullets, then where a new item opens."""
    pos = s
    for m in _INLINE_BULLET.finditer(text, s, e):
        if text[pos:m.start()].strip():
            yield from _run_on(text, pos, m.start())
        pos = m.end()
    if text[pos:e].strip():
        yield from _run_on(text, pos, e)


_JOINS = ("and", "or", "of", "to", "with", "than", "by", "the", "a", "an", "nor", "for", "in", "on", "at")


def _run_on(text: str, s: int, e: int):
    pos = s
    for m in _RUN_ON.finditer(text, s, e):
        if text[max(s, m.start() - 5): m.start()].rsplit(" ", 1)[-1].lower() in _JOINS:
            continue  # "AST and ALT" is one item
        if text[pos:m.start()].strip():
            yield _trim(text, pos, m.start())
        pos = m.end()
    if text[pos:e].strip():
        yield _trim(text, pos, e)


def _split_runs(text: str, items: list[Item]) -> None:
    """Items written on one line ("B. Renal failure. C. Known severe atheromatosis.") become
    siblings, where the next label in the sequence is not already a sibling."""
    i = 0
    while i < len(items):
        item = items[i]
        _split_runs(text, item.children)
        nxt = _successor(item.label, item.style) if item.label else None
        if nxt and not (i + 1 < len(items) and items[i + 1].label.lower() == nxt.lower()):
            found = _scan_inline(text, item, nxt)
            if found is not None:
                items.insert(i + 1, found)
        i += 1


def _scan_inline(text: str, item: Item, label: str) -> Item | None:
    if item.style.startswith("num"):
        label_re = re.escape(label) + r"[.)](?![0-9])"
    elif item.style.startswith("("):
        label_re = r"\(" + re.escape(label) + r"\)"
    else:
        want = label.upper() if item.label.isupper() else label.lower()
        label_re = re.escape(want) + re.escape(item.style[3:4] or ".")
    pattern = re.compile(r"(?<=[.;,:!?])\s+(" + label_re + r")\s*(?=\S)")
    m = pattern.search(text, item.start, item.end)
    if m is None:
        return None
    new = Item(m.end(), item.end, label=label.upper() if item.label.isupper() else label,
               style=item.style, group=item.group)
    item.end = _trim(text, item.start, m.start())[1]
    return new
