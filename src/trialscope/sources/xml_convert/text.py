"""Free text as v2 stores it: markdown characters escaped, and the XML exporter's wrapped,
indented blocks re-flowed into one line per paragraph or list item."""

from __future__ import annotations

import re

# v2 stores free text as markdown and escapes these characters in it.
_MD_SPECIAL = re.compile(r"[\\<>\[\]&*^~]")
_MD_ESCAPE = str.maketrans({c: "\\" + c for c in "\\<>[]&*^~"})
_ITEM = re.compile(r"(-|\*|•|[0-9]{1,3}[.)])\s+")
_ITEM_START = frozenset("-*•0123456789")  # the characters an _ITEM match can begin with


def markdown(text: str) -> str:
    """Plain text as v2 stores it: stripped, markdown characters escaped (`<` -> `\\<`)."""
    text = text.strip()
    return text.translate(_MD_ESCAPE) if _MD_SPECIAL.search(text) else text


def textblock(text: str) -> str:
    """Re-flow an XML text block the way v2 stores it (markdown).

    The XML exporter indented everything, wrapped lines at about 100 columns, put a blank
    line between list items and wrote bullets as `-`. v2 holds one line per paragraph or
    list item, bullets as `* `, nested items indented two spaces per level, and no blank
    line between items of the same list.
    """
    blocks: list[tuple[int, str, list[str]]] = []  # (level or -1 for a paragraph, marker, words)
    columns: list[int] = []  # content column of each open list level
    open_block = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            open_block = False
            continue
        # most lines are wrapped prose: try the item pattern only where one could start
        item = _ITEM.match(stripped) if stripped[0] in _ITEM_START else None
        if open_block and item is None:
            blocks[-1][2].append(stripped)
            continue
        indent = len(line) - len(line.lstrip())
        if item is None:
            while columns and columns[-1] > indent:
                columns.pop()
            if columns and columns[-1] != indent:  # not a paragraph inside an open item
                columns.clear()
            blocks.append((-1, "", [stripped]))
        else:
            column = indent + item.end()
            while columns and columns[-1] >= column:
                columns.pop()
            marker = item.group(1)
            blocks.append((len(columns), "*" if marker in "-*•" else marker, [stripped[item.end():]]))
            columns.append(column)
        open_block = True
    out: list[str] = []
    previous = -1
    for level, marker, words in blocks:
        body = " ".join(words)
        if _MD_SPECIAL.search(body):
            body = body.translate(_MD_ESCAPE)
        if out:
            out.append("\n" if level >= 0 and previous >= 0 and level <= previous else "\n\n")
        out.append(f"{'  ' * level}{marker} {body}" if level >= 0 else body)
        previous = level
    return "".join(out)
