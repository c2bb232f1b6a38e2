"""A braille line chart for the terminal: series drawn as lines, point series as markers, with axes."""
from __future__ import annotations

import math

from rich.text import Text

# Braille dot bit for the (x, y) sub-pixel of a 2x4 cell.
DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def line_chart(lines: list[tuple[list[float], list[float], str]], points: list[tuple[list[float], list[float], str]],
               *, width: int = 60, height: int = 12, marker: str = "●") -> list[Text]:
    """Rows of Text: y-axis labels, braille lines (xs, ys, style), markers (xs, ys, style), an x-axis."""
    pts = [(x, y) for xs, ys, _ in lines + points for x, y in zip(xs, ys) if math.isfinite(y)]
    if not pts:
        return [Text("(no finite values to draw)")]
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pw, ph = width * 2, height * 4
    bits = [[0] * width for _ in range(height)]
    style = [[""] * width for _ in range(height)]
    chars: dict[tuple[int, int], tuple[str, str]] = {}

    def px(x: float, y: float) -> tuple[int, int]:
        return (round((x - x0) / (x1 - x0) * (pw - 1)), round((y1 - y) / (y1 - y0) * (ph - 1)))

    def dot(u: int, v: int, st: str) -> None:
        bits[v // 4][u // 2] |= DOTS[u % 2][v % 4]
        style[v // 4][u // 2] = st

    for xs, ys, st in lines:
        prev = None
        for x, y in zip(xs, ys):
            if not math.isfinite(y):
                prev = None
                continue
            cur = px(x, y)
            if prev is None:
                dot(*cur, st)
            else:
                n = max(abs(cur[0] - prev[0]), abs(cur[1] - prev[1]), 1)
                for k in range(n + 1):
                    dot(round(prev[0] + (cur[0] - prev[0]) * k / n), round(prev[1] + (cur[1] - prev[1]) * k / n), st)
            prev = cur
    for xs, ys, st in points:
        for x, y in zip(xs, ys):
            if math.isfinite(y):
                u, v = px(x, y)
                chars[(v // 4, u // 2)] = (marker, st)

    label_w = max(len(_fmt(y0)), len(_fmt(y1)), len(_fmt((y0 + y1) / 2)))
    rows = []
    for r in range(height):
        label = ""
        if r == 0:
            label = _fmt(y1)
        elif r == height - 1:
            label = _fmt(y0)
        elif r == height // 2:
            label = _fmt(y1 - (y1 - y0) * (r * 4 + 1.5) / (ph - 1))
        row = Text(f"{label:>{label_w}} {'┤' if label else '│'}")
        for c in range(width):
            if (r, c) in chars:
                row.append(*chars[(r, c)])
            elif bits[r][c]:
                row.append(chr(0x2800 + bits[r][c]), style=style[r][c])
            else:
                row.append(" ")
        rows.append(row)
    rows.append(Text(" " * label_w + " └" + "─" * width))
    left, right = _fmt(x0), _fmt(x1)
    mid = _fmt((x0 + x1) / 2)
    axis = " " * (label_w + 2) + left
    mid_at = label_w + 2 + width // 2 - len(mid) // 2
    axis = axis.ljust(mid_at) + mid
    axis = axis.ljust(label_w + 2 + width - len(right)) + right
    rows.append(Text(axis))
    return rows
