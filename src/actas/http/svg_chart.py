"""A horizontal bar chart as an inline SVG element, written server-side.

Hand-written rather than matplotlib: a dozen lines of SVG need no plotting stack, render the
same everywhere, and carry only presentation attributes (``fill``, ``x``...), which a strict
Content-Security-Policy allows (it blocks ``style=`` attributes and scripts, not these). Every
label is XML-escaped: account ids and names come from host applications and staff."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

BAR = 18
GAP = 6
LABEL_WIDTH = 220
CHART_WIDTH = 360
COUNT_WIDTH = 60
COLOURS = ("#2f5d8a", "#4f8a5b", "#9a5b2f", "#6b4f8a")


def bar_chart(title: str, rows: list[tuple[str, int]], *, limit: int = 15, colour: int = 0) -> str:
    """``rows`` largest first; beyond ``limit`` they are summed into one line of text."""
    shown = rows[:limit]
    rest = rows[limit:]
    # Scaled to the largest single row: the remainder is a line of text, not a bar that would
    # dwarf the rows a reviewer reads.
    top = max((n for _, n in shown), default=0) or 1
    lines = len(shown) + (1 if rest else 0)
    height = 28 + lines * (BAR + GAP) + 4
    width = LABEL_WIDTH + CHART_WIDTH + COUNT_WIDTH
    fill = COLOURS[colour % len(COLOURS)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-size="14" font-weight="bold" fill="#222">{escape(title)}</text>',
    ]
    if not shown:
        parts.append('<text x="0" y="44" font-size="12" fill="#555">none</text>')
    for i, (label, count) in enumerate(shown):
        y = 28 + i * (BAR + GAP)
        length = max(1, round(CHART_WIDTH * count / top))
        short = label if len(label) <= 32 else label[:31] + "…"
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" font-size="12" text-anchor="end" '
            f'fill="#222">{escape(short)}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR}" fill="{fill}">'
            f"<title>{escape(label)}: {count}</title></rect>",
            f'<text x="{LABEL_WIDTH + length + 4}" y="{y + 13}" font-size="12" '
            f'fill="#222">{count}</text>',
        ]
    if rest:
        y = 28 + len(shown) * (BAR + GAP)
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{y + 13}" font-size="12" fill="#555">'
            f"and {len(rest)} more with {sum(n for _, n in rest)} in all (see the CSV)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
