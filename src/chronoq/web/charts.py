"""Charts drawn on the server as inline SVG: no chart library in the browser, no
script, nothing the Content-Security-Policy has to allow. Colors come from CSS
classes (chronoq.css), so the markup carries no style attribute."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape


def _points(values: Sequence[float], width: float, height: float, top: float) -> list[str]:
    n = len(values)
    peak = max(max(values, default=0.0), 1e-9)
    step = width / max(n - 1, 1)
    return [
        f"{i * step:.1f},{height - (v / peak) * (height - top):.1f}" for i, v in enumerate(values)
    ]


def sparkline(
    values: Sequence[float], label: str = "", width: int = 160, height: int = 32
) -> Markup:
    """A small line of `values` (oldest first), its area shaded."""
    if not values:
        values = [0.0]
    points = _points(values, width, height - 1, 2)
    area = f"0,{height} " + " ".join(points) + f" {width},{height}"
    title = escape(label)
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        f'<polygon class="spark-area" points="{area}"/>'
        f'<polyline class="spark-line" points="{" ".join(points)}"/></svg>'
    )


def line_chart(
    title: str,
    starts: Sequence[datetime],
    lines: Sequence[tuple[str, Sequence[float]]],
    unit: str = "",
    *,
    width: int = 720,
    height: int = 200,
) -> Markup:
    """A chart of one or more lines (name, values) over the same `starts`, with the
    peak and the range's ends labelled."""
    left, bottom, top = 48, 22, 24
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((max(v, default=0.0) for _, v in lines), default=0.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text class="chart-title" x="{left}" y="14">{escape(title)}</text>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">'
        f"{_number(peak)}{escape(unit)}</text>",
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    if starts:
        first, last = starts[0], starts[-1]
        parts.append(f'<text class="tick" x="{left}" y="{height - 6}">{_stamp(first, last)}</text>')
        parts.append(
            f'<text class="tick" x="{left + plot_w}" y="{height - 6}" text-anchor="end">'
            f"{_stamp(last, first)}</text>"
        )
    for i, (name, values) in enumerate(lines):
        scaled = [v / peak if peak else 0.0 for v in values]
        pts = _points(scaled, plot_w, plot_h, 0)
        shifted = " ".join(
            f"{float(x) + left:.1f},{float(y) + top:.1f}" for x, y in (p.split(",") for p in pts)
        )
        parts.append(f'<polyline class="series s{i}" points="{shifted}"/>')
        parts.append(
            f'<text class="legend s{i}" x="{left + 160 + i * 120}" y="14">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _stamp(moment: datetime, other: datetime) -> str:
    span = abs((moment - other).total_seconds())
    return moment.strftime("%H:%M" if span < 86400 else "%m-%d %H:%M")
