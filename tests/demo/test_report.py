"""Report pieces: figures are valid inline SVG / PNG, the page is self-contained and shows every section."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from languagebind.demo import figures
from languagebind.demo.html import Example, ReportInputs, Result, build_report
from languagebind.demo.table import format_table

# Chromium headless in a container, as root and offline: no sandbox, no GPU, nothing fetched in the background;
# each run gets a new empty profile (--user-data-dir).
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def sample_metrics() -> dict:
    zero = {m: {"top1": 0.97, "chance": 0.1, "n": 600} for m in ("video", "audio")}
    retrieval = {f"text->{m}": {"R@1": 0.2, "R@5": 0.6, "R@10": 0.8, "attribute_precision@1": 0.7, "chance": 0.01,
                                "chance_R@1": 1 / 600, "chance_R@5": 5 / 600, "chance_R@10": 10 / 600, "n": 600}
                 for m in ("video", "audio")}
    emergent = {name: {"precision@1": 0.95, "chance": 0.1, "n": 600, "shared_attributes": ["category", "count"],
                       "shared_attribute_precision@1": 0.4, "shared_attribute_chance": 0.03}
                for name in ("video->audio", "audio->video")}
    comp = {m: {"top1": 0.3, "chance": 0.02, "n": 400, "labels": 50} for m in ("video", "audio")}
    return {"zero_shot": zero, "retrieval": retrieval, "emergent": emergent, "compositional": comp,
            "seconds": {"data": 30.0, "train": 300.0, "eval": 20.0}}


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_figures_are_valid_svg_and_png() -> None:
    svg = figures.line_chart({"video": np.linspace(5, 1, 400), "audio": [4.0, 3.0, 2.5]}, title="loss")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) == 2
    ET.fromstring(figures.bar_chart({"a": (0.9, 0.1), "b": (0.2, 0.5)}))
    heat = decode_png(figures.heatmap(np.eye(10), cell=3))
    assert heat.size == (30, 30)
    video = decode_png(figures.thumbnail("video", np.random.default_rng(0).standard_normal((3, 4, 16, 16))))
    assert video.size[0] == 4 * video.size[1]  # frames side by side
    modes = {"audio": ((3, 32, 64), "RGB"), "depth": ((3, 16, 16), "RGB"), "thermal": ((3, 16, 16), "L"),
             "image": ((3, 16, 16), "RGB")}
    for m, (shape, mode) in modes.items():
        assert decode_png(figures.thumbnail(m, np.zeros(shape))).mode == mode


def test_colormap_ends() -> None:
    ramp = figures.colormap(np.array([0.0, 1.0, 2.0, -1.0]))
    assert ramp.dtype == np.uint8 and tuple(ramp[0]) == (68, 1, 84) and tuple(ramp[1]) == (253, 231, 37)
    assert tuple(ramp[2]) == tuple(ramp[1]) and tuple(ramp[3]) == tuple(ramp[0])  # clipped


def test_report_is_self_contained_and_has_every_section() -> None:
    thumb = figures.thumbnail("image", np.zeros((3, 8, 8)))
    inputs = ReportInputs(histories={"video": [3.0, 2.0, 1.0]},
                          heatmaps=[("EMERGENT video x audio", figures.heatmap(np.eye(4)), "blocks")],
                          examples=[Example('text -> video: "a video of a ball"', [Result(thumb, "a ball", True),
                                                                                 Result(thumb, "a cube", False)])])
    page = build_report(sample_metrics(), inputs)
    for section in ("Results", "Emergent cross-modal retrieval", "Training", "Similarity matrices",
                    "Retrieval examples", "Printed table"):
        assert f">{section}<" in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert 'class="hit"' in page and 'class="miss"' in page


def test_table_shows_chance_beside_every_number() -> None:
    table = format_table(sample_metrics())
    assert "0.970 (0.100)" in table and "video->audio" in table and "0.950 (0.100)" in table
    assert "targets: all met" in table and "seconds: data 30, train 300, eval 20" in table
    worse = sample_metrics()
    worse["zero_shot"]["audio"]["top1"] = 0.5
    assert "NOT met: zero-shot audio 0.500 < 0.95" in format_table(worse)


def test_report_renders_in_headless_chromium(tmp_path) -> None:
    """The page opens in a real browser and every figure shows: each <img> and <svg> gets a rendered box, and the
    screenshot is not blank."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.fail("no Chromium on PATH: this test needs a real browser (Debian: apt-get install chromium)",
                    pytrace=False)
    thumb = figures.thumbnail("image", np.random.default_rng(0).standard_normal((3, 8, 8)))
    inputs = ReportInputs(histories={"video": [3.0, 2.0, 1.0], "audio": [2.5, 1.5, 1.0]},
                          heatmaps=[("EMERGENT video x audio", figures.heatmap(np.eye(4)), "blocks")],
                          examples=[Example('text -> video: "a ball"', [Result(thumb, "a ball", True)])])
    page = tmp_path / "report.html"
    # a script that writes, for every figure, whether it has a rendered size (images also: decoded)
    probe = """<script>window.addEventListener('load', () => { const rows = [];
      document.querySelectorAll('img').forEach(i => rows.push(i.complete && i.naturalWidth > 0 && i.width > 0));
      document.querySelectorAll('svg').forEach(s => rows.push(s.getBoundingClientRect().width > 0));
      document.body.setAttribute('data-figures', rows.map(Number).join('')); });</script>"""
    page.write_text(build_report(sample_metrics(), inputs).replace("</body>", probe + "</body>"))
    flags = [*HEADLESS, "--virtual-time-budget=5000"]
    dom = subprocess.run([browser, *flags, f"--user-data-dir={tmp_path / 'dom'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-figures="([01]+)"', dom)
    assert found and set(found.group(1)) == {"1"} and len(found.group(1)) >= 3
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--user-data-dir={tmp_path / 'shot'}", f"--screenshot={shot}",
                    "--window-size=1200,2400", page.as_uri()], capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10  # not a blank page
