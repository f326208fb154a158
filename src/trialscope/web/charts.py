"""Server-rendered, accessible SVG bar charts (no JavaScript, styled by static CSS)."""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, int, str | None]], *, width: int = 640) -> Markup:
    """Horizontal bars. rows: (label, value, link or None). Labels and values are drawn as text."""
    bar_h, gap, label_w, value_w, top = 22, 8, 250, 64, 8
    height = top + len(rows) * (bar_h + gap) + 4
    peak = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_w - value_w
    total = sum(v for _, v, _ in rows)
    desc = "; ".join(f"{lab}: {v:,}" for lab, v, _ in rows) or "no data"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for i, (lab, value, link) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(2, round(span * value / peak)) if value else 0
        short = lab if len(lab) <= 32 else lab[:31] + "…"
        pct = f" ({100 * value / total:.0f}%)" if total else ""
        bar = (f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{bar_h}" rx="3">'
               f"<title>{escape(lab)}: {value:,}{pct}</title></rect>")
        text = (f'<text class="lab" x="{label_w - 8}" y="{y + bar_h / 2}" text-anchor="end" '
                f'dominant-baseline="central">{escape(short)}</text>')
        if link:
            text = f'<a href="{escape(link)}">{text}</a>'
            bar = f'<a href="{escape(link)}">{bar}</a>'
        parts.append(
            f"<g>{text}{bar}"
            f'<text class="val" x="{label_w + w + 6}" y="{y + bar_h / 2}" dominant-baseline="central">{value:,}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
