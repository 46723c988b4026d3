"""Inline SVG charts drawn in Python: the report needs no script and no network to render.

Each chart is a `<figure class="chart" data-chart=...>`; its marks carry the class
`mark` so a test can check that every chart has drawn something. A chart without data
is a `<figure class="chart empty">` saying why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
W, H = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    dashed: bool = False


def _num(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 10_000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def empty(name: str, title: str, reason: str) -> str:
    return (
        f'<figure class="chart empty" data-chart="{escape(name)}"><figcaption>{escape(title)}'
        f'</figcaption><p class="empty">{escape(reason)}</p></figure>'
    )


def _figure(name: str, title: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    keys = "".join(
        f'<span class="key"><i style="background:{c}"></i>{escape(label)}</span>'
        for label, c in legend
    )
    return (
        f'<figure class="chart" data-chart="{escape(name)}"><figcaption>{escape(title)}'
        f'</figcaption><svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'role="img">{body}</svg>'
        + (f'<div class="legend">{keys}</div>' if keys else "")
        + "</figure>"
    )


def line_chart(
    name: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None,
    diagonal: bool = False,
) -> str:
    """Lines (with dots) over numeric x; None values break a line."""
    pts = [(x, y) for s in series for x, y in zip(s.x, s.y, strict=True) if y is not None]
    if not pts:
        return empty(name, title, "no data for this run")
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = x_range or (min(xs), max(xs))
    y0, y1 = y_range or (min(0.0, min(ys)), max(ys))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def py(y: float) -> float:
        return H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM)

    out = [_axes(px, py, x_ticks or [(t, _num(t)) for t in _ticks(x0, x1)], _ticks(y0, y1))]
    if diagonal:
        out.append(
            f'<line class="ref" x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" '
            f'y2="{py(y1):.1f}" stroke="#999" stroke-dasharray="4 4"/>'
        )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        d, pen = [], "M"
        for x, y in zip(s.x, s.y, strict=True):
            if y is None:
                pen = "M"
                continue
            d.append(f"{pen}{px(x):.1f},{py(y):.1f}")
            pen = "L"
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(
            f'<path class="mark series" d="{" ".join(d)}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash}><title>{escape(s.label)}</title></path>'
        )
        if len(s.x) <= 40:
            out.extend(
                f'<circle class="mark" cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(s.label)}: {_num(y)}</title></circle>"
                for x, y in zip(s.x, s.y, strict=True)
                if y is not None
            )
    out.append(_labels(x_label, y_label))
    legend = [(s.label, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]
    return _figure(name, title, "".join(out), legend if len(series) > 1 else ())


def _axes(
    px: Callable[[float], float],
    py: Callable[[float], float],
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[float],
) -> str:
    parts = [
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#444"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#444"/>',
    ]
    for t in y_ticks:
        y = py(t)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_num(t)}</text>'
        )
    for t, label in x_ticks:
        x = px(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + 4}" '
            f'stroke="#444"/><text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return "".join(parts)


def _labels(x_label: str, y_label: str) -> str:
    return (
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle" class="axis">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {(TOP + H - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle" class="axis">{escape(y_label)}</text>'
    )


# What fits left of a bar (190 px of 11 px text): longer labels are shortened, with the
# whole label on hover.
LABEL_CHARS = 30


def fit_label(label: str, limit: int = LABEL_CHARS) -> str:
    """`label` if it fits, else its start and end around an ellipsis (ids stay readable
    at the start, the most specific words at the end)."""
    if len(label) <= limit:
        return label
    head = (limit - 1) // 2
    return f"{label[:head].rstrip()}…{label[-(limit - 1 - head) :].lstrip()}"


def bar_chart(
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    value_label: str,
    highlight: Sequence[bool] | None = None,
    threshold: float | None = None,
) -> str:
    """Horizontal bars, one per label, in the order given; highlighted bars in red."""
    if not labels:
        return empty(name, title, "no data for this run")
    row, left = 18, 190
    height = TOP + BOTTOM + row * len(labels)
    top = max([*values, threshold or 0.0, 1e-12])
    scale = (W - left - 70) / top
    out = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = TOP + i * row
        colour = "#d62728" if highlight and highlight[i] else PALETTE[0]
        out.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(fit_label(label))}'
            f"<title>{escape(label)}</title></text>"
            f'<rect class="mark bar" x="{left}" y="{y + 3}" width="{max(v * scale, 1):.1f}" '
            f'height="{row - 6}" fill="{colour}"><title>{escape(label)}: {_num(v)}</title></rect>'
            f'<text x="{left + max(v * scale, 1) + 4:.1f}" y="{y + 13}">{_num(v)}</text>'
        )
    if threshold is not None:
        x = left + threshold * scale
        out.append(
            f'<line class="ref" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - BOTTOM}" '
            f'stroke="#d62728" stroke-dasharray="4 3"><title>threshold {_num(threshold)}</title>'
            "</line>"
        )
    out.append(
        f'<text x="{(left + W) / 2}" y="{height - 14}" text-anchor="middle" class="axis">'
        f"{escape(value_label)}</text>"
    )
    body = "".join(out)
    return (
        f'<figure class="chart" data-chart="{escape(name)}"><figcaption>{escape(title)}'
        f'</figcaption><svg viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
        f'role="img">{body}</svg></figure>'
    )
