"""The Monitoring page's drifted-share chart over several drift reports of one environment."""

from __future__ import annotations

import csv
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import REPO, Client, mlform

SVG = "{http://www.w3.org/2000/svg}"
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def write_live(project: Path, shifted: tuple[str, ...]) -> None:
    """The live data: the training rows, with `shifted` features moved far outside their range (those drift)."""
    with (project / "data" / "iris.csv").open(newline="") as source:
        rows = list(csv.DictReader(source))
    for row in rows:
        for name in shifted:
            row[name] = str(float(row[name]) + 50)
    with (project / "data" / "live.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_chart_draws_one_point_per_report_in_time_order(tmp_path: Path) -> None:
    from mlform.compiler.ui.app import create_app

    project = tmp_path / "iris"
    shutil.copytree(REPO / "examples" / "iris", project, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    # each report's share is known by construction: none of 4 features drifts, then one, then all four
    for shifted in ((), FEATURES[-1:], FEATURES):  # the first run trains the model the later ones reuse
        write_live(project, shifted)
        mlform("monitor", project / "mlform.yaml", "--env", "dev", cwd=tmp_path)

    page = Client(create_app(tmp_path)).get("/monitoring").text
    (markup,) = re.findall(r"<svg class=\"chart\".*?</svg>", page, re.DOTALL)
    chart = ET.fromstring(markup)
    circles = chart.findall(f"{SVG}circle")
    assert len(circles) == 3  # one point per report, none twice
    xs = [float(c.attrib["cx"]) for c in circles]
    ys = [float(c.attrib["cy"]) for c in circles]
    labels = [(c.findtext(f"{SVG}title") or "").rsplit(": ", 1) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    times = [label for label, _ in labels]
    assert times == sorted(times)  # left to right is earliest to latest (to the second)
    assert [float(value) for _, value in labels] == [0.0, 0.25, 1.0]  # the order the reports were made in
    assert ys[0] > ys[1] > ys[2]  # a larger share is drawn higher (SVG's y grows downwards)
    (line,) = chart.findall(f"{SVG}path")
    vertices = [tuple(map(float, p.split(","))) for p in re.findall(r"[ML]([\d.]+,[\d.]+)", line.attrib["d"])]
    assert vertices == list(zip(xs, ys, strict=True))  # the line joins the points in that order
