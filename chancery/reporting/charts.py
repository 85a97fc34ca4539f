"""Charts drawn on the server (SVG for PDF and pages, PNG for DOCX) from the same numbers as
the browser charts: a chart is a `BarChart` (categories × series), drawn by one layout
function that both back-ends follow, so the PDF, the DOCX and the page cannot disagree."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

PALETTE = ["#1f4e79", "#7fa7d1", "#c0504d", "#9bbb59", "#8064a2", "#f79646"]
STATUS_COLOURS = {"on_track": "#2e7d32", "at_risk": "#f9a825", "off_track": "#c62828", "no_data": "#9e9e9e"}


@dataclass
class BarChart:
    title: str
    categories: list[str]
    series: list[tuple[str, list[float]]]  # (legend, one value per category)
    stacked: bool = False
    colours: list[str] | None = None

    def colour(self, index: int) -> str:
        colours = self.colours or PALETTE
        return colours[index % len(colours)]


def _short(label: str, limit: int = 30) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _value(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def to_html(chart: BarChart) -> str:
    """The chart as HTML bars, for WeasyPrint only (it lays out HTML text with full shaping and
    bidi, which its SVG text does not: Arabic labels stay readable). Uses inline widths, so
    never for a page served to a browser (the CSP forbids style attributes there)."""
    peak = 0.0
    for i in range(len(chart.categories)):
        values = [max(v[i], 0) if i < len(v) else 0 for _n, v in chart.series]
        peak = max(peak, sum(values) if chart.stacked else max(values, default=0))
    peak = peak or 1.0
    rows = []
    for i, label in enumerate(chart.categories):
        bars = []
        for s, (_name, values) in enumerate(chart.series):
            value = max(values[i], 0) if i < len(values) else 0
            width = 100 * value / peak
            bar = f'<span class="hbar" style="width:{width:.2f}%;background:{escape(chart.colour(s))}"></span>'
            if chart.stacked:
                bars.append(bar)
            else:
                bars.append(f'<div class="hbar-line">{bar}<span class="hbar-value">{_value(value)}</span></div>')
        inner = f'<div class="hbar-stack">{"".join(bars)}</div>' if chart.stacked else "".join(bars)
        rows.append(f'<tr><th scope="row">{escape(_short(label, 40))}</th><td>{inner}</td></tr>')
    return f'<table class="hchart">{"".join(rows)}</table>'


def swatch(colour: str) -> str:
    """A small colour square for an HTML legend (an SVG: the CSP forbids style attributes)."""
    return (
        f'<svg width="10" height="10" aria-hidden="true" class="legend-swatch"><rect width="10" height="10" '
        f'fill="{escape(colour)}"/></svg>'
    )


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float
    colour: str
    value: float = 0.0


def _layout(chart: BarChart, width: int, height: int) -> tuple[list[_Box], float, float, float, float]:
    """Bars in pixels: (boxes, plot left, plot top, plot width, plot height)."""
    left, top, right, bottom = 190.0, 30.0, 50.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(chart.categories), 1)
    if chart.stacked:
        peak = max((sum(max(s[1][i], 0) for s in chart.series) for i in range(len(chart.categories))), default=0)
    else:
        peak = max((max(v, 0) for _, values in chart.series for v in values), default=0)
    peak = peak or 1.0
    band = plot_h / n
    boxes: list[_Box] = []
    for i in range(len(chart.categories)):
        y0 = top + i * band + band * 0.15
        inner = band * 0.7
        offset = 0.0
        for s, (_legend, values) in enumerate(chart.series):
            value = max(values[i], 0) if i < len(values) else 0
            w = plot_w * value / peak
            if chart.stacked:
                boxes.append(_Box(left + offset, y0, w, inner, chart.colour(s), value))
                offset += w
            else:
                h = inner / max(len(chart.series), 1)
                boxes.append(_Box(left, y0 + s * h, w, h, chart.colour(s), value))
    return boxes, left, top, plot_w, plot_h


def to_svg(chart: BarChart, *, width: int = 640, height: int | None = None, titled: bool = True) -> str:
    """The chart as SVG; `titled=False` leaves the visible title and legend to the page (HTML
    shapes right-to-left scripts properly, SVG text in a PDF does not)."""
    height = height or max(120, 40 + 28 * max(len(chart.categories), 1) + 40)
    boxes, left, top, _plot_w, plot_h = _layout(chart, width, height)
    band = plot_h / max(len(chart.categories), 1)
    label = escape(chart.title, {'"': "&quot;"})
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}" font-family="DejaVu Sans, sans-serif" font-size="11" '
        # Laid out left to right in pixels: an Arabic (RTL) page must not flip its text anchors.
        'direction="ltr">',
        f"<title>{escape(chart.title)}</title>",
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#666"/>',
    ]
    if titled:
        parts.append(f'<text x="{left}" y="16" font-size="12" font-weight="bold">{escape(chart.title)}</text>')
    for i, label in enumerate(chart.categories):
        y = top + i * band + band / 2 + 4
        parts.append(f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end">{escape(_short(label))}</text>')
    for box in boxes:
        parts.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" fill="{box.colour}"/>'
        )
        if not chart.stacked:  # the number itself beside its bar
            parts.append(
                f'<text x="{box.x + box.w + 3:.1f}" y="{box.y + box.h / 2 + 4:.1f}" font-size="9">'
                f"{_value(box.value)}</text>"
            )
    x = left
    for s, (legend, _values) in enumerate(chart.series if titled else []):
        parts.append(f'<rect x="{x:.1f}" y="{height - 18}" width="10" height="10" fill="{chart.colour(s)}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{height - 9}">{escape(legend)}</text>')
        x += 24 + 7 * len(legend)
    parts.append("</svg>")
    return "".join(parts)


def to_png(chart: BarChart, *, width: int = 640, height: int | None = None) -> bytes:
    """The same chart as a PNG (for DOCX, which does not take SVG)."""
    from PIL import Image, ImageDraw, ImageFont

    height = height or max(120, 40 + 28 * max(len(chart.categories), 1) + 40)
    boxes, left, top, _plot_w, plot_h = _layout(chart, width, height)
    band = plot_h / max(len(chart.categories), 1)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font: Any
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 11)
    except OSError:  # pragma: no cover - fonts missing
        font = ImageFont.load_default()
    draw.text((left, 4), chart.title, fill="black", font=font)
    draw.line([(left, top), (left, top + plot_h)], fill="#666666")
    for i, label in enumerate(chart.categories):
        text = _short(label)
        w = draw.textlength(text, font=font)
        draw.text((left - 6 - w, top + i * band + band / 2 - 6), text, fill="black", font=font)
    for box in boxes:
        if box.w > 0:
            draw.rectangle([box.x, box.y, box.x + box.w, box.y + box.h], fill=box.colour)
        if not chart.stacked:
            draw.text((box.x + box.w + 3, box.y + box.h / 2 - 6), _value(box.value), fill="black", font=font)
    x = left
    for s, (legend, _values) in enumerate(chart.series):
        draw.rectangle([x, height - 18, x + 10, height - 8], fill=chart.colour(s))
        draw.text((x + 14, height - 20), legend, fill="black", font=font)
        x += 24 + 7 * len(legend)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
