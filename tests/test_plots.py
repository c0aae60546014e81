"""The SVG charts, parsed back: points where the values put them, labels kept as text."""

import xml.etree.ElementTree as ET

import pytest

from debate.analysis.metrics import RoundStats, Summary
from debate.analysis.plots import Point, line_chart, scatter_chart
from debate.analysis.report import accuracy_chart

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg):
    root = ET.fromstring(svg)
    rect = root.find("s:rect[@class='plot-area']", NS)
    area = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
    points = {c.find("s:title", NS).text: (float(c.get("cx")), float(c.get("cy")))
              for c in root.iterfind(".//s:circle[@class='point']", NS)}
    return root, area, points


def assert_points(points, expected):
    """Same points (by title), each coordinate within 0.01 px (coordinates are rounded)."""
    assert sorted(points) == sorted(expected)
    for name, xy in expected.items():
        assert points[name] == pytest.approx(xy, abs=0.01), name


def test_line_chart_puts_each_point_on_its_round_and_percentage():
    svg = line_chart({"majority": [(0, 50.0), (1, None), (2, 100.0)],
                      "mean agent": [(0, 25.0), (1, 50.0), (2, 75.0)]},
                     title="t", x_label="round", y_label="accuracy", y_range=(0, 100),
                     y_suffix="%")
    root, (left, top, width, height), points = parse(svg)
    # x: round 0 on the left edge, round 2 on the right edge, round 1 halfway;
    # y: 0% on the bottom edge (top + height), 100% on the top edge, 25% a quarter up
    bottom = top + height
    assert_points(points, {
        "majority: 0, 50%": (left, bottom - height / 2),
        "majority: 2, 100%": (left + width, top),  # round 1 is n/a: left out
        "mean agent: 0, 25%": (left, bottom - height / 4),
        "mean agent: 1, 50%": (left + width / 2, bottom - height / 2),
        "mean agent: 2, 75%": (left + width, bottom - 3 * height / 4),
    })
    # the n/a round breaks the majority's line: only the mean agent's line is drawn
    (line,) = root.iterfind(".//s:polyline", NS)
    drawn = [tuple(map(float, xy.split(","))) for xy in line.get("points").split()]
    assert drawn == [points["mean agent: 0, 25%"], points["mean agent: 1, 50%"],
                     points["mean agent: 2, 75%"]]  # the same rounded numbers
    ticks = {t.text for t in root.iterfind("s:text", NS)}
    assert {"0%", "20%", "100%", "0", "1", "2"} <= ticks


def test_labels_stay_text():
    nasty = 'run <script>alert(1)</script> & "x"\x01'
    svg = line_chart({nasty: [(0, 1.0)]}, title=nasty, x_label=nasty, y_label="y")
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    root = ET.fromstring(svg)  # still well-formed: the control character was dropped
    texts = [t.text for t in root.iterfind(".//s:text", NS)]
    assert texts.count('run <script>alert(1)</script> & "x"') == 3  # title, x label, legend
    assert root.find("s:title", NS).text == 'run <script>alert(1)</script> & "x"'
    scatter = scatter_chart([Point("<b>&", 1, 0.5)], title="t", x_label="x", y_label="y")
    assert "<b>" not in scatter and "<b>&" in [t.text for t in ET.fromstring(
        scatter).iterfind(".//s:text", NS)]


def test_scatter_chart_from_zero_compute_with_intervals():
    svg = scatter_chart([Point("a", 3, 50.0, 20.0, 80.0), Point("b", 9, 75.0),
                         Point("no gold", 1, None)],
                        title="t", x_label="calls per debate", y_label="accuracy",
                        y_range=(0, 100), y_suffix="%")
    root, (left, top, width, height), points = parse(svg)
    # x from 0 to 9 * 1.08 = 9.72 (room for the largest point); y from 0% to 100%
    assert_points(points, {
        "a: 3, 50%": (left + width * 3 / 9.72, top + height / 2),
        "b: 9, 75%": (left + width * 9 / 9.72, top + height / 4),
    })  # "no gold" has no accuracy: left out
    (bar,) = root.iterfind(".//s:line[@class='interval']", NS)  # a's 20%-80%
    assert [float(bar.get(k)) for k in ("y1", "y2")] == pytest.approx(
        [top + 0.8 * height, top + 0.2 * height])
    texts = [t.text for t in root.iterfind("s:text", NS)]
    assert "a" in texts and "b" in texts and "no gold" not in texts
    assert {"0", "2", "4", "6", "8"} <= set(texts)  # x ticks: steps of 2


def test_the_reports_chart_shows_majority_and_mean_agent_accuracy_per_round():
    summary = Summary(run="runs/x", rounds=[
        RoundStats(round=0, debates=2, majority_accuracy=0.5, agent_accuracy=0.25),
        RoundStats(round=1, debates=1, majority_accuracy=None, agent_accuracy=1.0)])
    root, (left, top, width, height), points = parse(accuracy_chart(summary))
    assert_points(points, {
        "majority vote: 0, 50%": (left, top + height / 2),
        "mean agent: 0, 25%": (left, top + 3 * height / 4),
        "mean agent: 1, 100%": (left + width, top),
    })
    assert root.find("s:title", NS).text == "accuracy per round: x"
