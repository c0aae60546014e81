"""Small charts as standalone SVG text: no plotting library, nothing to install.

Two kinds, enough for debate results: :func:`line_chart` (accuracy per round)
and :func:`scatter_chart` (accuracy against compute, one labelled point per
run). The SVG is built with :mod:`xml.etree.ElementTree`, so every label is
XML-escaped (a run named ``<script>&`` stays text) and characters XML cannot
carry are dropped. A value of ``None`` (n/a) is left out, never drawn as 0.

Geometry, for readers of the SVG (and tests): the plotting area is the
``rect`` with ``class="plot-area"``; each data point is a ``circle`` with
``class="point"`` and a ``title`` naming it; ``y_range[0]`` lies on the area's
bottom edge and ``y_range[1]`` on its top edge.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import NamedTuple

__all__ = ["SVG_MARKERS", "Point", "line_chart", "scatter_chart"]

WIDTH, HEIGHT = 560, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 56, 52
"""Margins around the plotting area (the legend is a row above it, under the title)."""
SVG_MARKERS = ('data-generator="debatelab"',
               '<svg xmlns="http://www.w3.org/2000/svg" width="560" height="320" viewBox="0 0 560 '
               '320" font-family="sans-serif" font-size="12"><title>')
"""What marks an SVG file debatelab wrote (the second: the start of those written before the
first was added), so a command may replace it (:func:`debate.files.check_output_file`)."""
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Point(NamedTuple):
    """One labelled point of a scatter chart; ``low``/``high``: an interval drawn as a bar."""

    label: str
    x: float
    y: float | None
    low: float | None = None
    high: float | None = None


def _text(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[low, high]``."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(i * step, 10) for i in range(first, math.floor(high / step + 1e-9) + 1)]


def _label(value: float, suffix: str) -> str:
    return f"{value:g}{suffix}"


class _Frame:
    """Scales from data to pixels, and the chart's axes, title and labels."""

    def __init__(self, title: str, x_label: str, y_label: str,
                 x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.svg = ET.Element("svg", {
            "xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(HEIGHT),
            "viewBox": f"0 0 {WIDTH} {HEIGHT}", "font-family": "sans-serif", "font-size": "12",
            "data-generator": "debatelab"})
        ET.SubElement(self.svg, "title").text = _text(title)
        ET.SubElement(self.svg, "rect", width=str(WIDTH), height=str(HEIGHT), fill="white")
        self.text(WIDTH / 2, 22, title, anchor="middle", size="15")
        self.text(LEFT + (WIDTH - LEFT - RIGHT) / 2, HEIGHT - 12, x_label, anchor="middle")
        label = self.text(16, TOP + (HEIGHT - TOP - BOTTOM) / 2, y_label, anchor="middle")
        label.set("transform", f"rotate(-90 16 {TOP + (HEIGHT - TOP - BOTTOM) / 2:g})")
        ET.SubElement(self.svg, "rect", {
            "class": "plot-area", "x": str(LEFT), "y": str(TOP),
            "width": str(WIDTH - LEFT - RIGHT), "height": str(HEIGHT - TOP - BOTTOM),
            "fill": "none", "stroke": "#888"})

    def x(self, value: float) -> float:
        span = self.x1 - self.x0
        share = 0.5 if span == 0 else (value - self.x0) / span
        return round(LEFT + share * (WIDTH - LEFT - RIGHT), 2)

    def y(self, value: float) -> float:
        span = self.y1 - self.y0
        share = 0.5 if span == 0 else (value - self.y0) / span
        return round(HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM), 2)

    def text(self, x: float, y: float, content: object, anchor: str = "start",
             size: str | None = None) -> ET.Element:
        attributes = {"x": f"{x:g}", "y": f"{y:g}", "text-anchor": anchor}
        if size:
            attributes["font-size"] = size
        element = ET.SubElement(self.svg, "text", attributes)
        element.text = _text(content)
        return element

    def axes(self, x_ticks: Sequence[float], y_suffix: str, x_suffix: str = "") -> None:
        for value in _ticks(self.y0, self.y1):
            y = self.y(value)
            ET.SubElement(self.svg, "line", x1=str(LEFT), x2=str(WIDTH - RIGHT), y1=f"{y:g}",
                          y2=f"{y:g}", stroke="#e5e5e5")
            self.text(LEFT - 6, y + 4, _label(value, y_suffix), anchor="end")
        for value in x_ticks:
            self.text(self.x(value), HEIGHT - BOTTOM + 16, _label(value, x_suffix),
                      anchor="middle")

    def point(self, x: float, y: float, colour: str, title: str) -> None:
        circle = ET.SubElement(self.svg, "circle", {"class": "point", "cx": f"{self.x(x):g}",
                                                    "cy": f"{self.y(y):g}", "r": "4",
                                                    "fill": colour})
        ET.SubElement(circle, "title").text = _text(title)

    def render(self) -> str:
        return ET.tostring(self.svg, encoding="unicode") + "\n"


def _range(values: Sequence[float], given: tuple[float, float] | None) -> tuple[float, float]:
    if given is not None:
        return given
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def line_chart(series: Mapping[str, Sequence[tuple[float, float | None]]], *, title: str,
               x_label: str, y_label: str, y_range: tuple[float, float] | None = None,
               y_suffix: str = "") -> str:
    """Lines through ``(x, y)`` points, one per named series, with a legend; SVG text.

    A ``None`` value is left out and breaks its line (no line is drawn across a gap).
    X ticks are the distinct x values (rounds); ``y_suffix`` follows each y tick ("%").
    """
    xs = sorted({x for points in series.values() for x, _ in points})
    ys = [y for points in series.values() for _, y in points if y is not None]
    frame = _Frame(title, x_label, y_label, (xs[0], xs[-1]) if xs else (0.0, 1.0),
                   _range(ys, y_range))
    frame.axes(xs, y_suffix)
    legend_x: float = LEFT
    for index, (name, points) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        segments: list[list[str]] = [[]]
        for x, y in sorted(points, key=lambda p: p[0]):
            if y is None:
                segments.append([])
                continue
            segments[-1].append(f"{frame.x(x):g},{frame.y(y):g}")
            frame.point(x, y, colour, f"{name}: {_label(x, '')}, {_label(y, y_suffix)}")
        for segment in segments:
            if len(segment) > 1:
                ET.SubElement(frame.svg, "polyline", {"class": "line", "points": " ".join(
                    segment), "fill": "none", "stroke": colour, "stroke-width": "2"})
        ET.SubElement(frame.svg, "line", {
            "x1": f"{legend_x:g}", "x2": f"{legend_x + 18:g}", "y1": str(TOP - 14),
            "y2": str(TOP - 14), "stroke": colour, "stroke-width": "2"})
        frame.text(legend_x + 22, TOP - 10, name)
        legend_x += 40 + 7 * len(name)  # about 7 px a character at 12 px
    return frame.render()


def scatter_chart(points: Sequence[Point], *, title: str, x_label: str, y_label: str,
                  y_range: tuple[float, float] | None = None, y_suffix: str = "") -> str:
    """One labelled point per item (its interval as a vertical bar, when given); SVG text.

    A point whose ``y`` is ``None`` is left out. The x axis starts at 0 (compute is
    compared from nothing) and ends a little past the largest x.
    """
    shown = [p for p in points if p.y is not None]
    ys = [v for p in shown for v in (p.y, p.low, p.high) if v is not None]
    top = max((p.x for p in shown), default=1.0) or 1.0
    x_ticks = _ticks(0.0, top)
    frame = _Frame(title, x_label, y_label, (0.0, max(top * 1.08, x_ticks[-1])),
                   _range(ys, y_range))
    frame.axes(x_ticks, y_suffix)
    for index, p in enumerate(shown):
        assert p.y is not None
        colour = COLOURS[index % len(COLOURS)]
        if p.low is not None and p.high is not None:
            ET.SubElement(frame.svg, "line", {
                "class": "interval", "x1": f"{frame.x(p.x):g}", "x2": f"{frame.x(p.x):g}",
                "y1": f"{frame.y(p.low):g}", "y2": f"{frame.y(p.high):g}", "stroke": colour})
        frame.point(p.x, p.y, colour, f"{p.label}: {_label(p.x, '')}, {_label(p.y, y_suffix)}")
        right_half = frame.x(p.x) > LEFT + (WIDTH - LEFT - RIGHT) / 2  # label inward
        frame.text(frame.x(p.x) + (-7 if right_half else 7), frame.y(p.y) - 6, p.label,
                   anchor="end" if right_half else "start")
    return frame.render()
