"""Server-side SVG charts: bars or dots with whiskers, and completion bars. Every piece
of record text is escaped here; plain attributes and classes (no ``style``) keep them within
the page's strict CSP."""

from __future__ import annotations

import math
import os

from markupsafe import Markup, escape

from .table import EMPTY, PALETTE, Cell, Group
from .values import fmt, pct_text

W = 720.0  # viewBox width
LABEL_R = 210.0  # labels end here (text-anchor end)
X1 = 500.0  # plot area's right end (it starts after the labels)
VAL_X = 510.0  # value labels start here (up to ~30 characters)
BAR_H = 16.0
BAR_GAP = 4.0
BLOCK_GAP = 12.0
TOP = 8.0
AXIS_H = 34.0
LEGEND_ROW = 16.0


def _nice(x: float, round_: bool) -> float:
    if x <= 0:
        return 1.0
    e = math.floor(math.log10(x))
    f = x / 10 ** e
    if round_:
        nf = 1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10
    else:
        nf = 1 if f <= 1 else 2 if f <= 2 else 5 if f <= 5 else 10
    return nf * 10 ** e


def ticks(lo: float, hi: float, n: int = 5) -> tuple[float, float, list[float]]:
    """A nice axis covering [lo, hi]: (start, end, ticks)."""
    if hi <= lo:
        hi = lo + 1.0
    span = _nice(hi - lo, False)
    step = _nice(span / (n - 1), True)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    out = []
    t = start
    k = 0
    while t <= end + step * 1e-9 and k < 50:
        out.append(round(t, 12))
        k += 1
        t = start + k * step
    return start, end, out


def _label_width(titles) -> float:
    """Room for bar labels (clipped at 28 characters, ~7.2 units a character at size 12)."""
    longest = max((min(len(t), 28) for t in titles), default=0)
    return min(LABEL_R, max(40.0, 7.2 * longest + 4))


def _clip_mid(text: str, limit: int) -> str:
    """Group names often differ at the end ("Drug 10 mg" / "Drug 20 mg"): keep both ends."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head].rstrip() + "…" + text[-tail:].lstrip()


def _clip_all(titles: list[str], limit: int) -> dict[str, str]:
    """title -> its label, each clipped with `_clip_mid`; where two clip alike ("Cohort A:
    Sorafenib…800 mg" twice), those show what tells them apart, after their shared opening."""
    out = {t: _clip_mid(t, limit) for t in titles}
    seen: dict[str, list[str]] = {}
    for t, c in out.items():
        seen.setdefault(c, []).append(t)
    for group in (g for g in seen.values() if len(g) > 1):
        common = len(os.path.commonprefix(group))
        for t in group:
            rest = t[max(0, common - 4):]
            out[t] = "…" + _clip_mid(rest, limit - 1) if common > 4 else _clip_mid(rest, limit)
    return out


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def bar_chart(title: str, groups: list[Group], rows: list[tuple[str, list[Cell]]],
              unit: str, *, kind: str = "bars", anchor: str = "c",
              percent: bool = False) -> Markup:
    """Horizontal bars (kind "bars") or dots with intervals (kind "dots"), one per group in
    each row; whiskers where a cell has lo/hi. One row: group names label the bars; several
    rows: row labels head each block and a legend names the groups. Every piece of record
    text is escaped here."""
    single = len(rows) == 1
    values = [c.value for _, cells in rows for c in cells if c.value is not None]
    ends = [x for _, cells in rows for c in cells for x in (c.lo, c.hi) if x is not None]
    lo = min([0.0] + values + ends)
    hi = max([0.0] + values + ends)
    if percent:
        hi = max(hi, 1.0)
    start, end, tks = ticks(lo, hi)
    # one row: group names label the bars, as wide as the longest needs (at most LABEL_R);
    # several: row labels head each block and the bars can start at the left edge
    lab_r = _label_width(g.title for g in groups) if single else 4.0
    x0 = lab_r + 8.0
    scale = (X1 - x0) / (end - start)

    def x(v: float) -> float:
        return x0 + (v - start) * scale

    ng = len(groups)
    bar_h = BAR_H if (single or ng <= 2) else 11.0
    legend = not single
    # legend columns: as many as the longest group name allows (3, 2 or 1)
    longest = max((len(g.title) for g in groups), default=0)
    cols = 3 if longest <= 31 else 2 if longest <= 48 else 1
    col_w, col_chars = {3: (236.0, 31), 2: (354.0, 48), 1: (708.0, 100)}[cols]
    legend_h = (math.ceil(ng / cols) * LEGEND_ROW + 4) if legend else 0.0
    block_h = ng * (bar_h + BAR_GAP) - BAR_GAP
    label_h = 0.0 if single else 14.0
    plot_top = TOP + legend_h
    height = plot_top + len(rows) * (label_h + block_h + BLOCK_GAP) + AXIS_H
    out: list[str] = []
    a = out.append
    title_e = escape(title)
    a(f'<svg xmlns="http://www.w3.org/2000/svg" class="rchart rchart-{kind}" '
      f'viewBox="0 0 {_n(W)} {_n(height)}" width="{_n(W)}" height="{_n(height)}" '
      f'role="img" aria-labelledby="t-{anchor}" font-size="12" '
      f'font-family="system-ui, sans-serif"><title id="t-{anchor}">{title_e}</title>')
    legend_labels = _clip_all([g.title for g in groups], col_chars)
    bar_labels = _clip_all([g.title for g in groups], 28)
    if legend:
        for i, g in enumerate(groups):
            lx = 8 + (i % cols) * col_w
            ly = TOP + (i // cols) * LEGEND_ROW
            a(f'<rect class="sw {g.css}" fill="{PALETTE[g.color % len(PALETTE)]}" x="{_n(lx)}" '
              f'y="{_n(ly)}" width="10" height="10"/><text x="{_n(lx + 14)}" y="{_n(ly + 9)}">'
              f'<title>{escape(g.title)}</title>{escape(legend_labels[g.title])}</text>')
    bottom = height - AXIS_H + 4
    # grid and axis
    for t in tks:
        tx = x(t)
        cls = "zero" if t == 0 else "grid"
        a(f'<line class="{cls}" x1="{_n(tx)}" x2="{_n(tx)}" y1="{_n(plot_top - 2)}" '
          f'y2="{_n(bottom)}" stroke="{"#555" if t == 0 else "#ddd"}"/>'
          f'<text class="tick" x="{_n(tx)}" y="{_n(bottom + 13)}" text-anchor="middle">'
          f'{fmt(t)}</text>')
    if unit:
        a(f'<text class="axis" x="{_n((x0 + X1) / 2)}" y="{_n(bottom + 27)}" '
          f'text-anchor="middle">{escape(_clip(unit, 80))}</text>')
    y = plot_top
    zero_x = x(0.0) if start <= 0 <= end else x0
    for label, cells in rows:
        if not single:
            a(f'<text class="rowlabel" x="4" y="{_n(y + 10)}"><title>{escape(label)}</title>'
              f'{escape(_clip(label or "—", 100))}</text>')
            y += label_h
        for gi, g in enumerate(groups):
            c = cells[gi] if gi < len(cells) else EMPTY
            cy = y + bar_h / 2
            color = PALETTE[g.color % len(PALETTE)]
            a('<g class="bar-row">')
            if single:
                a(f'<text class="glabel" x="{_n(lab_r)}" y="{_n(cy + 4)}" text-anchor="end">'
                  f'<title>{escape(g.title)}</title>{escape(bar_labels[g.title])}</text>')
            if c.value is None:
                a(f'<text class="na" x="{_n(zero_x + 4)}" y="{_n(cy + 4)}">'
                  f'{escape(_clip(c.text, 60))}</text></g>')
                y += bar_h + BAR_GAP
                continue
            vx = x(c.value)
            if kind == "bars":
                bx, bw = (zero_x, vx - zero_x) if vx >= zero_x else (vx, zero_x - vx)
                a(f'<rect class="bar {g.css}" fill="{color}" x="{_n(bx)}" y="{_n(y)}" '
                  f'width="{_n(max(bw, 0.8))}" height="{_n(bar_h)}"><title>'
                  f'{escape(g.title)}: {escape(c.text)}</title></rect>')
            w_lo = x(c.lo) if c.lo is not None else None
            w_hi = x(c.hi) if c.hi is not None else None
            if c.open_hi:
                w_hi = X1 + 6
            if c.open_lo:
                w_lo = x0 - 4
            if w_lo is not None or w_hi is not None:
                l_ = w_lo if w_lo is not None else vx
                r_ = w_hi if w_hi is not None else vx
                a(f'<line class="whisker" x1="{_n(l_)}" x2="{_n(r_)}" y1="{_n(cy)}" '
                  f'y2="{_n(cy)}" stroke="#222"/>')
                for wx, is_open, sign in ((w_lo, c.open_lo, -1), (w_hi, c.open_hi, 1)):
                    if wx is None:
                        continue
                    if is_open:
                        a(f'<path class="whisker" d="M{_n(wx - 5 * sign)} {_n(cy - 4)}'
                          f'L{_n(wx)} {_n(cy)}L{_n(wx - 5 * sign)} {_n(cy + 4)}" fill="none" '
                          f'stroke="#222"/>')
                    else:
                        a(f'<line class="whisker" x1="{_n(wx)}" x2="{_n(wx)}" '
                          f'y1="{_n(cy - 4)}" y2="{_n(cy + 4)}" stroke="#222"/>')
            if kind == "dots":
                a(f'<circle class="dot {g.css}" fill="{color}" stroke="#222" cx="{_n(vx)}" '
                  f'cy="{_n(cy)}" r="4.5"><title>{escape(g.title)}: {escape(c.text)}</title>'
                  f'</circle>')
            a(f'<text class="val" x="{_n(VAL_X + (8 if c.open_hi else 0))}" y="{_n(cy + 4)}">'
              f'{escape(_clip(c.text, 30))}</text></g>')
            y += bar_h + BAR_GAP
        y += BLOCK_GAP - BAR_GAP
    a("</svg>")
    return Markup("".join(out))


def flow_chart(groups: list[Group], started: dict[str, float], completed: dict[str, float],
               anchor: str) -> Markup | None:
    """One bar per group: completed (filled) out of started (outline)."""
    rows = [(g, started.get(g.id), completed.get(g.id)) for g in groups]
    rows = [(g, s, c) for g, s, c in rows if s]
    if not rows:
        return None
    height = TOP + len(rows) * (BAR_H + BAR_GAP) + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="rchart rchart-flow" '
           f'viewBox="0 0 {_n(W)} {_n(height)}" width="{_n(W)}" height="{_n(height)}" '
           f'role="img" aria-labelledby="t-{anchor}" font-size="12" '
           f'font-family="system-ui, sans-serif"><title id="t-{anchor}">'
           f'Participants completing, per group</title>']
    lab_r = _label_width(g.title for g, _, _ in rows)
    labels = _clip_all([g.title for g, _, _ in rows], 28)
    x0 = lab_r + 8.0
    y = TOP
    for g, s, c in rows:
        cy = y + BAR_H / 2
        done = min(max((c or 0.0) / s, 0.0), 1.0)
        out.append(
            f'<text class="glabel" x="{_n(lab_r)}" y="{_n(cy + 4)}" text-anchor="end">'
            f'<title>{escape(g.title)}</title>{escape(labels[g.title])}</text>'
            f'<rect class="flow-all" x="{_n(x0)}" y="{_n(y)}" width="{_n(X1 - x0)}" '
            f'height="{_n(BAR_H)}" fill="#eee" stroke="#999"/>'
            f'<rect class="flow-done {g.css}" fill="{PALETTE[g.color % len(PALETTE)]}" '
            f'x="{_n(x0)}" y="{_n(y)}" width="{_n((X1 - x0) * done)}" height="{_n(BAR_H)}"/>'
            f'<text class="val" x="{_n(VAL_X)}" y="{_n(cy + 4)}">{fmt(c or 0.0)} of {fmt(s)} '
            f'completed ({pct_text(c or 0.0, s)})</text>')
        y += BAR_H + BAR_GAP
    out.append("</svg>")
    return Markup("".join(out))
